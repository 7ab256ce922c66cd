"""The shared-draw Gaussian mechanism of a grid of runs, and DP-SGD calibration both ways."""

from __future__ import annotations

import pytest
import torch

from common.privacy import (
    GaussianEvent,
    RDPAccountant,
    dp_sgd_epsilons,
    dp_sgd_event,
    dp_sgd_noise_multipliers,
    gaussian_mechanism_shared,
)


def test_shared_mechanism_is_one_draw_scaled_per_run():
    value = torch.zeros(50, 4, 3)
    gen = torch.Generator().manual_seed(0)
    noisy, events = gaussian_mechanism_shared(value, sensitivity=0.5,
                                              noise_multipliers=torch.tensor([0.0, 1.0, 2.0]),
                                              generator=gen)
    xi = torch.randn(50, 4, 1, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(noisy[..., 0], value[..., 0])  # s = 0: released unchanged
    torch.testing.assert_close(noisy[..., 1:2], 0.5 * xi)   # the stream's first draw, s C xi
    torch.testing.assert_close(noisy[..., 2], 2 * noisy[..., 1])
    assert events == [None, GaussianEvent(1.0), GaussianEvent(2.0)]


@pytest.mark.parametrize("kw,match", [
    ({"sensitivity": 0.0, "noise_multipliers": torch.ones(3)}, "sensitivity"),
    ({"sensitivity": 1.0, "noise_multipliers": torch.ones(2)}, "one per run"),
    ({"sensitivity": 1.0, "noise_multipliers": torch.tensor([1.0, -1.0, 0.0])}, ">= 0")])
def test_shared_mechanism_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        gaussian_mechanism_shared(torch.zeros(2, 3), **kw)


def test_calibration_round_trip():
    """Calibrated at epsilon 2 with the RDP accountant: RDP certifies <= 2 (never overshoots),
    the PLD accountant (tighter) certifies less, and 0.2 % less noise overshoots (rtol 1e-3)."""
    sigma = dp_sgd_noise_multipliers([2.0], 1e-5, 0.02, 100)[0]
    assert RDPAccountant().epsilon(dp_sgd_event(sigma, 0.02, 100), 1e-5) <= 2.0
    assert RDPAccountant().epsilon(dp_sgd_event(sigma * 0.998, 0.02, 100), 1e-5) > 2.0
    assert dp_sgd_epsilons([sigma], 1e-5, 0.02, 100)[0] < 2.0
    assert dp_sgd_epsilons([sigma], 1e-5, 0.02, 100, accountant="rdp")[0] == pytest.approx(
        RDPAccountant().epsilon(dp_sgd_event(sigma, 0.02, 100), 1e-5))
