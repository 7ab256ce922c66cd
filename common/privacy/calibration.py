r"""DP-SGD's privacy, both ways: the noise multiplier that reaches a target epsilon, and the
epsilon that an accountant certifies for a noise multiplier.

DP-SGD with Poisson sampling at rate ``q`` for ``T`` steps with noise multiplier ``sigma`` is the
event :func:`~common.privacy.events.dp_sgd_event` ``(sigma, q, T)`` (Abadi et al. 2016,
arXiv 1607.00133). :func:`dp_sgd_noise_multipliers` calibrates one multiplier per target epsilon
through :func:`~common.privacy.accounting.calibrate_noise_multiplier` (the smallest multiplier
whose epsilon does not exceed the target, to relative width ``rtol``);
:func:`dp_sgd_epsilons` scores given multipliers with an accountant, e.g. the PLD accountant
next to the RDP calibration, to show nominal and accounted privacy side by side (dp-sde,
arXiv 2603.03226, calibrates with the RDP accountant of the DP^2 code [secondary]).

dp-accounting logs a warning for each Renyi order it drops at small sigma (they are expected: the
orders grid is wide on purpose); :func:`quiet_dp_accounting` silences them around a call.
"""

from __future__ import annotations

import contextlib

from common.privacy.accounting import PLDAccountant, calibrate_noise_multiplier, get_accountant
from common.privacy.events import dp_sgd_event

__all__ = ["dp_sgd_noise_multipliers", "dp_sgd_epsilons", "quiet_dp_accounting"]


@contextlib.contextmanager
def quiet_dp_accounting():
    """Raise absl's log level to ERROR inside the block (dp-accounting's dropped-order warnings)."""
    try:
        from absl import logging as absl_logging
    except ImportError:  # pragma: no cover - absl comes with dp-accounting
        yield
        return
    old = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(old)


def dp_sgd_noise_multipliers(epsilons, delta: float, sampling_probability: float,
                             num_steps: int, *, accountant="rdp",
                             rtol: float = 1e-3) -> list[float]:
    """The noise multiplier of each target epsilon for ``num_steps`` Poisson-subsampled Gaussian
    steps at rate ``sampling_probability``: the upper end of the final bisection bracket, so the
    epsilon reached never exceeds the target."""
    with quiet_dp_accounting():
        return [calibrate_noise_multiplier(
            lambda s: dp_sgd_event(s, sampling_probability, num_steps), float(eps), delta,
            accountant=accountant, rtol=rtol) for eps in epsilons]


def dp_sgd_epsilons(noise_multipliers, delta: float, sampling_probability: float,
                    num_steps: int, *, accountant=None) -> list[float]:
    """The epsilon ``accountant`` certifies for each noise multiplier on the same DP-SGD event.

    Default: the PLD accountant with value discretisation 1e-3 (pessimistic, so an upper bound;
    tighter than RDP)."""
    acc = (PLDAccountant(value_discretization_interval=1e-3) if accountant is None
           else get_accountant(accountant))
    with quiet_dp_accounting():
        return [acc.epsilon(dp_sgd_event(s, sampling_probability, num_steps), delta)
                for s in noise_multipliers]
