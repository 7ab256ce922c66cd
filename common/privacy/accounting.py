r"""Accountants, noise calibration, and the papers' nominal formulas.

**Accountants** (wrapping Google's ``dp-accounting``): :class:`RDPAccountant` (Renyi DP,
Mironov 2017; subsampled Gaussian by Mironov, Talwar, Zhang 2019, arXiv 1908.10530) and
:class:`PLDAccountant` (privacy loss distributions; tighter). Both score any
:mod:`~common.privacy.events` record: ``RDPAccountant().epsilon(event, delta)``. The default
neighbouring relation is add/remove-one record, as in DP-SGD's analysis (Abadi et al. 2016),
Opacus and dp-accounting.

**RDP at large sampling rates: which accountant to trust.** For a Poisson-subsampled Gaussian at
a fractional order, dp-accounting sums the series of Mironov, Talwar and Zhang (arXiv 1908.10530,
Sec. 3.3) in absolute value, an upper bound on the exact (alternating) series that Opacus sums.
Where the sampling rate is large (q of 0.05 or more with noise multipliers near 1) that
absolute series does not converge within dp-accounting's 1000 terms for the orders just above
1, and those orders are left out. Where the optimal order would have been among them (very large
epsilons: many steps at a large q), the RDP epsilon is then conservative but far from tight: for
sigma = 0.861, q = 0.308, 3779 steps, delta = 1e-5 it is 789 where Opacus gets 453 and PLD 435
(``tests/privacy/test_accounting.py`` compares the three). :class:`RDPAccountant` warns
(``RuntimeWarning``) exactly then; trust :class:`PLDAccountant` there. Wherever every order near
the optimum is evaluated (every case of the notebooks), RDP agrees with Opacus to 1e-3 and is
never below it. We keep dp-accounting's values, a certified upper bound, rather than summing
the signed series ourselves.

**Calibration.** :func:`calibrate_noise_multiplier` finds the smallest noise multiplier whose
event reaches a target ``(epsilon, delta)`` on a bracket (bisection for RDP, a safeguarded
secant method for PLD); the returned multiplier never overshoots: its epsilon is ``<= target``
(the upper end of the final bracket is returned). For PLD the bracket comes from the RDP
answer, so a calibration takes a handful of PLD evaluations near the answer (seconds) instead
of starting at ``sigma = 0.01`` (where one evaluation takes minutes).

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
        with _quiet_absl():  # the orders it leaves out are reported once, by epsilon()
            acc.compose(to_dp_accounting(event))
        return acc

    def epsilon(self, event: DpEvent, delta: float) -> float:
        """Epsilon at ``delta``. Warns (``RuntimeWarning``) when dp-accounting left out orders
        below the optimal one (module docstring, "RDP at large sampling rates")."""
        check_epsilon_delta(None, delta)
        acc = self._accountant(event)
        epsilon, order = acc.get_epsilon_and_optimal_order(delta)
        _warn_if_orders_left_out(self.orders, getattr(acc, "_rdp", None), order, epsilon)
        return float(epsilon)

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


def _quiet_absl():
    """dp-accounting logs one absl warning per order it cannot evaluate, at every call."""
    import contextlib

    try:
        from absl import logging as absl_logging
    except ImportError:  # pragma: no cover (absl comes with dp-accounting)
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def quiet():
        old = absl_logging.get_verbosity()
        absl_logging.set_verbosity(absl_logging.ERROR)
        try:
            yield
        finally:
            absl_logging.set_verbosity(old)

    return quiet()


def _warn_if_orders_left_out(orders, rdp, optimal_order, epsilon) -> None:
    """Warn when the optimum sits on the smallest order dp-accounting could evaluate and smaller
    orders of the grid were left out: a smaller order would likely have given a smaller epsilon."""
    import warnings

    if rdp is None or optimal_order is None:
        return
    left_out = [o for o, r in zip(orders, rdp) if not math.isfinite(r)]
    kept = [o for o, r in zip(orders, rdp) if math.isfinite(r)]
    if not left_out or not kept or optimal_order != min(kept) \
            or min(left_out) > optimal_order:
        return
    below = sorted(o for o in left_out if o < optimal_order)
    warnings.warn(
        f"RDPAccountant: epsilon = {epsilon:.4g} is conservative, possibly far from tight: "
        f"dp-accounting could not evaluate orders {below[0]:g}-{below[-1]:g} for this event (its "
        f"fractional-order series does not converge at this sampling rate) and the optimum is "
        f"the smallest order it kept ({optimal_order:g}). Use PLDAccountant for a tight epsilon "
        "here (common.privacy.accounting, 'RDP at large sampling rates').",
        RuntimeWarning, stacklevel=3)


#: name -> accountant class; instances score events.
ACCOUNTANTS = {"rdp": RDPAccountant, "pld": PLDAccountant}


def get_accountant(name_or_accountant) -> RDPAccountant | PLDAccountant:
    """An accountant by name (``ACCOUNTANTS``), or the accountant passed in unchanged."""
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

    Epsilon decreases as the noise grows. The bracket is widened geometrically until
    ``epsilon(low) > target >= epsilon(high)``, then narrowed until ``high / low - 1 <= rtol``:
    by bisection in log space for RDP, by a safeguarded secant method for other accountants
    (Illinois' regula falsi on ``log epsilon`` against ``log s``, every step kept at least a
    fraction of ``rtol`` inside the bracket; fewer evaluations). The upper end is returned, so
    the result never overshoots the target epsilon.

    **Accountants other than RDP** (PLD) are slow where the noise is small: one PLD evaluation
    at ``s = 0.04`` takes about a minute for DP-SGD over 470 steps, and ``low``'s default is 0.01.
    Their bracket therefore starts from the RDP answer (cheap to find): RDP's epsilon is an upper
    bound of the tighter accountant's, so the RDP noise multiplier is (up to discretisation) an
    upper end, and the lower end is searched just below it (factors of 0.75). A PLD calibration
    then costs about 5 to 10 PLD evaluations, all near the answer: seconds, not minutes.
    ``low`` and ``high`` then bracket the RDP step.

    Example::

        sigma = calibrate_noise_multiplier(
            lambda s: dp_sgd_event(s, sampling_probability=256 / 60000, steps=2340),
            target_epsilon=3.0, target_delta=1e-5)
    """
    check_epsilon_delta(target_epsilon, target_delta)
    if not 0 < low < high:
        raise ValueError(f"need 0 < low < high, got low={low}, high={high}")
    if not 0 < rtol < 1:
        raise ValueError(f"rtol={rtol}: must be in (0, 1)")
    acc = get_accountant(accountant)
    sigma = _calibrate(make_event, target_epsilon, target_delta, acc, low, high, rtol, max_iter)
    if isinstance(acc, RDPAccountant):
        acc.epsilon(make_event(sigma), target_delta)  # warns if the answer's RDP is not tight
    return sigma


def _calibrate(make_event, target_epsilon, target_delta, acc, low, high, rtol, max_iter):
    import warnings

    step = 4.0
    if not isinstance(acc, RDPAccountant):
        high = _calibrate(make_event, target_epsilon, target_delta, RDPAccountant(), low, high,
                          min(rtol, 1e-3), max_iter)
        low, step = 0.75 * high, 1 / 0.75

    cache: dict[float, float] = {}

    def eps(s: float) -> float:
        if s not in cache:
            with warnings.catch_warnings():  # probes far from the answer are not the answer
                warnings.filterwarnings("ignore", "RDPAccountant: epsilon", RuntimeWarning)
                cache[s] = acc.epsilon(make_event(s), target_delta)
        return cache[s]

    for _ in range(60):
        if eps(high) <= target_epsilon:
            break
        low, high = high, high * step
    else:
        raise ValueError(f"no noise multiplier up to {high:g} reaches epsilon={target_epsilon}")
    while eps(low) <= target_epsilon:
        high, low = low, low / step
        if low < 1e-8:
            return high
    if isinstance(acc, RDPAccountant):
        return _bisect(eps, target_epsilon, low, high, rtol, max_iter)
    return _narrow(eps, target_epsilon, low, high, rtol, max_iter)


def _bisect(eps: Callable[[float], float], target: float, low: float, high: float, rtol: float,
            max_iter: int) -> float:
    """Bisection in log space (RDP evaluations are cheap; the committed notebooks' noise
    multipliers were calibrated this way, so it stays for RDP)."""
    for _ in range(max_iter):
        if high / low - 1 <= rtol:
            break
        mid = math.sqrt(low * high)
        if eps(mid) <= target:
            high = mid
        else:
            low = mid
    return high


def _narrow(eps: Callable[[float], float], target: float, low: float, high: float, rtol: float,
            max_iter: int) -> float:
    """Shrink ``[low, high]`` (``eps(low) > target >= eps(high)``) to ``high/low - 1 <= rtol``
    with Illinois' regula falsi on ``g(u) = log eps(e^u) - log target``; returns ``high``."""
    lo, hi, s_hi = math.log(low), math.log(high), high
    tol = math.log1p(rtol)

    def g(s: float) -> float:
        return math.log(max(eps(s), 1e-300)) - math.log(target)

    glo, ghi = g(low), g(high)
    side = 0
    for _ in range(max_iter):
        if hi - lo <= tol:
            break
        u = hi - ghi * (hi - lo) / (ghi - glo) if ghi != glo else 0.5 * (lo + hi)
        margin = min(0.45 * tol, 0.25 * (hi - lo))  # each step shrinks the bracket
        u = min(max(u, lo + margin), hi - margin)
        s = math.exp(u)
        gu = g(s)
        if gu > 0:
            lo, glo = u, gu
            if side == -1:
                ghi *= 0.5
            side = -1
        else:
            hi, ghi, s_hi = u, gu, s
            if side == 1:
                glo *= 0.5
            side = 1
    return s_hi  # the noise multiplier whose epsilon was evaluated <= target


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
