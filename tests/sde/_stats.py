"""Statistical helpers shared by the ``tests/sde`` suites.

How the statistical checks are kept from being flaky. Every run is seeded, so a test either passes
or fails deterministically; the question is whether a *correct* implementation could fail for an
unlucky seed. Each statistical assertion is a band around a Monte Carlo estimate of
``Z_BAND = 6`` standard errors (two-sided Gaussian tail 2e-9), plus, where the compared quantities
differ by a modelling error (an SDE against its optimizer, a leading-order closed form against a
simulation), a relative allowance taken from the papers' notes and written next to the check. The
whole suite makes fewer than 300 such comparisons, so by a union bound a correct implementation
fails one with probability below 300 * 2e-9 < 1e-6. Standard errors come from independent paths:
a window statistic is first averaged over time *within* each path, then its mean and standard error
are taken *across* paths, so the time correlation of a path never enters the error estimate.
KS tests use p > 1e-8 for the same budget.
"""

from __future__ import annotations

import numpy as np

from common.metrics import window

#: half-width of every Monte Carlo band, in standard errors (module docstring)
Z_BAND = 6.0
#: KS tests reject below this p-value (module docstring)
KS_ALPHA = 1e-8


def assert_close_mc(name: str, estimate: float, se: float, target: float, rel: float) -> None:
    """|estimate - target| <= rel |target| + Z_BAND se (a bias allowance plus MC error)."""
    band = rel * abs(target) + Z_BAND * se
    assert abs(estimate - target) <= band, (
        f"{name}: {estimate:.6g} vs {target:.6g} (diff {estimate - target:+.3g}, allowed "
        f"{band:.3g} = {rel:.3g} relative + {Z_BAND} x SE {se:.2g})")


def assert_tracks(name: str, opt, sde, windows, rel: float) -> None:
    """The SDE's mean loss equals the optimizer's within ``rel`` (relative) plus MC error, on
    every window."""
    for start, stop in windows:
        a, sa = window(opt, start, stop)
        b, sb = window(sde, start, stop)
        assert_close_mc(f"{name}, steps [{start}, {stop})", b, float(np.hypot(sa, sb)), a, rel)
