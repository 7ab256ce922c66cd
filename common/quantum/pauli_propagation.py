r"""Heisenberg-picture Pauli propagation through circuits at Clifford points (Gottesman–Knill).

At :math:`\theta = (\pi/2)s`, :math:`s \in \mathbb Z^D`, every gate is Clifford, so the observable
:math:`P` pulled back through the circuit, :math:`U^\dagger P U`, stays one signed Pauli string, and

.. math::  C(\tfrac\pi2 s) = \langle 0^N|U^\dagger P U|0^N\rangle \in \{-1, 0, 1\}

is :math:`\pm1` iff the pulled-back string is a Z/I string (its sign), else 0. The cost is
:math:`O(\#\text{gates}\cdot N)` bit operations, vectorised here over a batch of shift vectors
(the Taylor surrogate's higher-order shift rule evaluates thousands at once).

**Signed rules** (symplectic form :math:`i^r\prod_q X^{x_q}Z^{z_q}`, :mod:`common.quantum.paulis`):
a fixed gate maps the generators of its qubits by the image tables of
:data:`common.quantum.circuit.GATES`, and the product of images is accumulated with
:math:`(x_1, z_1, r_1)(x_2, z_2, r_2) =
(x_1 \oplus x_2,\ z_1 \oplus z_2,\ r_1 + r_2 + 2\,z_1\!\cdot x_2)`.
A rotation :math:`R_P(\theta)` leaves a commuting :math:`Q` alone and maps an anticommuting one to
:math:`R^\dagger Q R = e^{i\theta P} Q = \cos\theta\,Q + i\sin\theta\,PQ`, i.e. :math:`iPQ`,
:math:`-Q`, :math:`-iPQ` for :math:`\theta = \pi/2, \pi, 3\pi/2` (identity at 0).

**Sign-free rules** keep only the letters (``H`` swaps x and z, ``S`` does ``z ^= x``,
``CX(c, t)`` does ``x_t ^= x_c, z_c ^= z_t``): enough for :math:`|\partial_k C(0)|` of a single
Pauli observable, which is 0 or 1. By the parameter-shift rule
:math:`\partial_k C(0) = [C(\tfrac\pi2 e_k) - C(-\tfrac\pi2 e_k)]/2` and the rules above,
:math:`|\partial_k C(0)| = 1` iff the observable :math:`O_k` pulled back to just after gate ``k``
anticommutes with its generator :math:`P_k` **and** the letters of :math:`P_k O_k`, pulled back to
the input, form a Z/I string (notes section 5, [derived]). :func:`gradient_support` computes this
for all ``k`` in one backward sweep; :func:`clifford_gradient` gives the signed gradient of a
weighted observable by the shift rule. Reference tests: the statevector simulator at Clifford
points, and ``stim``'s tableau simulator when installed.
"""

from __future__ import annotations

import numpy as np

from common.quantum.circuit import GATES, Circuit, Gate, Rotation
from common.quantum.paulis import PauliSum, bits_to_pauli, pauli_bits

__all__ = ["PauliBatch", "conjugate", "propagate", "zero_expectation", "clifford_cost",
           "clifford_gradient", "gradient_support", "clifford_gradient_norm"]

_IMAGES = {name: tuple((np.array(x, bool), np.array(z, bool), int(r)) for x, z, r in g.images)
           for name, g in GATES.items()}


class PauliBatch:
    """A batch of signed Pauli strings: ``x, z`` bool arrays ``(B, N)``, ``r`` int array ``(B,)``
    (the power of ``i``, mod 4). Mutable working storage of the propagation routines."""

    __slots__ = ("x", "z", "r")

    def __init__(self, x, z, r=None):
        self.x = np.array(x, dtype=bool, ndmin=2)
        self.z = np.array(z, dtype=bool, ndmin=2)
        if self.x.shape != self.z.shape:
            raise ValueError(f"x and z shapes differ: {self.x.shape} vs {self.z.shape}")
        self.r = (np.zeros(len(self.x), dtype=np.int64) if r is None
                  else np.array(r, dtype=np.int64).reshape(-1) % 4)

    @classmethod
    def from_strings(cls, paulis, signs=None) -> PauliBatch:
        """Hermitian strings with signs (+1 / -1; default +1)."""
        bits = [pauli_bits(p) for p in paulis]
        x = np.array([b[0] for b in bits])
        z = np.array([b[1] for b in bits])
        signs = np.ones(len(bits)) if signs is None else np.asarray(signs)
        if not np.all(np.isin(signs, (-1, 1))):
            raise ValueError(f"signs must be +1 or -1, got {signs}")
        r = (np.sum(x & z, axis=1) + np.where(signs < 0, 2, 0)) % 4
        return cls(x, z, r)

    def repeat(self, times: int) -> PauliBatch:
        return PauliBatch(np.repeat(self.x, times, 0), np.repeat(self.z, times, 0),
                          np.repeat(self.r, times))

    def letters(self) -> list[str]:
        return [bits_to_pauli(x, z) for x, z in zip(self.x, self.z)]

    def signs(self) -> np.ndarray:
        """+1 / -1 of each string as a Hermitian operator (``i^{r - #Y}``)."""
        k = (self.r - np.sum(self.x & self.z, axis=1)) % 4
        if np.any(k % 2):
            raise ValueError("non-Hermitian string in the batch (odd phase)")
        return np.where(k == 0, 1, -1)

    def __len__(self) -> int:
        return len(self.x)


def _conjugate_gate(pb: PauliBatch, gate: Gate, signed: bool) -> None:
    """In place: ``Q <- G^† Q G`` for every string of the batch."""
    qs = list(gate.qubits)
    lx, lz = pb.x[:, qs].copy(), pb.z[:, qs].copy()
    ax = np.zeros_like(lx)
    az = np.zeros_like(lz)
    images = _IMAGES[gate.name]
    for i in range(len(qs)):
        for bit, (ix, iz, ir) in ((lx[:, i], images[2 * i]), (lz[:, i], images[2 * i + 1])):
            if not bit.any():
                continue
            if signed:
                extra = ir + 2 * np.sum(az & ix, axis=1)
                pb.r = np.where(bit, pb.r + extra, pb.r) % 4
            ax ^= bit[:, None] & ix
            az ^= bit[:, None] & iz
    pb.x[:, qs] = ax
    pb.z[:, qs] = az


def _conjugate_rotation(pb: PauliBatch, rot: Rotation, steps, signed: bool) -> None:
    """In place: ``Q <- R^† Q R`` at angles ``steps * pi/2`` (``steps`` int, scalar or (B,))."""
    qs = list(rot.qubits)
    px, pz = pauli_bits(rot.pauli)
    lx, lz = pb.x[:, qs], pb.z[:, qs]
    anti = (np.sum(lx & pz, axis=1) + np.sum(lz & px, axis=1)) % 2 == 1
    t = np.broadcast_to(np.asarray(steps, dtype=np.int64) % 4, anti.shape)
    flip = anti & (t % 2 == 1)          # Q -> (+-i) P Q
    if signed:
        neg = anti & (t == 2)               # Q -> -Q
        pr = int(np.sum(px & pz))
        prod_r = pr + 2 * np.sum(pz & lx, axis=1) + np.where(t == 1, 1, 3)
        pb.r = (pb.r + np.where(neg, 2, 0) + np.where(flip, prod_r, 0)) % 4
    pb.x[:, qs] = lx ^ (flip[:, None] & px)
    pb.z[:, qs] = lz ^ (flip[:, None] & pz)


def conjugate(pb: PauliBatch, op: Gate | Rotation, steps=0, *, signed: bool = True) -> None:
    """In place: pull the batch back through one operation (``Q <- G^† Q G``)."""
    if isinstance(op, Gate):
        _conjugate_gate(pb, op, signed)
    else:
        _conjugate_rotation(pb, op, steps, signed)


def _check_shifts(circuit: Circuit, shifts) -> np.ndarray:
    s = np.asarray(shifts)
    if s.ndim == 1:
        s = s[None, :]
    if s.ndim != 2 or s.shape[1] != circuit.num_params:
        raise ValueError(f"shifts has shape {np.shape(shifts)}; expected (batch, "
                         f"{circuit.num_params}) integers (theta = shifts * pi/2)")
    if not np.issubdtype(s.dtype, np.integer):
        if not np.all(s == np.round(s)):
            raise ValueError("shifts must be integers: theta = shifts * pi/2 is a Clifford point")
        s = np.round(s).astype(np.int64)
    return s


def propagate(circuit: Circuit, pb: PauliBatch, shifts=None, *, signed: bool = True,
              stop: int = 0) -> PauliBatch:
    """Pull a batch of strings back through ``circuit.ops[stop:]`` at ``theta = shifts * pi/2``
    (one shift vector per string, or ``None`` for theta = 0). Returns a new batch."""
    out = PauliBatch(pb.x.copy(), pb.z.copy(), pb.r.copy())
    s = None if shifts is None else _check_shifts(circuit, shifts)
    if s is not None and len(s) not in (1, len(out)):
        raise ValueError(f"{len(s)} shift vectors for {len(out)} strings")
    for op in reversed(circuit.ops[stop:]):
        if isinstance(op, Rotation):
            if s is None:
                continue  # identity at theta = 0
            steps = s[:, op.param]
            if not steps.any():
                continue
            _conjugate_rotation(out, op, steps, signed)
        else:
            _conjugate_gate(out, op, signed)
    return out


def zero_expectation(pb: PauliBatch) -> np.ndarray:
    """:math:`\\langle 0^N|Q|0^N\\rangle` for each string: its sign if Z/I, else 0."""
    diag = ~pb.x.any(axis=1)
    if np.any(diag & (pb.r % 2 == 1)):
        raise ValueError("non-Hermitian string (odd phase) in the batch")
    return np.where(diag, np.where(pb.r % 4 == 0, 1.0, -1.0), 0.0)


def clifford_cost(circuit: Circuit, observable: PauliSum | str, shifts) -> np.ndarray:
    """:math:`C(\\tfrac\\pi2 s)` for each integer shift vector ``s`` (rows of ``shifts``)."""
    obs = PauliSum.coerce(observable, circuit.num_qubits)
    s = _check_shifts(circuit, shifts)
    total = np.zeros(len(s))
    for c, p in obs.terms:
        pb = PauliBatch.from_strings([p]).repeat(len(s))
        total += c * zero_expectation(propagate(circuit, pb, s))
    return total


def clifford_gradient(circuit: Circuit, observable: PauliSum | str) -> np.ndarray:
    """Signed :math:`\\nabla C(0)` by the parameter-shift rule at Clifford points (exact)."""
    d = circuit.num_params
    eye = np.eye(d, dtype=np.int64)
    values = clifford_cost(circuit, observable, np.concatenate([eye, -eye]))
    return (values[:d] - values[d:]) / 2


def gradient_support(circuit: Circuit, pauli: str) -> np.ndarray:
    """Sign-free :math:`|\\partial_k C(0)| \\in \\{0, 1\\}` for all ``k``, one backward sweep.

    Rows of a letters-only batch hold :math:`P_k O_k` once the sweep has passed gate ``k``
    (rows of earlier gates are still the identity, which every gate leaves alone).
    """
    obs = PauliSum.coerce(pauli, circuit.num_qubits)
    if len(obs) != 1:
        raise ValueError("gradient_support needs a single Pauli string; for sums use "
                         "clifford_gradient (signed)")
    d, n = circuit.num_params, circuit.num_qubits
    o = PauliBatch.from_strings([obs.paulis[0]])
    rows = PauliBatch(np.zeros((d, n), bool), np.zeros((d, n), bool))
    active = np.zeros(d, dtype=bool)
    for op in reversed(circuit.ops):
        if isinstance(op, Rotation):
            qs = list(op.qubits)
            px, pz = pauli_bits(op.pauli)
            anti = (np.sum(o.x[0, qs] & pz) + np.sum(o.z[0, qs] & px)) % 2 == 1
            if anti:
                k = op.param
                rows.x[k], rows.z[k] = o.x[0], o.z[0]
                rows.x[k, qs] ^= px
                rows.z[k, qs] ^= pz
                active[k] = True
            continue
        _conjugate_gate(o, op, signed=False)
        _conjugate_gate(rows, op, signed=False)
    return (active & ~rows.x.any(axis=1)).astype(float)


def clifford_gradient_norm(circuit: Circuit, pauli: str) -> float:
    """:math:`\\|\\nabla C(0)\\|_2` of a single Pauli observable: sqrt of the support size."""
    return float(np.sqrt(gradient_support(circuit, pauli).sum()))
