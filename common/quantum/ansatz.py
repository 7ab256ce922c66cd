r"""The paper's ansätze, in the official gate and parameter order (arXiv 2507.06344, official code).

- **mHEA** = qiskit ``EfficientSU2(N, su2_gates=['ry', 'rz'], entanglement='circular', reps=L)``;
- **fHEA** = ``EfficientSU2(N, su2_gates=['rx', 'ry', 'rz'], entanglement='full', reps=L)``;
- **rPQC** = the official ``randomPQC(N, depth)``.

``EfficientSU2`` (qiskit's ``TwoLocal``) is ``L + 1`` rotation layers with an entangling layer
between consecutive ones. A rotation layer applies, for each gate type in ``su2_gates`` order, that
rotation on qubits 0..N-1; parameters are numbered in that order, so parameter
``l*G*N + g*N + q`` drives gate type ``g`` on qubit ``q`` in layer ``l`` (``G`` gate types), and
``D = G N (L + 1)``: ``2N(L+1)`` for the mHEA, ``3N(L+1)`` for the fHEA. Entangling layers are CX
gates (control, target):

- ``circular``: ``CX(N-1, 0)`` first, then ``CX(0, 1), CX(1, 2), ..., CX(N-2, N-1)``; for
  ``N = 2`` it is the linear chain ``CX(0, 1)`` alone (qiskit's rule);
- ``full``: every pair ``i < j`` in lexicographic order.

Qiskit numbers qubits the same way (qubit 0 = its ``q[0]``); only its printed Pauli labels are
reversed (see :mod:`common.quantum.paulis`). A test builds the same circuits with qiskit, when
installed, and compares gate by gate.

The rPQC (``depth`` layers, ``D = N depth``): per layer a rotation ``rng.choice(['rx', 'ry',
'rz'])`` on every qubit, then for every qubit ``H`` with probability 1/2 and, independently, ``S``
with probability 1/2 (``rng.random() < 0.5``, H first), then ``N`` CX gates on
``rng.sample(range(N), 2)`` (control, target). With a seeded ``random.Random`` this is the
official stream.
"""

from __future__ import annotations

import random as _random
from itertools import combinations

from common.quantum.circuit import Circuit, Gate, Rotation

__all__ = ["efficient_su2", "mhea", "fhea", "rpqc", "entangler_pairs", "ANSATZE",
           "num_params_hea"]

_SU2 = {"rx": "X", "ry": "Y", "rz": "Z"}


def entangler_pairs(num_qubits: int, entanglement: str) -> tuple[tuple[int, int], ...]:
    """CX pairs ``(control, target)`` of one entangling layer of qiskit's TwoLocal."""
    n = num_qubits
    if entanglement not in ("linear", "circular", "full"):
        raise ValueError(f"entanglement={entanglement!r}: allowed 'linear', 'circular', 'full'")
    if n < 2:
        return ()
    linear = tuple((i, i + 1) for i in range(n - 1))
    if entanglement == "linear":
        return linear
    if entanglement == "circular":
        return (((n - 1, 0),) + linear) if n > 2 else linear
    return tuple(combinations(range(n), 2))


def efficient_su2(num_qubits: int, su2_gates=("ry", "rz"), entanglement: str = "circular",
                  reps: int = 1) -> Circuit:
    """qiskit's ``EfficientSU2`` (``flatten=True``, final rotation layer kept)."""
    if not isinstance(num_qubits, int) or num_qubits < 1:
        raise ValueError(f"num_qubits={num_qubits!r}: a positive integer")
    if not isinstance(reps, int) or reps < 0:
        raise ValueError(f"reps={reps!r}: a non-negative integer (the number of entangling "
                         "layers L)")
    gates = tuple(su2_gates)
    bad = [g for g in gates if g not in _SU2]
    if not gates or bad:
        raise ValueError(f"su2_gates={su2_gates!r}: a non-empty sequence of {sorted(_SU2)}")
    pairs = entangler_pairs(num_qubits, entanglement)
    ops: list = []
    k = 0
    for layer in range(reps + 1):
        for g in gates:
            for q in range(num_qubits):
                ops.append(Rotation(_SU2[g], (q,), k))
                k += 1
        if layer < reps:
            ops.extend(Gate("cx", p) for p in pairs)
    return Circuit(num_qubits, tuple(ops))


def mhea(num_qubits: int, reps: int) -> Circuit:
    """The mHEA: RY and RZ layers, circular CX chain; D = 2N(L+1)."""
    return efficient_su2(num_qubits, ("ry", "rz"), "circular", reps)


def fhea(num_qubits: int, reps: int) -> Circuit:
    """The fHEA: RX, RY and RZ layers, CX on all pairs; D = 3N(L+1)."""
    return efficient_su2(num_qubits, ("rx", "ry", "rz"), "full", reps)


def rpqc(num_qubits: int, depth: int, rng: _random.Random) -> Circuit:
    """The official random PQC (module docstring); ``rng`` a ``random.Random``."""
    if not isinstance(num_qubits, int) or num_qubits < 2:
        raise ValueError(f"num_qubits={num_qubits!r}: an integer >= 2 (CX pairs need two qubits)")
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth={depth!r}: a positive integer")
    ops: list = []
    k = 0
    for _ in range(depth):
        for q in range(num_qubits):
            ops.append(Rotation(_SU2[rng.choice(["rx", "ry", "rz"])], (q,), k))
            k += 1
        for q in range(num_qubits):
            if rng.random() < 0.5:
                ops.append(Gate("h", (q,)))
            if rng.random() < 0.5:
                ops.append(Gate("s", (q,)))
        for _ in range(num_qubits):
            ops.append(Gate("cx", tuple(rng.sample(range(num_qubits), 2))))
    return Circuit(num_qubits, tuple(ops))


def num_params_hea(kind: str, num_qubits: int, reps: int) -> int:
    """D of the mHEA (``2N(L+1)``) or the fHEA (``3N(L+1)``)."""
    per = {"mhea": 2, "fhea": 3}
    if kind not in per:
        raise ValueError(f"kind={kind!r}: allowed {sorted(per)}")
    return per[kind] * num_qubits * (reps + 1)


#: Builders by name: ``ANSATZE[name](num_qubits, layers, rng)``; for the HEAs ``layers`` is L
#: (reps), for the rPQC it is the depth.
ANSATZE = {
    "mhea": lambda n, layers, rng=None: mhea(n, layers),
    "fhea": lambda n, layers, rng=None: fhea(n, layers),
    "rpqc": lambda n, layers, rng: rpqc(n, layers, rng),
}
