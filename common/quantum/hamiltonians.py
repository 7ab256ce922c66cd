"""The observables of the paper's VQE experiments (official ``code_VQE`` / ``code_randomwalk``).

Terms are listed in the official order (the LCE picks a term by index with ``random.randint``).
The official strings are qiskit labels (qubit 0 last); we store them reversed, in qubit order,
so official term ``t`` of bond ``i`` (``'I'*i + 'XX' + ...``) acts on qubits ``N-2-i, N-1-i``.

- :func:`global_z`: :math:`Z^{\\otimes N}`; ground energy -1.
- :func:`heisenberg`: open chain :math:`\\sum_i X_iX_{i+1} + Y_iY_{i+1} + Z_iZ_{i+1}`.
- :func:`biased_heisenberg`: the couplings times :math:`1/(3N-3)` plus
  :math:`X^{\\otimes N} + Y^{\\otimes N} + Z^{\\otimes N}` (notes section 4; [code]).
"""

from __future__ import annotations

import numpy as np

from common.quantum.paulis import PauliSum

__all__ = ["global_z", "heisenberg", "biased_heisenberg", "ground_energy", "HAMILTONIANS"]


def _check_n(num_qubits: int, least: int = 1) -> None:
    if not isinstance(num_qubits, (int, np.integer)) or num_qubits < least:
        raise ValueError(f"num_qubits={num_qubits!r}: an integer >= {least}")


def global_z(num_qubits: int) -> PauliSum:
    """:math:`Z^{\\otimes N}` on ``num_qubits`` qubits (ground energy -1)."""
    _check_n(num_qubits)
    return PauliSum.from_pauli("Z" * num_qubits)


def _bond_terms(num_qubits: int, coeff: float) -> list[tuple[float, str]]:
    n = num_qubits
    terms = []
    for i in range(n - 1):
        for letter in "XYZ":
            label = "I" * i + letter * 2 + "I" * (n - i - 2)  # official (qiskit) label
            terms.append((coeff, label[::-1]))
    return terms


def heisenberg(num_qubits: int) -> PauliSum:
    """The open Heisenberg chain on ``num_qubits`` >= 2 qubits, terms in the official order."""
    _check_n(num_qubits, 2)
    return PauliSum.from_terms(_bond_terms(num_qubits, 1.0))


def biased_heisenberg(num_qubits: int) -> PauliSum:
    """The Heisenberg couplings times :math:`1/(3N-3)` plus the three global Paulis."""
    _check_n(num_qubits, 2)
    n = num_qubits
    terms = _bond_terms(n, 1.0 / (3 * n - 3))
    terms += [(1.0, letter * n) for letter in "XYZ"]
    return PauliSum.from_terms(terms)


def ground_energy(observable: PauliSum) -> float:
    """Smallest eigenvalue (dense for N <= 10, sparse Lanczos above; reference use)."""
    n = observable.num_qubits
    if n <= 10:
        return float(np.linalg.eigvalsh(observable.matrix())[0])
    from scipy.sparse.linalg import LinearOperator, eigsh

    from common.quantum.statevector import _apply_observable

    dim = 2 ** n
    op = LinearOperator((dim, dim), dtype=complex,
                        matvec=lambda v: _apply_observable(v.reshape(1, -1), observable)[0])
    return float(eigsh(op, k=1, which="SA", return_eigenvectors=False)[0])


HAMILTONIANS = {"global_z": global_z, "heisenberg": heisenberg,
                "biased_heisenberg": biased_heisenberg}
