r"""The Taylor surrogate of a quantum cost around the Clifford point 0 (arXiv 2507.06344, v3).

.. math::  T_m(\theta) = \sum_{|\alpha| < m} \partial^\alpha C(0)\, \frac{\theta^\alpha}{\alpha!},
           \qquad |C(\theta) - T_m(\theta)| \le \frac{\|O\|\,\|\theta\|_1^m}{m!}

(Lagrange remainder; :math:`|\partial^\alpha C| \le \|O\|`, and for a Pauli observable
:math:`\|O\| = 1`; for a sum we use :math:`\sum_i |c_i| \ge \|O\|`). [code; derived]

**Coefficients by the higher-order parameter-shift rule.** Each :math:`\theta_k` drives one gate
:math:`e^{-i\theta_k P_k/2}`, so :math:`C` is a degree-1 trigonometric polynomial in every
:math:`\theta_k` and :math:`f'(x) = [f(x + \pi/2) - f(x - \pi/2)]/2` exactly; iterating,

.. math::  \partial^\alpha C(0) = 2^{-|\alpha|} \sum_{0 \le j \le \alpha} (-1)^{|j|}
           \prod_k \binom{\alpha_k}{j_k}\; C\big(\tfrac\pi2(\alpha - 2j)\big),

where every evaluation is at a Clifford point
(:func:`common.quantum.pauli_propagation.clifford_cost`, polynomial in N and the number of gates).
**Shift cache:** the evaluations are keyed by the
integer shift vector :math:`s = \alpha - 2j`; the distinct ones over all :math:`|\alpha| < m` are
exactly the lattice points with :math:`\|s\|_1 \le m - 1`, of which there are
:math:`\sum_i 2^i \binom{D}{i}\binom{m-1}{i}` (:func:`shift_count`). The official code evaluates the
``j``-loop for every :math:`\alpha` without a cache, :math:`\sum_{|\alpha|<m}\prod_k(\alpha_k+1) =
\binom{m-1+2D}{m-1}` times (:func:`naive_count`, notes pitfall 12). (Shifts equal mod 4 give the
same Clifford point; we do not merge them, so the count matches the lattice formula.)

**Truncation order**
:math:`m(\theta, \varepsilon) = \min\{m \ge 1 : \|\theta\|_1^m/m! \le \varepsilon\}`:
:func:`truncation_order` computes it exactly (log-gamma and bisection);
:func:`truncation_order_official` follows the official ``m_optimal`` — the direct search up to
:math:`m = 30`, then the closed form
:math:`m = \lceil e x\, \exp(W(\ln(1/(\varepsilon\sqrt{e^3 x}))/(e x))) - \tfrac12\rceil`,
:math:`x = \|\theta\|_1`, ``W`` the principal Lambert function (Stirling's formula solved for
``m``; the official code writes :math:`\sqrt{e^3 x}` where Stirling gives
:math:`\sqrt{2\pi x}`, which moves ``m`` by at most one). For :math:`\theta \sim \mathcal N(0,
\sigma^2 I_D)`,
:math:`\|\theta\|_1 \approx \sigma D\sqrt{2/\pi}`: :math:`\sigma = O(D^{-1})` keeps ``m`` bounded
(polynomial cost), :math:`\sigma = D^{-\beta}`, :math:`\beta < 1`, makes it grow like
:math:`D^{1-\beta}` (super-polynomial cost :math:`D^{\Theta(D^{1-\beta})}`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations_with_replacement, product

import numpy as np

from common.quantum.circuit import Circuit
from common.quantum.pauli_propagation import clifford_cost
from common.quantum.paulis import PauliSum

__all__ = ["multi_indices", "shift_weights", "shift_count", "naive_count", "truncation_bound",
           "truncation_order", "truncation_order_official", "TaylorSurrogate"]


def multi_indices(d: int, order: int) -> np.ndarray:
    """All :math:`\\alpha \\in \\mathbb N^d` with :math:`|\\alpha| <` ``order``, by total degree,
    shape ``(binom(d + order - 1, order - 1), d)``."""
    if d < 1 or order < 1:
        raise ValueError(f"multi_indices: d={d} and order={order} must be >= 1")
    rows = []
    for deg in range(order):
        for combo in combinations_with_replacement(range(d), deg):
            a = np.zeros(d, dtype=np.int64)
            for k in combo:
                a[k] += 1
            rows.append(a)
    return np.array(rows)


def shift_weights(alpha) -> dict[tuple[int, ...], float]:
    """The shift rule for one :math:`\\alpha`: ``{shift s: weight}`` with
    :math:`\\partial^\\alpha C(0) = \\sum_s w_s C(\\tfrac\\pi2 s)`."""
    alpha = np.asarray(alpha, dtype=np.int64)
    support = np.flatnonzero(alpha)
    out: dict[tuple[int, ...], float] = {}
    scale = 2.0 ** (-int(alpha.sum()))
    for js in product(*(range(alpha[k] + 1) for k in support)):
        s = alpha.copy()
        w = scale
        for k, j in zip(support, js):
            s[k] = alpha[k] - 2 * j
            w *= (-1) ** j * math.comb(int(alpha[k]), j)
        key = tuple(s.tolist())
        out[key] = out.get(key, 0.0) + w
    return out


def shift_count(d: int, order: int) -> int:
    """Distinct shift vectors (lattice points with :math:`\\|s\\|_1 \\le` ``order`` - 1)."""
    r = order - 1
    return sum(2 ** i * math.comb(d, i) * math.comb(r, i) for i in range(min(d, r) + 1))


def naive_count(d: int, order: int) -> int:
    """The uncached evaluation count :math:`\\sum_{|\\alpha|<m}\\prod_k(\\alpha_k+1) =
    \\binom{m-1+2d}{m-1}` (the official code's "cardinality")."""
    return math.comb(order - 1 + 2 * d, order - 1)


def truncation_bound(l1: float, order: int, norm: float = 1.0) -> float:
    """:math:`\\|O\\|\\,\\|\\theta\\|_1^m / m!` (computed in logs; no overflow)."""
    if l1 == 0:
        return 0.0
    return float(norm * math.exp(order * math.log(l1) - math.lgamma(order + 1)))


def _check_eps(eps: float) -> None:
    if not 0 < eps < 1:
        raise ValueError(f"eps={eps!r}: a tolerance in (0, 1)")


def truncation_order(l1: float, eps: float) -> int:
    """Exact :math:`\\min\\{m \\ge 1 : l_1^m/m! \\le \\varepsilon\\}`, ``l1`` the norm
    :math:`\\|\\theta\\|_1`."""
    _check_eps(eps)
    if not l1 >= 0 or not math.isfinite(l1):
        raise ValueError(f"l1={l1!r}: a finite non-negative norm")
    log_eps = math.log(eps)

    def ok(m: int) -> bool:
        return l1 == 0 or m * math.log(l1) - math.lgamma(m + 1) <= log_eps

    if ok(1):
        return 1
    # g(m) = m log(l1) - lgamma(m + 1) increases while m + 1 <= l1 and decreases after, so
    # not ok(1) implies not ok(lo) and the crossing lies above lo
    lo = max(1, int(l1))
    hi = 2 * lo + 32
    while not ok(hi):
        lo, hi = hi, 2 * hi
    while hi - lo > 1:              # invariant: not ok(lo), ok(hi)
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def truncation_order_official(l1: float, eps: float) -> int:
    """The official ``m_optimal``: direct search up to 30, then the Lambert-W closed form."""
    from scipy.special import lambertw

    _check_eps(eps)
    m = 1
    while _bound_float(l1, m) > eps and m < 30:
        m += 1
    if _bound_float(l1, m) < eps:
        return m
    e = math.e
    arg = math.log(1 / (eps * math.sqrt(e ** 3 * l1))) / (e * l1)
    return int(math.ceil((e * l1 * np.exp(lambertw(arg))).real - 0.5))


def _bound_float(l1: float, m: int) -> float:
    """``l1**m / m!`` in floating point as the official code computes it (inf on overflow)."""
    try:
        return float(l1) ** m / math.factorial(m)
    except OverflowError:
        return math.inf


@dataclass
class TaylorSurrogate:
    """:math:`T_m` of :math:`C` at 0 with a cache of Clifford evaluations keyed by shift vector.

    ``evaluate(shifts (S, D) int) -> (S,)`` computes :math:`C(\\tfrac\\pi2 s)`; by default the
    signed Pauli propagation :func:`~common.quantum.pauli_propagation.clifford_cost` (any N).
    :meth:`extend` raises the order, evaluating only shifts not in the cache.
    """

    circuit: Circuit
    observable: PauliSum | str
    evaluate: Callable[[np.ndarray], np.ndarray] | None = None
    order: int = 0
    alphas: np.ndarray = field(init=False, repr=False)
    coeffs: np.ndarray = field(init=False, repr=False)
    cache: dict[tuple[int, ...], float] = field(init=False, repr=False, default_factory=dict)
    new_evaluations: list[int] = field(init=False, default_factory=list)

    def __post_init__(self):
        self.observable = PauliSum.coerce(self.observable, self.circuit.num_qubits)
        if self.evaluate is None:
            circuit, obs = self.circuit, self.observable
            self.evaluate = lambda s: clifford_cost(circuit, obs, s)
        d = self.circuit.num_params
        self.alphas = np.zeros((0, d), dtype=np.int64)
        self.coeffs = np.zeros(0)
        target, self.order = self.order, 0
        if target:
            self.extend(target)

    @property
    def num_evaluations(self) -> int:
        """Distinct Clifford evaluations so far (the cache size)."""
        return len(self.cache)

    def extend(self, order: int) -> TaylorSurrogate:
        """Raise the truncation order to ``order`` (terms of degree ``self.order .. order-1``)."""
        if not isinstance(order, (int, np.integer)) or order < 1:
            raise ValueError(f"order={order!r}: an integer >= 1 (T_m keeps |alpha| < m)")
        if order <= self.order:
            return self
        d = self.circuit.num_params
        new_alpha = [a for a in multi_indices(d, order) if a.sum() >= self.order]
        rules = [shift_weights(a) for a in new_alpha]
        missing = sorted({s for rule in rules for s in rule} - set(self.cache))
        if missing:
            values = np.asarray(self.evaluate(np.array(missing, dtype=np.int64)), dtype=float)
            self.cache.update(zip(missing, values.tolist()))
        self.new_evaluations.append(len(missing))
        coeffs = [sum(w * self.cache[s] for s, w in rule.items()) for rule in rules]
        self.alphas = np.concatenate([self.alphas, np.array(new_alpha).reshape(-1, d)])
        self.coeffs = np.concatenate([self.coeffs, coeffs])
        self.order = int(order)
        return self

    def __call__(self, theta, order: int | None = None) -> np.ndarray | float:
        """:math:`T_m(\\theta)` (``order`` <= the built order; default: the built order)."""
        order = self.order if order is None else order
        if not 1 <= order <= self.order:
            raise ValueError(f"order={order}: build the surrogate to it first (built: "
                             f"{self.order})")
        th = self.circuit.check_theta(theta)
        single = th.ndim == 1
        th = np.atleast_2d(th)
        sel = self.alphas.sum(axis=1) < order
        alphas, coeffs = self.alphas[sel], self.coeffs[sel]
        fact = np.array([math.prod(math.factorial(int(v)) for v in a) for a in alphas])
        monomials = np.prod(th[:, None, :] ** alphas[None, :, :], axis=2) / fact
        values = monomials @ coeffs
        return float(values[0]) if single else values

    def error_bound(self, theta, order: int | None = None) -> np.ndarray | float:
        """:math:`\\sum_i|c_i|\\,\\|\\theta\\|_1^m/m!` for each parameter vector."""
        order = self.order if order is None else order
        th = self.circuit.check_theta(theta)
        l1 = np.abs(np.atleast_2d(th)).sum(axis=1)
        out = np.array([truncation_bound(v, order, self.observable.norm_bound) for v in l1])
        return float(out[0]) if th.ndim == 1 else out
