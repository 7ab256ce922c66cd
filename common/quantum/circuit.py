r"""Parametrised quantum circuits as immutable data: fixed gates and Pauli rotations.

A :class:`Circuit` is ``num_qubits`` and a tuple of operations in time order (the first acts
first on :math:`|0^N\rangle`):

- :class:`Gate` — a fixed gate from :data:`GATES` (``h, s, sdg, x, y, z, cx, cz, swap``) on
  one or two qubits (``cx`` is ``(control, target)``);
- :class:`Rotation` — :math:`R_P(\theta_k) = \exp(-i\theta_k P/2)` for a Pauli string ``P`` on
  the listed qubits (``"Y"`` on ``(3,)`` is qiskit's ``ry`` on qubit 3), driven by parameter
  ``k``. Each parameter drives exactly one rotation (true of every ansatz in the paper, and what
  the parameter-shift and higher-order shift rules of :mod:`common.quantum.taylor` need).

:math:`R_P(\theta)` is Clifford when :math:`\theta \in (\pi/2)\mathbb Z`; at
:math:`\theta = 0` it is the identity, so :meth:`Circuit.clifford_at_zero` (the fixed gates alone)
is :math:`U(0)`.

Gate matrices and their Heisenberg action on Paulis are tables (data): :data:`GATES` holds the
matrix and, for each generator :math:`X_q, Z_q` of the gate's qubits, the image
:math:`G^\dagger X_q G`, :math:`G^\dagger Z_q G` in the symplectic form of
:mod:`common.quantum.paulis` (bits over the gate's qubits and a power of :math:`i`). A test checks
every table against the matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from common.quantum.paulis import check_pauli

__all__ = ["Gate", "Rotation", "Circuit", "GateSpec", "GATES", "PAULI_MATRICES", "INVERSE",
           "rotation_matrix"]

_S2 = 1 / np.sqrt(2)
PAULI_MATRICES = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}


class GateSpec(NamedTuple):
    """A fixed gate: its matrix (qubit order as listed, first = most significant) and the
    Heisenberg images ``G^† g G`` of the generators ``g = X_1, Z_1, X_2, Z_2, ...`` of its
    qubits, each as ``(x bits, z bits, power of i)`` over the gate's qubits."""

    num_qubits: int
    matrix: np.ndarray
    images: tuple[tuple[tuple[int, ...], tuple[int, ...], int], ...]


def _cx() -> np.ndarray:
    m = np.eye(4, dtype=complex)
    m[[2, 3]] = m[[3, 2]]
    return m


#: The fixed gates. Images: H^† X H = Z, H^† Z H = X; S^† X S = -Y = -i XZ (power 3);
#: S X S^† = Y = i XZ (power 1); CX(c, t): X_c -> X_c X_t, Z_t -> Z_c Z_t; CZ: X_a -> X_a Z_b.
GATES: dict[str, GateSpec] = {
    "h": GateSpec(1, np.array([[_S2, _S2], [_S2, -_S2]], dtype=complex),
                  (((0,), (1,), 0), ((1,), (0,), 0))),
    "s": GateSpec(1, np.diag([1, 1j]).astype(complex), (((1,), (1,), 3), ((0,), (1,), 0))),
    "sdg": GateSpec(1, np.diag([1, -1j]).astype(complex), (((1,), (1,), 1), ((0,), (1,), 0))),
    "x": GateSpec(1, PAULI_MATRICES["X"], (((1,), (0,), 0), ((0,), (1,), 2))),
    "y": GateSpec(1, PAULI_MATRICES["Y"], (((1,), (0,), 2), ((0,), (1,), 2))),
    "z": GateSpec(1, PAULI_MATRICES["Z"], (((1,), (0,), 2), ((0,), (1,), 0))),
    "cx": GateSpec(2, _cx(), (((1, 1), (0, 0), 0), ((0, 0), (1, 0), 0),
                              ((0, 1), (0, 0), 0), ((0, 0), (1, 1), 0))),
    "cz": GateSpec(2, np.diag([1, 1, 1, -1]).astype(complex),
                   (((1, 0), (0, 1), 0), ((0, 0), (1, 0), 0),
                    ((0, 1), (1, 0), 0), ((0, 0), (0, 1), 0))),
    "swap": GateSpec(2, np.eye(4, dtype=complex)[[0, 2, 1, 3]],
                     (((0, 1), (0, 0), 0), ((0, 0), (0, 1), 0),
                      ((1, 0), (0, 0), 0), ((0, 0), (1, 0), 0))),
}
#: The inverse of each fixed gate.
INVERSE = {"h": "h", "s": "sdg", "sdg": "s", "x": "x", "y": "y", "z": "z", "cx": "cx",
           "cz": "cz", "swap": "swap"}


def rotation_matrix(pauli: str, theta: float) -> np.ndarray:
    r""":math:`\exp(-i\theta P/2) = \cos(\theta/2) I - i \sin(\theta/2) P` as a dense matrix."""
    m = np.ones((1, 1), dtype=complex)
    for letter in check_pauli(pauli):
        m = np.kron(m, PAULI_MATRICES[letter])
    return np.cos(theta / 2) * np.eye(len(m)) - 1j * np.sin(theta / 2) * m


@dataclass(frozen=True)
class Gate:
    """A fixed gate ``name`` (a key of :data:`GATES`) on ``qubits``."""

    name: str
    qubits: tuple[int, ...]

    def __post_init__(self):
        if self.name not in GATES:
            raise ValueError(f"Gate name={self.name!r}: allowed are {sorted(GATES)}")
        object.__setattr__(self, "qubits", tuple(int(q) for q in self.qubits))
        if len(self.qubits) != GATES[self.name].num_qubits:
            raise ValueError(f"Gate {self.name!r} acts on {GATES[self.name].num_qubits} "
                             f"qubit(s), got qubits={self.qubits}")
        if len(set(self.qubits)) != len(self.qubits):
            raise ValueError(f"Gate {self.name!r}: qubits={self.qubits} must be distinct")

    def inverse(self) -> Gate:
        return Gate(INVERSE[self.name], self.qubits)


@dataclass(frozen=True)
class Rotation:
    r""":math:`\exp(-i\theta_{\text{param}} P/2)`, ``P`` the letters ``pauli`` on ``qubits``."""

    pauli: str
    qubits: tuple[int, ...]
    param: int

    def __post_init__(self):
        check_pauli(self.pauli, name="Rotation pauli")
        if "I" in self.pauli:
            raise ValueError(f"Rotation pauli={self.pauli!r}: list only the qubits it acts on "
                             "(no 'I')")
        object.__setattr__(self, "qubits", tuple(int(q) for q in self.qubits))
        if len(self.qubits) != len(self.pauli) or len(set(self.qubits)) != len(self.qubits):
            raise ValueError(f"Rotation: qubits={self.qubits} must be distinct, one per letter of "
                             f"{self.pauli!r}")
        if int(self.param) < 0:
            raise ValueError(f"Rotation param={self.param}: a parameter index >= 0")
        object.__setattr__(self, "param", int(self.param))


Op = Gate | Rotation


@dataclass(frozen=True)
class Circuit:
    """``num_qubits`` and operations in time order; parameters ``0 .. num_params - 1`` each
    drive exactly one :class:`Rotation`."""

    num_qubits: int
    ops: tuple[Op, ...]

    def __post_init__(self):
        if not isinstance(self.num_qubits, (int, np.integer)) or self.num_qubits < 1:
            raise ValueError(f"num_qubits={self.num_qubits!r}: a positive integer")
        ops = tuple(self.ops)
        for op in ops:
            if not isinstance(op, (Gate, Rotation)):
                raise TypeError(f"Circuit ops must be Gate or Rotation, got {type(op).__name__}")
            if any(not 0 <= q < self.num_qubits for q in op.qubits):
                raise ValueError(f"{op} acts outside qubits 0..{self.num_qubits - 1}")
        params = sorted(op.param for op in ops if isinstance(op, Rotation))
        if params != list(range(len(params))):
            raise ValueError("rotation parameters must be 0..D-1, each used once; got "
                             f"{params[:20]}{'...' if len(params) > 20 else ''}")
        object.__setattr__(self, "ops", ops)

    @property
    def num_params(self) -> int:
        return sum(isinstance(op, Rotation) for op in self.ops)

    @property
    def rotations(self) -> tuple[Rotation, ...]:
        """The rotations ordered by parameter index (``rotations[k].param == k``)."""
        rots = [op for op in self.ops if isinstance(op, Rotation)]
        return tuple(sorted(rots, key=lambda r: r.param))

    def position(self, k: int) -> int:
        """Index in ``ops`` of the rotation driven by parameter ``k``."""
        self.check_param_index(k)
        for i, op in enumerate(self.ops):
            if isinstance(op, Rotation) and op.param == k:
                return i
        raise AssertionError("unreachable")  # pragma: no cover

    def check_param_index(self, k: int, name: str = "k") -> int:
        if not isinstance(k, (int, np.integer)) or not 0 <= k < self.num_params:
            raise ValueError(f"{name}={k!r}: a parameter index in [0, {self.num_params - 1}]")
        return int(k)

    def check_theta(self, theta, name: str = "theta") -> np.ndarray:
        """``theta`` as a float array of shape (D,) or (B, D); a clear error otherwise."""
        arr = np.asarray(theta, dtype=float)
        if arr.ndim not in (1, 2) or arr.shape[-1] != self.num_params:
            raise ValueError(f"{name} has shape {arr.shape}; expected ({self.num_params},) or "
                             f"(batch, {self.num_params}) for this circuit")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} has non-finite entries")
        return arr

    def then(self, *ops_or_circuits) -> Circuit:
        """This circuit followed by fixed gates or parameter-free circuits (time order)."""
        ops = list(self.ops)
        for item in ops_or_circuits:
            if isinstance(item, Circuit):
                if item.num_params:
                    raise ValueError("then(): appended circuits must be parameter-free")
                ops.extend(item.ops)
            elif isinstance(item, Gate):
                ops.append(item)
            else:
                raise TypeError(f"then(): expected Gate or Circuit, got {type(item).__name__}")
        return Circuit(self.num_qubits, tuple(ops))

    def after(self, *gates: Gate) -> Circuit:
        """Fixed gates applied before this circuit (time order), then this circuit."""
        for g in gates:
            if not isinstance(g, Gate):
                raise TypeError(f"after(): expected Gate, got {type(g).__name__}")
        return Circuit(self.num_qubits, tuple(gates) + self.ops)

    def clifford_at_zero(self, start: int = 0, stop: int | None = None) -> tuple[Gate, ...]:
        """The fixed gates of ``ops[start:stop]``: the circuit segment at theta = 0."""
        return tuple(op for op in self.ops[start:stop] if isinstance(op, Gate))

    def count(self, name: str) -> int:
        """Number of fixed gates called ``name`` (or of rotations, for ``"rotation"``)."""
        if name == "rotation":
            return self.num_params
        return sum(isinstance(op, Gate) and op.name == name for op in self.ops)

    def matrix(self, theta) -> np.ndarray:
        """The dense unitary (reference use only; qubit 0 most significant)."""
        theta = self.check_theta(theta)
        if theta.ndim != 1:
            raise ValueError("matrix(): one parameter vector")
        n = self.num_qubits
        u = np.eye(2 ** n, dtype=complex)
        for op in self.ops:
            if isinstance(op, Gate):
                local = GATES[op.name].matrix
                qubits = op.qubits
            else:
                local = rotation_matrix(op.pauli, theta[op.param])
                qubits = op.qubits
            u = _embed(local, qubits, n) @ u
        return u


def _embed(local: np.ndarray, qubits: tuple[int, ...], n: int) -> np.ndarray:
    """A local matrix on ``qubits`` as a full 2^n x 2^n matrix (dense reference)."""
    k = len(qubits)
    others = [q for q in range(n) if q not in qubits]
    full = np.kron(local, np.eye(2 ** (n - k)))  # acts on (qubits..., others...) order
    perm = list(qubits) + others                  # position i of that order holds qubit perm[i]
    t = full.reshape((2,) * (2 * n))
    inv = np.argsort(perm)
    t = t.transpose(list(inv) + [n + i for i in inv])
    return t.reshape(2 ** n, 2 ** n)
