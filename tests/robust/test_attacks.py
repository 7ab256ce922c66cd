from __future__ import annotations

import pytest
import torch
from scipy.stats import norm

from common.robust import ALIE, ATTACKS, IPM, GaussianAttack, Mimic, SignFlip, alie_z, flip_labels


def _msgs():
    g = torch.Generator().manual_seed(0)
    return torch.randn(20, 6, generator=g, dtype=torch.float64), torch.randn(
        5, 6, generator=g, dtype=torch.float64)


def test_ipm_is_minus_eps_times_the_honest_mean():
    honest, own = _msgs()
    out = IPM(10.0)(honest, own)
    assert out.shape == (5, 6)
    torch.testing.assert_close(out, (-10 * honest.mean(0)).expand(5, -1))
    # the aggregate of honest + IPM with the mean has a negative inner product with the truth
    agg = torch.cat([honest, IPM(10.0)(honest, own)]).mean(0)
    assert float(agg @ honest.mean(0)) < 0


def test_alie_uses_mean_minus_z_std():
    honest, own = _msgs()
    z = alie_z(25, 5)
    s = 25 // 2 + 1 - 5
    assert z == pytest.approx(norm.ppf((25 - s) / 25))
    torch.testing.assert_close(ALIE()(honest, own)[0], honest.mean(0) - z * honest.std(0))


def test_sign_flip_gaussian_mimic():
    honest, own = _msgs()
    torch.testing.assert_close(SignFlip()(honest, own), -own)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    torch.testing.assert_close(GaussianAttack(2.0)(honest, own, generator=g1),
                               GaussianAttack(2.0)(honest, own, generator=g2))
    torch.testing.assert_close(Mimic(4)(honest, own), honest[4].expand(5, -1))
    with pytest.raises(ValueError, match="target"):
        Mimic(20)(honest, own)


def test_label_flip():
    y = torch.arange(10)
    assert flip_labels(y).tolist() == list(range(9, -1, -1))
    with pytest.raises(ValueError, match="labels"):
        flip_labels(torch.tensor([10]))


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_attack_returns_f_rows_and_checks_shapes(name):
    honest, own = _msgs()
    attack = ATTACKS[name]()
    out = attack(honest, own, generator=torch.Generator().manual_seed(0))
    assert out.shape == own.shape and out.dtype == honest.dtype
    with pytest.raises(ValueError, match="own must have shape"):
        attack(honest, own[:, :3])
