r"""Mean-field signal propagation through wide random networks, and its phases.

A fully connected network with i.i.d. Gaussian parameters,

.. math::
    y^{(l)} = W^{(l)} x^{(l-1)} + b^{(l)},\qquad x^{(l)} = g(y^{(l)}),\qquad
    W^{(l)}_{ij} \sim \mathcal N(0, \sigma_w^2/N_{l-1}),\quad
    b^{(l)}_i \sim \mathcal N(0,\sigma_b^2),

has, at infinite width, Gaussian pre-activations whose second moments for two inputs a, b follow
deterministic maps (Poole et al. 2016, arXiv:1606.05340; Schoenholz et al. 2017,
arXiv:1611.01232):

.. math::
    q_{aa}^{(l)} &= \sigma_w^2\, \mathbb E_z\big[g(\sqrt{q_{aa}^{(l-1)}}\,z)^2\big] + \sigma_b^2
    \quad\text{(the q-map)}\\
    q_{ab}^{(l)} &= \sigma_w^2\, \mathbb E\big[g(u_a)\,g(u_b)\big] + \sigma_b^2,\quad
    u_a = \sqrt{q_{aa}}\,z_1,\ u_b = \sqrt{q_{bb}}\,(c z_1 + \sqrt{1-c^2}\,z_2)\\
    c^{(l)} &= q_{ab}^{(l)} / \sqrt{q_{aa}^{(l)} q_{bb}^{(l)}}\quad\text{(the c-map)},\qquad
    \chi_1 = \partial c^{(l+1)}/\partial c^{(l)}\big|_{c=1} = \sigma_w^2\,\mathbb E\big[
    \|\nabla g(\sqrt{q^*} z)\|^2\big].

Here ``g`` is an :class:`~common.models.activations.Activation` (single node, or a pair pool
with duplication; a pooled unit reads ``arity`` = 2 independent pre-activations, and the
expectations run over ``2 * arity`` Gaussians for a pair of inputs). Expectations use
tensor-product Gauss-Hermite quadrature (probabilists' nodes); homogeneous activations with a
closed-form kernel (ReLU: the arc-cosine kernel) use it instead.

**Fixed points and phases.** :math:`q^*` is the fixed point of the q-map and :math:`c^*` the
stable fixed point of the c-map at :math:`q^*`, reached from :math:`c = 0`. The c-map is
increasing and convex on [0, 1] (its power series in c has non-negative coefficients) and
:math:`c = 1` is always a fixed point, so: :math:`\chi_1 \le 1` gives :math:`c^* = 1` (ordered
phase; :math:`\chi_1 = 1` is the edge of chaos, EOC); :math:`\chi_1 > 1` gives a unique
:math:`c^* \in [0, 1)` (chaotic), found by bracketing. For unbounded homogeneous activations with
:math:`\sigma_w^2 \mathbb E[g(z)^2] \ge 1`, :math:`q` has no finite fixed point; the bias becomes
negligible and :math:`c^{(l)} \to 1` (ReLU: as a power law). ``chi1`` there is the paper's
:math:`\tilde\chi_1 = \partial q_{ab}^{(l+1)}/\partial q_{ab}^{(l)}|_{c=1}`, which for a
homogeneous ``g`` does not depend on q (ReLU: :math:`\sigma_w^2/2`, EOC at
:math:`\sigma_w^2 = 2`).

**Initial guessing bias** (Bassi, Baity-Jesi, Lucchi, Albert, Francazi, arXiv:2505.12096,
Theorem 3.1 [secondary: read through the authors' poster and a third-party note]): for normalised
inputs in the infinite-width-then-infinite-data limit the over-data variance of a unit and the
over-initialisation variance of its data-mean are :math:`\sigma_y^2 = q_{aa} - q_{ab}` and
:math:`\sigma_\mu^2 = q_{ab}`, so the drift ratio :math:`\gamma = \sigma_\mu^2/\sigma_y^2` obeys
:math:`c = \gamma/(1+\gamma)`: :math:`c^* = 1` is deep prejudice (:math:`\gamma = \infty`),
:math:`c^* = \tfrac12` the neutrality boundary (:math:`\gamma = 1`). :data:`PHASES` is the
paper's Table 1 (Proposition 4.1) as data. :func:`relu_drift_recursion` is the official code's
ReLU recursion in (:math:`\sigma_y^2, \sigma_\mu^2`) form (``plot/plot_forward.py``), an
independent parametrisation of the arc-cosine c-map.

Average pooling of an odd ``phi`` gives :math:`q' = (\sigma_w^2/2)\mathbb E[\phi^2] + \sigma_b^2`
and :math:`\chi_1 = (\sigma_w^2/2)\mathbb E[\phi'^2]`, so its EOC is exactly twice the
single-node one [derived from the official ``compute_eoc.py``].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.optimize import brentq

from common.models.activations import Activation, get

__all__ = [
    "gauss_hermite", "expect", "pair_expect", "q_map", "pair_map", "c_map", "propagate",
    "Propagation", "q_star", "chi1", "c_star", "drift_ratio_star", "eoc", "neutrality",
    "relu_drift_recursion", "PHASES", "Phase", "phase", "phase_boundaries", "DEFAULT_NODES",
]

#: Gauss-Hermite nodes per dimension by the number of Gaussian dimensions of the integral:
#: 201 for 1-D and 2-D grids (single-node maps; the pooled q-map and chi_1), 41 for the 4-D grids
#: of a pooled pair's covariance map (41^4 ~ 2.8e6 points). tanh limits the convergence (its
#: poles at ±iπ/(2√q)): E[tanh(√3 z)^2] is off by 2.5e-5 with 61 nodes, 5e-7 with 101 and
#: < 1e-9 with 201; a 4-D grid of 41 nodes reproduces tanh's c* within 1e-3.
DEFAULT_NODES = {1: 201, 2: 201, 4: 41}
_XTOL = 1e-13


@lru_cache(maxsize=16)
def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights with ``sum(w * f(x)) ~ E[f(z)]`` for ``z ~ N(0, 1)`` (n nodes)."""
    if not isinstance(n, int) or not 2 <= n <= 300:
        raise ValueError(f"nodes={n!r}: an integer in [2, 300] (NumPy's weights overflow "
                         "beyond ~350 nodes)")
    x, w = hermegauss(n)
    return x, w / math.sqrt(2.0 * math.pi)


def _nodes(dims: int, nodes: int | None) -> int:
    return DEFAULT_NODES[dims] if nodes is None else nodes


def _check_var(name: str, v: float, *, allow_inf: bool = False) -> float:
    v = float(v)
    if math.isnan(v) or v < 0 or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name}={v!r}: a finite non-negative number")
    return v


def _check_corr(c: float) -> float:
    c = float(c)
    if not -1.0 - 1e-12 <= c <= 1.0 + 1e-12:
        raise ValueError(f"c={c!r}: a correlation in [-1, 1]")
    return min(max(c, -1.0), 1.0)


def expect(f, q: float, arity: int = 1, nodes: int = 101) -> float:
    """``E[f(u_1, ..., u_arity)]`` for independent ``u_j ~ N(0, q)``."""
    x, w = gauss_hermite(nodes)
    s = math.sqrt(q)
    if arity == 1:
        return float(w @ f(s * x))
    if arity == 2:
        return float(w @ f(s * x[:, None], s * x[None, :]) @ w)
    raise ValueError(f"arity={arity!r}: 1 or 2")


def pair_expect(f, qa: float, qb: float, c: float, arity: int = 1, nodes: int = 101) -> float:
    """``E[f(u_a) f(u_b)]`` where each of the ``arity`` components of ``(u_a, u_b)`` is an
    independent bivariate Gaussian pair with variances ``qa``, ``qb`` and correlation ``c``."""
    x, w = gauss_hermite(nodes)
    sa, sb = math.sqrt(qa), math.sqrt(qb)
    s = math.sqrt(max((1.0 - c) * (1.0 + c), 0.0))
    if arity == 1:
        fa = f(sa * x)                                   # (n,) over z1
        fb = f(sb * (c * x[:, None] + s * x[None, :]))   # (n, n) over (z1, z2)
        return float((w * fa) @ (fb @ w))
    if arity == 2:
        # node 1: (z1, z2), node 2: (z3, z4); axes of fb: (z1, z2, z3, z4)
        fa = f(sa * x[:, None], sa * x[None, :])         # (n, n) over (z1, z3)
        v = c * x[:, None] + s * x[None, :]              # (n, n): (z, z') -> c z + s z'
        fb = f(sb * v[:, :, None, None], sb * v[None, None, :, :])
        inner = np.einsum("ijkl,j,l->ik", fb, w, w)      # integrate z2 and z4
        return float(w @ (fa * inner) @ w)
    raise ValueError(f"arity={arity!r}: 1 or 2")


def _second_moment(act: Activation, q: float, nodes: int | None) -> float:
    """E[g(u)^2], u ~ N(0, q) (components independent)."""
    if act.homogeneous and act.kernel is not None:
        return q * float(act.kernel(1.0))
    return expect(lambda *u: act.fn(*u) ** 2, q, act.arity, _nodes(act.arity, nodes))


def _pair_moment(act: Activation, qa: float, qb: float, c: float, nodes: int | None) -> float:
    if act.homogeneous and act.kernel is not None:
        return math.sqrt(qa * qb) * float(act.kernel(c))
    return pair_expect(act.fn, qa, qb, c, act.arity, _nodes(2 * act.arity, nodes))


def q_map(q: float, sigma_w2: float, sigma_b2: float, activation="tanh", *,
          nodes: int | None = None) -> float:
    """One layer of the length map: ``sigma_w2 * E[g(sqrt(q) z)^2] + sigma_b2``."""
    act = get(activation)
    q = _check_var("q", q)
    return _check_var("sigma_w2", sigma_w2) * _second_moment(act, q, nodes) + _check_var(
        "sigma_b2", sigma_b2)


def pair_map(qa: float, qb: float, c: float, sigma_w2: float, sigma_b2: float,
             activation="tanh", *, nodes: int | None = None) -> float:
    """One layer of the covariance map: ``q_ab' = sigma_w2 * E[g(u_a) g(u_b)] + sigma_b2``."""
    act = get(activation)
    return (_check_var("sigma_w2", sigma_w2)
            * _pair_moment(act, _check_var("qa", qa), _check_var("qb", qb), _check_corr(c),
                           nodes) + _check_var("sigma_b2", sigma_b2))


def c_map(c: float, q: float, sigma_w2: float, sigma_b2: float, activation="tanh", *,
          nodes: int | None = None) -> float:
    """One layer of the correlation map for two inputs of equal length ``q``.

    For a homogeneous activation the map depends on q only through ``sigma_b2 / q``, so
    ``q = inf`` (the chaotic ReLU phase, no finite fixed point) is allowed.
    """
    act = get(activation)
    c, q = _check_corr(c), _check_var("q", q, allow_inf=True)
    sigma_w2, sigma_b2 = _check_var("sigma_w2", sigma_w2), _check_var("sigma_b2", sigma_b2)
    if act.homogeneous:
        r = 0.0 if (sigma_b2 == 0 or math.isinf(q)) else sigma_b2 / q
        num = sigma_w2 * _pair_moment(act, 1.0, 1.0, c, nodes) + r
        den = sigma_w2 * _second_moment(act, 1.0, nodes) + r
        return num / den if den > 0 else 1.0
    if math.isinf(q):
        raise ValueError(f"q=inf: only homogeneous activations have a map at infinite length "
                         f"({act.name} is not)")
    num = pair_map(q, q, c, sigma_w2, sigma_b2, act, nodes=nodes)
    den = q_map(q, sigma_w2, sigma_b2, act, nodes=nodes)
    return num / den if den > 0 else 1.0


@dataclass(frozen=True)
class Propagation:
    """Layer-wise mean-field moments of the pre-activations of layers 1..depth.

    ``q[l-1]`` is :math:`q_{aa}^{(l)}` (two inputs of equal length), ``qab[l-1]`` is
    :math:`q_{ab}^{(l)}`, ``c = qab / q`` and ``gamma = qab / (q - qab)`` (Theorem 3.1's drift
    ratio; ``inf`` where c = 1 to machine precision).
    """

    q: np.ndarray
    qab: np.ndarray

    @property
    def c(self) -> np.ndarray:
        return self.qab / self.q

    @property
    def gamma(self) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.where(self.q > self.qab, self.qab / (self.q - self.qab), np.inf)

    @property
    def depth(self) -> int:
        return len(self.q)


def propagate(activation, sigma_w2: float, sigma_b2: float, depth: int, *, q_in: float = 1.0,
              c_in: float = 0.0, nodes: int | None = None) -> Propagation:
    """Iterate the q- and covariance maps through ``depth`` layers.

    Layer 1 is the linear map of the inputs: :math:`q^{(1)} = \\sigma_w^2 q_{in} +
    \\sigma_b^2`, :math:`q_{ab}^{(1)} = \\sigma_w^2 c_{in} q_{in} + \\sigma_b^2` (``q_in`` =
    ``||x||^2 / d``; ``c_in`` the inputs' correlation: 0 for i.i.d. Gaussian inputs). Layers
    2..depth apply the activation first. float64 throughout; homogeneous activations with a
    closed-form kernel are exact (ReLU: 1 - c resolves down to ~1e-15).
    """
    act = get(activation)
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth={depth!r}: a positive integer")
    sigma_w2, sigma_b2 = _check_var("sigma_w2", sigma_w2), _check_var("sigma_b2", sigma_b2)
    q_in, c_in = _check_var("q_in", q_in), _check_corr(c_in)
    q = np.empty(depth)
    qab = np.empty(depth)
    q[0] = sigma_w2 * q_in + sigma_b2
    qab[0] = sigma_w2 * c_in * q_in + sigma_b2
    for i in range(1, depth):
        c = qab[i - 1] / q[i - 1] if q[i - 1] > 0 else 1.0
        q[i] = q_map(q[i - 1], sigma_w2, sigma_b2, act, nodes=nodes)
        qab[i] = pair_map(q[i - 1], q[i - 1], c, sigma_w2, sigma_b2, act, nodes=nodes)
    return Propagation(q, qab)


def q_star(activation, sigma_w2: float, sigma_b2: float, *, nodes: int | None = None) -> float:
    """Fixed point of the q-map (``inf`` when the length grows without bound).

    Homogeneous activations: :math:`q^* = \\sigma_b^2/(1 - \\sigma_w^2 \\mathbb E[g(z)^2])`
    when the denominator is positive, else ``inf`` (0 when also sigma_b2 = 0 and the map
    contracts). Bounded activations: the root of ``q_map(q) - q`` above ``sigma_b2``, found by
    bracketing (the map is bounded and concave for tanh and erf, so the positive root is unique;
    with ``sigma_b2 = 0`` the fixed point is 0 unless the slope at 0 exceeds 1).
    """
    act = get(activation)
    sigma_w2, sigma_b2 = _check_var("sigma_w2", sigma_w2), _check_var("sigma_b2", sigma_b2)
    if sigma_w2 == 0:
        return sigma_b2
    if act.homogeneous:
        m2 = _second_moment(act, 1.0, nodes)
        slope = sigma_w2 * m2
        if slope < 1:
            return sigma_b2 / (1.0 - slope)
        return 0.0 if (sigma_b2 == 0 and slope == 1) else math.inf

    def h(q):
        return q_map(q, sigma_w2, sigma_b2, act, nodes=nodes) - q

    lo = sigma_b2
    if lo == 0:
        lo = 1e-12
        if h(lo) <= 0:
            return 0.0
    hi = max(1.0, 2.0 * lo)
    for _ in range(200):
        if h(hi) < 0:
            break
        hi *= 2.0
    else:
        return math.inf
    return brentq(h, lo, hi, xtol=_XTOL * max(1.0, lo), rtol=4 * np.finfo(float).eps,
                  maxiter=500)


def chi1(activation, sigma_w2: float, sigma_b2: float, *, q: float | None = None,
         nodes: int | None = None) -> float:
    """Slope of the c-map at c = 1: ``sigma_w2 * E[||grad g(sqrt(q) z)||^2]`` at ``q``
    (default :func:`q_star`). Homogeneous activations: independent of q (the paper's
    :math:`\\tilde\\chi_1`; ReLU: ``sigma_w2 / 2``)."""
    act = get(activation)
    sigma_w2 = _check_var("sigma_w2", sigma_w2)
    if act.homogeneous:
        if act.grad_kernel is not None:
            return sigma_w2 * float(act.grad_kernel(1.0))
        q = 1.0
    elif q is None:
        q = q_star(act, sigma_w2, sigma_b2, nodes=nodes)
    return sigma_w2 * expect(act.grad_sq, _check_var("q", q), act.arity,
                             _nodes(act.arity, nodes))


def c_star(activation, sigma_w2: float, sigma_b2: float, *, chi1_tol: float = 1e-10,
           nodes: int | None = None) -> float:
    """Stable fixed point of the c-map at :math:`q^*` reached from c = 0 (module docstring).

    1 in the ordered phase and at the EOC (:math:`\\chi_1 \\le 1 +` ``chi1_tol``, the tolerance
    absorbing the round-off of a numerically solved EOC) and wherever the map has no fixed point
    below 1 (chaotic ReLU); otherwise the unique root of ``c_map(c) - c`` in [0, 1).
    """
    act = get(activation)
    q = q_star(act, sigma_w2, sigma_b2, nodes=nodes)
    slope = chi1(act, sigma_w2, sigma_b2, q=None if act.homogeneous else q, nodes=nodes)
    if slope <= 1.0 + chi1_tol:
        return 1.0

    def h(c):
        return c_map(c, q, sigma_w2, sigma_b2, act, nodes=nodes) - c

    h0 = h(0.0)
    if h0 <= 0:
        return 0.0
    # the convex map lies below the diagonal on (c*, 1): walk towards 1 to find the bracket
    for k in range(1, 40):
        hi = 1.0 - 2.0 ** (-k)
        if h(hi) < 0:
            return brentq(h, 0.0 if k == 1 else 1.0 - 2.0 ** (-k + 1), hi, xtol=_XTOL,
                          rtol=4 * np.finfo(float).eps, maxiter=500)
    return 1.0


def drift_ratio_star(activation, sigma_w2: float, sigma_b2: float, *,
                     nodes: int | None = None) -> float:
    """The fixed-point drift ratio :math:`\\gamma^* = c^*/(1 - c^*)` (Theorem 3.1)."""
    c = c_star(activation, sigma_w2, sigma_b2, nodes=nodes)
    return math.inf if c >= 1.0 else c / (1.0 - c)


def _bracket_up(f, start: float, what: str) -> float:
    hi = start
    for _ in range(60):
        if f(hi) > 0:
            return hi
        hi *= 2.0
    raise ValueError(f"could not bracket the {what}: f stays <= 0 up to sigma_w2 = {hi:g}")


def eoc(activation, sigma_b2: float, *, nodes: int | None = None) -> float:
    """The edge of chaos: the :math:`\\sigma_w^2` with :math:`\\chi_1(\\sigma_w^2,
    \\sigma_b^2) = 1` (tanh: 1 at sigma_b2 = 0, 1.986 at 0.1; ReLU: 2 for every sigma_b2)."""
    act = get(activation)
    sigma_b2 = _check_var("sigma_b2", sigma_b2)

    def f(sw2):
        return chi1(act, sw2, sigma_b2, nodes=nodes) - 1.0

    hi = _bracket_up(f, 1.0, "edge of chaos")
    lo = hi / 2.0
    while f(lo) > 0:
        lo /= 2.0
        if lo < 1e-8:
            raise ValueError("chi_1 > 1 for every sigma_w2 tried: no edge of chaos")
    return brentq(f, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps, maxiter=500)


def neutrality(activation, sigma_b2: float, *, nodes: int | None = None) -> float:
    """The neutrality line: the :math:`\\sigma_w^2` above the EOC where :math:`c^* = 1/2`
    (:math:`\\gamma^* = 1`). Equals the EOC where c* jumps from 1 to below 1/2 there
    (sigma_b2 = 0 with an odd activation: c* = 0 on the whole chaotic side)."""
    act = get(activation)
    edge = eoc(act, sigma_b2, nodes=nodes)
    if act.odd and sigma_b2 == 0:
        return edge  # c_map(0) = 0 and convexity: c* = 0 on the whole chaotic side

    def f(sw2):
        return 0.5 - c_star(act, sw2, sigma_b2, nodes=nodes)

    just_above = edge * (1.0 + 1e-9)
    if f(just_above) >= 0:
        return edge
    hi = _bracket_up(f, 2.0 * edge, "neutrality line")
    return brentq(f, just_above, hi, xtol=1e-12, rtol=4 * np.finfo(float).eps, maxiter=500)


def relu_drift_recursion(sigma_w2: float, sigma_b2: float, depth: int, *, q_in: float = 1.0,
                         num_data: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The official code's ReLU recursion for the data variance V and the drift variance Ṽ.

    With :math:`\\gamma = \\tilde V / V`, :math:`g(\\gamma) = \\tfrac{2}{\\pi}\\gamma
    \\arctan\\sqrt{2\\gamma+1} + \\sqrt{2\\gamma+1}/\\pi` and :math:`f = 1 + \\gamma - g`:
    :math:`V' = \\tfrac{\\sigma_w^2}{2} V f(\\gamma)`, :math:`\\tilde V' = \\tfrac{\\sigma_w^2}{2}
    V g(\\gamma) + \\sigma_b^2`, from :math:`V^{(1)} = \\sigma_w^2 q_{in}`,
    :math:`\\tilde V^{(1)} = \\sigma_b^2 + \\sigma_w^2 q_{in}/N` for i.i.d. inputs of squared
    length ``q_in`` (the code's unit inputs: 1; ``num_data`` N; None: the infinite-data limit, no
    finite-sample drift) [code: ``plot/plot_forward.py``]. Returns
    ``(V, Vtilde)`` for layers 1..depth. Under :math:`c = \\gamma/(1+\\gamma)` it is the
    arc-cosine covariance map (``(1+γ)√(1-c²) = √(2γ+1)`` and
    ``π - arccos c = 2 arctan √(2γ+1)``).
    """
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth={depth!r}: a positive integer")
    if num_data is not None and (not isinstance(num_data, int) or num_data < 1):
        raise ValueError(f"num_data={num_data!r}: a positive integer or None")
    sigma_w2, sigma_b2 = _check_var("sigma_w2", sigma_w2), _check_var("sigma_b2", sigma_b2)
    q_in = _check_var("q_in", q_in)
    V, Vt = np.empty(depth), np.empty(depth)
    V[0] = sigma_w2 * q_in
    Vt[0] = sigma_b2 + (sigma_w2 * q_in / num_data if num_data else 0.0)
    for i in range(1, depth):
        gam = Vt[i - 1] / V[i - 1]
        r = math.sqrt(2.0 * gam + 1.0)
        g = (2.0 / math.pi) * gam * math.atan(r) + r / math.pi
        # f = 1 + γ - g cancels catastrophically once γ >> 1 (γ ~ 1e16 gives f = 0 and then
        # nan); with arctan r = π/2 - arctan(1/r) it is f = 1 + (2/π) γ arctan(1/r) - r/π,
        # whose terms are O(√γ) and whose value tends to 1
        f = 1.0 + (2.0 / math.pi) * gam * math.atan(1.0 / r) - r / math.pi
        V[i] = 0.5 * sigma_w2 * V[i - 1] * f
        Vt[i] = 0.5 * sigma_w2 * V[i - 1] * g + sigma_b2
    return V, Vt


@dataclass(frozen=True)
class Phase:
    """One row of Table 1 (Proposition 4.1) of arXiv:2505.12096 [secondary]."""

    name: str
    gamma: str
    c: str
    chi1: str
    trainability: str


#: Table 1 of the paper: the IGB regime, the mean-field fixed point, the slope at c = 1, and
#: what it means for training [secondary: the authors' poster and a third-party note].
PHASES: tuple[Phase, ...] = (
    Phase("ordered deep prejudice", "∞", "1", "< 1", "vanishing gradients; persistent bias"),
    Phase("edge of chaos", "∞", "1", "= 1",
          "transient deep prejudice: stable gradients, bias absorbed early; most trainable"),
    Phase("chaotic deep prejudice", "∞", "1", "> 1",
          "unbounded activations only: exploding gradients"),
    Phase("prejudice", "(1, ∞)", "(1/2, 1)", "> 1", "exploding gradients"),
    Phase("neutrality", "[0, 1)", "[0, 1/2)", "> 1", "exploding gradients, poor accuracy"),
)


def phase(activation, sigma_w2: float, sigma_b2: float, *, rtol: float = 1e-9,
          nodes: int | None = None) -> Phase:
    """The row of :data:`PHASES` at (sigma_w2, sigma_b2); ``rtol`` is how close chi_1 must be
    to 1 to count as the edge of chaos."""
    act = get(activation)
    x = chi1(act, sigma_w2, sigma_b2, nodes=nodes)
    by_name = {p.name: p for p in PHASES}
    if abs(x - 1.0) <= rtol:
        return by_name["edge of chaos"]
    if x < 1.0:
        return by_name["ordered deep prejudice"]
    c = c_star(act, sigma_w2, sigma_b2, nodes=nodes)
    if c >= 1.0:
        return by_name["chaotic deep prejudice"]
    return by_name["prejudice"] if c > 0.5 else by_name["neutrality"]


def phase_boundaries(activation, sigma_b2_grid, *,
                     nodes: int | None = None) -> dict[str, np.ndarray]:
    """The phase diagram's curves over ``sigma_b2_grid``: ``{"sigma_b2", "eoc", "neutrality"}``.

    The neutrality line is ``nan`` where c* never falls to 1/2 (ReLU: its chaotic side has no
    finite q* and stays in deep prejudice).
    """
    act = get(activation)
    grid = np.asarray(sigma_b2_grid, dtype=float)
    edge = np.array([eoc(act, b, nodes=nodes) for b in grid])
    neutral = np.full_like(edge, np.nan)
    for i, b in enumerate(grid):
        try:
            neutral[i] = neutrality(act, b, nodes=nodes)
        except ValueError:  # no sigma_w2 with c* <= 1/2 could be bracketed
            continue
    return {"sigma_b2": grid, "eoc": edge, "neutrality": neutral}
