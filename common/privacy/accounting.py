r"""Accountants, noise calibration, and the papers' nominal formulas.

**Accountants** (wrapping Google's ``dp-accounting``): :class:`RDPAccountant` (Renyi DP,
Mironov 2017; subsampled Gaussian by Mironov, Talwar, Zhang 2019, arXiv 1908.10530) and
:class:`PLDAccountant` (privacy loss distributions; tighter). Both score any
:mod:`~common.privacy.events` record: ``RDPAccountant().epsilon(event, delta)``. The default
neighbouring relation is add/remove-one record, as in DP-SGD's analysis (Abadi et al. 2016),
Opacus and dp-accounting.

**Calibration.** :func:`calibrate_noise_multiplier` finds, by bisection, the smallest noise
multiplier whose event reaches a target ``(epsilon, delta)``; the returned multiplier never
overshoots: its epsilon is ``<= target`` (the upper end of the final bracket is returned).

**Nominal formulas.** Clip21-SGD2M (arXiv 2502.11682) and Byz-Clip21-SGD2M (arXiv 2603.23472)
set the per-message noise of *local* DP by the formula of their theory,
``sigma = (tau / epsilon) * sqrt(T * log(1/delta))`` (:func:`nominal_local_sigma`), a Theta(.)
expression that does not certify (epsilon, delta). :func:`certified_local_epsilon` gives what an
accountant certifies for the same noise: T Gaussian mechanisms with L2 sensitivity ``2 tau`` under
replace-one adjacency (a clipped message lies in a tau-ball, so two clients' messages differ by at
most ``2 tau``), or ``tau`` if you state add/remove adjacency. :func:`zcdp_gaussian_epsilon` is
the closed form of the same composition through zero-concentrated DP (Bun and Steinke 2016):
``rho = T Delta^2 / (2 sigma^2)``, ``epsilon = rho + 2 sqrt(rho log(1/delta))``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from common.privacy.events import DpEvent, GaussianEvent, SelfComposedEvent, to_dp_accounting

__all__ = ["RDPAccountant", "PLDAccountant", "ACCOUNTANTS", "get_accountant",
           "calibrate_noise_multiplier", "nominal_local_sigma", "theory_local_sigma",
           "certified_local_epsilon", "zcdp_gaussian_epsilon", "check_epsilon_delta"]

#: Renyi orders: dense near 1, then integers to 256 (those of TF-Privacy / Opacus, extended).
DEFAULT_ORDERS = tuple([1 + x / 10.0 for x in range(1, 100)] + list(range(11, 64))
                       + [80, 96, 128, 192, 256, 384, 512, 1024])


def check_epsilon_delta(epsilon: float | None, delta: float | None) -> None:
    """``epsilon > 0`` (finite) and ``0 < delta < 1``, with errors naming the argument."""
    if epsilon is not None and not (epsilon > 0 and math.isfinite(epsilon)):
        raise ValueError(f"epsilon={epsilon}: must be finite and > 0")
    if delta is not None and not 0 < delta < 1:
        raise ValueError(f"delta={delta}: must be in (0, 1)")


def _neighbouring(relation: str):
    import dp_accounting

    rel = {"add_or_remove_one": dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE,
           "replace_one": dp_accounting.NeighboringRelation.REPLACE_ONE}
    if relation not in rel:
        raise ValueError(f"neighbouring={relation!r}: allowed values are {sorted(rel)}")
    return rel[relation]


@dataclass(frozen=True)
class RDPAccountant:
    """Renyi-DP accounting over ``orders`` (dp-accounting's ``RdpAccountant``)."""

    orders: Sequence[float] = DEFAULT_ORDERS
    neighbouring: str = "add_or_remove_one"

    def _accountant(self, event: DpEvent):
        from dp_accounting.rdp import RdpAccountant

        acc = RdpAccountant(list(self.orders), _neighbouring(self.neighbouring))
        acc.compose(to_dp_accounting(event))
        return acc

    def epsilon(self, event: DpEvent, delta: float) -> float:
        check_epsilon_delta(None, delta)
        return float(self._accountant(event).get_epsilon(delta))

    def delta(self, event: DpEvent, epsilon: float) -> float:
        check_epsilon_delta(epsilon, None)
        return float(self._accountant(event).get_delta(epsilon))


@dataclass(frozen=True)
class PLDAccountant:
    """Privacy-loss-distribution accounting (dp-accounting's ``PLDAccountant``).

    ``value_discretization_interval`` trades accuracy for speed; dp-accounting's discretisation
    is pessimistic, so the reported epsilon is an upper bound.
    """

    value_discretization_interval: float = 1e-4
    neighbouring: str = "add_or_remove_one"

    def _accountant(self, event: DpEvent):
        from dp_accounting.pld import PLDAccountant as _PLD

        acc = _PLD(_neighbouring(self.neighbouring), self.value_discretization_interval)
        acc.compose(to_dp_accounting(event))
        return acc

    def epsilon(self, event: DpEvent, delta: float) -> float:
        check_epsilon_delta(None, delta)
        return float(self._accountant(event).get_epsilon(delta))

    def delta(self, event: DpEvent, epsilon: float) -> float:
        check_epsilon_delta(epsilon, None)
        return float(self._accountant(event).get_delta(epsilon))


#: name -> accountant class; instances score events.
ACCOUNTANTS = {"rdp": RDPAccountant, "pld": PLDAccountant}


def get_accountant(name_or_accountant) -> RDPAccountant | PLDAccountant:
    if isinstance(name_or_accountant, (RDPAccountant, PLDAccountant)):
        return name_or_accountant
    if name_or_accountant not in ACCOUNTANTS:
        raise ValueError(f"accountant {name_or_accountant!r}: choose from {sorted(ACCOUNTANTS)}")
    return ACCOUNTANTS[name_or_accountant]()


def calibrate_noise_multiplier(make_event: Callable[[float], DpEvent], target_epsilon: float,
                               target_delta: float, *, accountant="rdp", low: float = 1e-2,
                               high: float = 10.0, rtol: float = 1e-4,
                               max_iter: int = 200) -> float:
    """The smallest noise multiplier ``s`` (to ``rtol``) with ``epsilon(make_event(s)) <= target``.

    Epsilon decreases as the noise grows; the bracket ``[low, high]`` is widened geometrically
    until it contains the answer, then bisected in log space. The upper end of the final bracket
    is returned, so the result never overshoots the target epsilon.

    Example::

        sigma = calibrate_noise_multiplier(
            lambda s: dp_sgd_event(s, sampling_probability=256 / 60000, steps=2340),
            target_epsilon=3.0, target_delta=1e-5)
    """
    check_epsilon_delta(target_epsilon, target_delta)
    if not 0 < low < high:
        raise ValueError(f"need 0 < low < high, got low={low}, high={high}")
    acc = get_accountant(accountant)

    def eps(s: float) -> float:
        return acc.epsilon(make_event(s), target_delta)

    for _ in range(60):
        if eps(high) <= target_epsilon:
            break
        low, high = high, high * 4
    else:
        raise ValueError(f"no noise multiplier up to {high:g} reaches epsilon={target_epsilon}")
    while eps(low) <= target_epsilon:
        high, low = low, low / 4
        if low < 1e-8:
            return high
    for _ in range(max_iter):
        if high / low - 1 <= rtol:
            break
        mid = math.sqrt(low * high)
        if eps(mid) <= target_epsilon:
            high = mid
        else:
            low = mid
    return high


def nominal_local_sigma(tau: float, epsilon: float, delta: float, num_steps: int) -> float:
    """The papers' nominal local-DP noise ``sigma = (tau/epsilon) sqrt(T log(1/delta))``.

    Used by the experiments of Clip21-SGD2M (arXiv 2502.11682) and Byz-Clip21-SGD2M
    (arXiv 2603.23472; read in its text and code). It is a Theta(.) calibration from the theory,
    not a certificate: print :func:`certified_local_epsilon` next to it.
    """
    check_epsilon_delta(epsilon, delta)
    if not tau > 0:
        raise ValueError(f"tau={tau}: the clipping threshold must be > 0")
    if num_steps < 1:
        raise ValueError(f"num_steps={num_steps}: must be >= 1")
    return tau / epsilon * math.sqrt(num_steps * math.log(1.0 / delta))


def theory_local_sigma(tau: float, epsilon: float, delta: float, num_steps: int,
                       constant: float = 1.0) -> float:
    """Byz-Clip21-SGD2M's Cor. 5.1 form ``c (tau/epsilon) sqrt(T log(T/delta) log(1/delta))``.

    The constant ``c`` is not stated numerically in the paper (Theta(.)); 1 by default.
    """
    check_epsilon_delta(epsilon, delta)
    return constant * tau / epsilon * math.sqrt(num_steps * math.log(num_steps / delta)
                                                * math.log(1.0 / delta))


def certified_local_epsilon(sigma: float, sensitivity: float, num_steps: int, delta: float, *,
                            accountant="rdp") -> float:
    """Epsilon an accountant certifies for ``num_steps`` Gaussian releases of std ``sigma``.

    The noise multiplier is ``sigma / sensitivity``; pass ``sensitivity = 2 tau`` for a clipped
    local message under replace-one adjacency (the papers' local-DP setting), ``tau`` for
    add/remove adjacency. No subsampling amplification (every client message is released).
    """
    if not (sigma > 0 and sensitivity > 0):
        raise ValueError(f"sigma={sigma} and sensitivity={sensitivity} must be > 0")
    event = SelfComposedEvent(GaussianEvent(sigma / sensitivity), int(num_steps))
    return get_accountant(accountant).epsilon(event, delta)


def zcdp_gaussian_epsilon(noise_multiplier: float, count: int, delta: float) -> float:
    """``rho + 2 sqrt(rho log(1/delta))`` with ``rho = count / (2 noise_multiplier^2)`` (zCDP)."""
    check_epsilon_delta(None, delta)
    rho = count / (2.0 * noise_multiplier**2)
    return rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))
