from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.metrics import diverged, lr_sensitivity


def test_diverged():
    np.testing.assert_array_equal(diverged([1.0, np.nan, np.inf, 2e10, -np.inf]),
                                  [False, True, True, True, True])


def test_lr_sensitivity_by_hand():
    # l0 = 1; grid losses 0.2, 0.5, 3 (capped to 1): l* = 0.2 -> mean(0, 0.3, 0.8) = 11/30
    assert lr_sensitivity([0.2, 0.5, 3.0], 1.0) == pytest.approx(11 / 30)
    # a diverged run counts as l0
    assert lr_sensitivity([0.2, np.nan], 1.0) == pytest.approx(0.4)


@given(st.lists(st.floats(0, 10), min_size=1, max_size=12), st.floats(0.1, 10))
def test_lr_sensitivity_properties(values, l0):
    s = lr_sensitivity(values, l0)
    assert 0 <= s <= l0 + 1e-12
    assert lr_sensitivity([min(values)] * len(values), l0) == 0
    assert lr_sensitivity(values + [max(values) + 1], l0) >= 0


def test_lr_sensitivity_validates():
    with pytest.raises(ValueError):
        lr_sensitivity([], 1.0)
    with pytest.raises(ValueError):
        lr_sensitivity([1.0], float("nan"))
