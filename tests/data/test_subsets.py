"""common.data.balanced_subset: equal class counts, no repeats, seeded, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from common.data import balanced_subset


def test_balanced_subset():
    labels = np.repeat(np.arange(4), [10, 7, 12, 5])
    idx = balanced_subset(labels, 5, seed=0)
    assert np.bincount(labels[idx]).tolist() == [5, 5, 5, 5]
    assert len(set(idx.tolist())) == 20
    assert np.array_equal(idx, balanced_subset(labels, 5, seed=0))
    assert not np.array_equal(idx, balanced_subset(labels, 5, seed=1))


@pytest.mark.parametrize("kw,match", [({"per_class": 6}, "class 3 has 5"),
                                      ({"per_class": 0}, "per_class"),
                                      ({"per_class": 2, "num_classes": 5}, "class 4 has 0")])
def test_balanced_subset_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        balanced_subset(np.repeat(np.arange(4), [10, 7, 12, 5]), seed=0, **kw)
