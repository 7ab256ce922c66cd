r"""Continuous-time gradient flows of the negative ELBO in four geometries, for ``solve_ivp``.

Each flow is the ``lr -> 0`` limit of a step of :mod:`common.vi.registry` and reuses that step's
vector field (``*_direction``), written in the step's own coordinates:

==============  =======================  ==================================================
flow            coordinates              vector field
==============  =======================  ==================================================
``SR``          ``(m, vech C)``          ``ṁ = -C C^T g``, ``Ċ = -C tril½(C^T H C - I)``
``Euclidean``   ``(m, vech C)``          ``ṁ = -g``, ``Ċ = -(tril(H C) - diag(1/C_ii))``
``BW``          ``(m, vech Sigma)``      ``ṁ = -g``, ``Sigma' = -(M Sigma + Sigma M)``,
                                         ``M = H - Sigma^{-1}``
``VN``          ``(m, vech S)``          ``ṁ = -S^{-1} g``, ``Ṡ = H - S``
==============  =======================  ==================================================

Along every flow ``dF/dt = -||grad F||^2`` in the flow's metric ``<= 0``: ``F`` never
increases. The SR and VN flows are the same curve in ``(m, Sigma)`` (both give
``Sigma' = Sigma - Sigma H Sigma``, ``ṁ = -Sigma g``); the SR-VN paper proves convergence of the
SR flow for concave log-likelihoods (arXiv 2507.07853; rates and constants [unverified] in our
notes). Near the optimum ``delta = C^T H C - I`` obeys ``delta' = -delta`` ([derived]), so
``F - F*`` decays like ``exp(-2 t)`` whatever the conditioning of ``H``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from common.vi.bw import bw_direction
from common.vi.gaussian import DTYPE, SqrtGaussian, entropy, unvech, vech
from common.vi.gd import gd_direction
from common.vi.guards import Diverged
from common.vi.srvn import srvn_direction
from common.vi.vn import vn_direction

__all__ = ["Flow", "FLOWS", "FlowPath", "integrate_flow"]


def _split(y: np.ndarray, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.as_tensor(y, dtype=DTYPE)
    return t[:d], unvech(t[d:], d)


def _sym(L: torch.Tensor) -> torch.Tensor:
    return L + L.T - torch.diag(torch.diagonal(L))


def _chol(S: torch.Tensor, what: str) -> torch.Tensor:
    L, info = torch.linalg.cholesky_ex(0.5 * (S + S.T))
    if int(info) != 0:
        raise Diverged(f"{what} is not positive definite along the flow")
    return L


# ---- coordinates ------------------------------------------------------------------------------

def _pack_chol(q: SqrtGaussian) -> np.ndarray:
    return torch.cat([q.mean, vech(q.chol)]).cpu().numpy()


def _unpack_chol(y: np.ndarray, d: int) -> SqrtGaussian:
    m, C = _split(y, d)
    return SqrtGaussian(m, C)


def _pack_cov(q: SqrtGaussian) -> np.ndarray:
    return torch.cat([q.mean, vech(q.chol @ q.chol.T)]).cpu().numpy()


def _unpack_cov(y: np.ndarray, d: int) -> SqrtGaussian:
    m, L = _split(y, d)
    return SqrtGaussian(m, _chol(_sym(L), "Sigma"))


def _pack_prec(q: SqrtGaussian) -> np.ndarray:
    return torch.cat([q.mean, vech(torch.cholesky_inverse(q.chol))]).cpu().numpy()


def _unpack_prec(y: np.ndarray, d: int) -> SqrtGaussian:
    m, L = _split(y, d)
    S = _sym(L)
    return SqrtGaussian(m, _chol(torch.cholesky_inverse(_chol(S, "S")), "S^-1"))


# ---- vector fields ----------------------------------------------------------------------------

def _sr_rhs(y, d, estimator):
    q = _unpack_chol(y, d)
    dm, dC = srvn_direction(q, estimator(q))
    return torch.cat([dm, vech(dC)])


def _euclidean_rhs(y, d, estimator):
    q = _unpack_chol(y, d)
    dm, dC = gd_direction(q, estimator(q))
    return torch.cat([dm, vech(dC)])


def _bw_rhs(y, d, estimator):
    m, L = _split(y, d)
    cov = _sym(L)
    q = SqrtGaussian(m, _chol(cov, "Sigma"))
    dm, dcov = bw_direction(m, cov, estimator(q))
    return torch.cat([dm, vech(dcov)])


def _vn_rhs(y, d, estimator):
    m, L = _split(y, d)
    S = _sym(L)
    q = SqrtGaussian(m, _chol(torch.cholesky_inverse(_chol(S, "S")), "S^-1"))
    dm, dS = vn_direction(m, S, estimator(q))
    return torch.cat([dm, vech(dS)])


@dataclass(frozen=True)
class Flow:
    """A gradient flow: ``pack(q) -> y``, ``unpack(y, d) -> q``, ``rhs(y, d, estimator) -> ẏ``."""

    name: str
    pack: object
    unpack: object
    rhs: object
    coordinates: str


#: The flows by name (one line each).
FLOWS: dict[str, Flow] = {
    "SR": Flow("SR", _pack_chol, _unpack_chol, _sr_rhs, "(m, vech C)"),
    "Euclidean": Flow("Euclidean", _pack_chol, _unpack_chol, _euclidean_rhs, "(m, vech C)"),
    "BW": Flow("BW", _pack_cov, _unpack_cov, _bw_rhs, "(m, vech Sigma)"),
    "VN": Flow("VN", _pack_prec, _unpack_prec, _vn_rhs, "(m, vech S)"),
}


@dataclass
class FlowPath:
    """``objective[j] = F(q(t[j]))``; ``states[j]`` the Gaussians; ``nfev`` vector-field calls."""

    flow: str
    t: np.ndarray
    objective: np.ndarray
    states: list
    nfev: int
    success: bool
    message: str


def integrate_flow(flow: Flow | str, estimator, q0: SqrtGaussian, t_end: float, *,
                   num_points: int = 101, rtol: float = 1e-10, atol: float = 1e-12,
                   method: str = "LSODA", t_eval=None) -> FlowPath:
    """Integrate ``flow`` from ``q0`` over ``[0, t_end]`` with ``scipy.integrate.solve_ivp``.

    ``F`` is evaluated with ``estimator`` at ``t_eval`` (default: ``num_points`` points evenly
    spaced). ``method``: any ``solve_ivp`` method (``LSODA`` switches to a stiff solver when the
    Euclidean or BW flow becomes stiff on ill-conditioned targets).
    """
    from scipy.integrate import solve_ivp

    if isinstance(flow, str):
        if flow not in FLOWS:
            raise ValueError(f"flow={flow!r}: allowed are {list(FLOWS)}")
        flow = FLOWS[flow]
    if not t_end > 0:
        raise ValueError(f"t_end={t_end!r}: must be positive")
    d = q0.dim
    times = np.linspace(0.0, t_end, num_points) if t_eval is None else np.asarray(t_eval, float)

    def rhs(_t, y):
        return flow.rhs(y, d, estimator).cpu().numpy()

    sol = solve_ivp(rhs, (0.0, float(t_end)), flow.pack(q0), method=method, t_eval=times,
                    rtol=rtol, atol=atol)
    states, values = [], []
    for y in sol.y.T:
        q = flow.unpack(y, d)
        states.append(q)
        values.append(float(estimator(q).value - entropy(q)))
    return FlowPath(flow.name, np.asarray(sol.t), np.asarray(values), states, int(sol.nfev),
                    bool(sol.success), str(sol.message))
