r"""The Linear Clifford Encoder (LCE) of Meyer, Scala, Tacchino and Lucchi (arXiv 2507.06344).

Input: a circuit :math:`U(\theta)`, a Pauli observable :math:`P` (for a Hamiltonian, one of its
terms) and a parameter index ``k`` whose rotation is :math:`R_V` on qubit ``j``,
:math:`V \in \{X, Y, Z\}`. Output: :math:`U_{\text{LCE}}(\theta) = \tilde Q\,U(\theta)\,Q` — ``Q``
acts first on :math:`|0\rangle`, :math:`\tilde Q` last before the measurement; both are Clifford and
built in polynomial time. The guarantee [derived in the notes, checked here by tests and in
notebook 01 for every seed] is

.. math::  C_{\text{LCE}}(0) = 0, \qquad |\partial_k C_{\text{LCE}}(0)| = 1,

so :math:`\|\nabla C_{\text{LCE}}(0)\| \ge 1` at every qubit count and depth.

1. **Phase inducer** :math:`\tilde Q`. Let :math:`W_a` be the fixed gates of ``U`` after gate ``k``
   (:math:`U` at :math:`\theta = 0` after gate ``k``). :math:`\tilde Q` is :math:`W_a^{-1}`
   followed by a fix-up ``W`` that makes :math:`P_{\text{eff}} = W^\dagger P W` anticommute with
   :math:`V_j`:

   - :math:`P_j \notin \{I, V\}`: no fix-up;
   - :math:`P_j = V`: ``W = H_j`` if :math:`V \in \{X, Z\}`, ``W = S_j`` if :math:`V = Y`;
   - :math:`P_j = I`: ``i`` = the first qubit with :math:`P_i \ne I`;
     :math:`W_1 = CX(i \to j)` if :math:`P_i \in \{X, Y\}`, :math:`CX(j \to i)` if
     :math:`P_i = Z`; if :math:`(W_1^\dagger P W_1)_j = V`, add :math:`W_2` = ``H_j`` or ``S_j``
     as above. In time order:
     :math:`W_a^{-1}`, then :math:`W_2`, then :math:`W_1` (pitfall 8: the other order gives
     :math:`\partial_k C(0) = 0`).

2. **Diagonaliser** ``Q``. :math:`\tilde P` = the letters of :math:`P` pulled back through
   :math:`\tilde Q \circ U` at the shifted Clifford point :math:`\theta = (\pi/2)e_k`. ``Q`` applies
   per qubit ``H`` where :math:`\tilde P_q = X` and ``H`` then ``S`` where
   :math:`\tilde P_q = Y`, so
   :math:`Q^\dagger \tilde P Q` is a Z/I string: :math:`C(\pm\frac\pi2 e_k) = \pm s`, hence
   :math:`\partial_k C(0) = s = \pm 1`; and :math:`P_{\text{eff}}` anticommutes with
   :math:`i V P_{\text{eff}}`, so its pull-back anticommutes with a Z/I string and
   :math:`C(0) = 0`.

This follows the official ``LinearCliffordEncoder`` (qiskit; its string reversals are not needed
here: our strings are in qubit order). Unlike it, nothing is mutated (pitfall 6).
"""

from __future__ import annotations

import random as _random
from dataclasses import dataclass

import numpy as np

from common.quantum.circuit import Circuit, Gate
from common.quantum.pauli_propagation import PauliBatch, propagate
from common.quantum.paulis import PauliSum, check_pauli

__all__ = ["LCE", "phase_inducer", "diagonaliser", "linear_clifford_encoder", "lce_for",
           "choose_lce_official"]


def _conj_letters(pauli: str, gates: tuple[Gate, ...]) -> str:
    """Letters of ``W^† P W`` for ``W`` = the gates in time order (sign dropped)."""
    circ = Circuit(len(pauli), gates)
    return propagate(circ, PauliBatch.from_strings([pauli]), signed=False).letters()[0]


def _fixup(v: str, j: int) -> Gate:
    return Gate("s" if v == "Y" else "h", (j,))


def _phase_inducer(circuit: Circuit, k: int, pauli: str) -> tuple[tuple[Gate, ...], str]:
    n = circuit.num_qubits
    check_pauli(pauli, n)
    pos = circuit.position(circuit.check_param_index(k))
    rot = circuit.ops[pos]
    if len(rot.qubits) != 1:
        raise ValueError(f"the LCE needs a single-qubit rotation at k={k}, got {rot}")
    v, j = rot.pauli, rot.qubits[0]
    undo = tuple(g.inverse() for g in reversed(circuit.clifford_at_zero(pos + 1)))
    pj = pauli[j]
    if pj != "I":
        return (undo, "anticommutes") if pj != v else (undo + (_fixup(v, j),), "P_j = V")
    i = next(q for q, c in enumerate(pauli) if c != "I")
    w1 = Gate("cx", (i, j)) if pauli[i] in "XY" else Gate("cx", (j, i))
    if _conj_letters(pauli, (w1,))[j] != v:
        return undo + (w1,), "P_j = I"
    return undo + (_fixup(v, j), w1), "P_j = I + W2"   # time order: W_2 first, then W_1


def phase_inducer(circuit: Circuit, k: int, pauli: str) -> tuple[Gate, ...]:
    """:math:`\\tilde Q` as fixed gates in time order (step 1 of the module docstring)."""
    return _phase_inducer(circuit, k, pauli)[0]


def diagonaliser(letters: str) -> tuple[Gate, ...]:
    """``Q`` in time order: ``H`` on X letters, ``H`` then ``S`` on Y letters."""
    gates: list[Gate] = []
    for q, c in enumerate(check_pauli(letters)):
        if c == "X":
            gates.append(Gate("h", (q,)))
        elif c == "Y":
            gates.extend((Gate("h", (q,)), Gate("s", (q,))))
    return tuple(gates)


@dataclass(frozen=True)
class LCE:
    """An encoded circuit and how it was built."""

    circuit: Circuit            # Q, then U, then Q~ (time order)
    k: int                      # the parameter whose derivative is fixed to +-1
    pauli: str                  # the Pauli string the construction used
    q_in: tuple[Gate, ...]      # the diagonaliser Q
    q_out: tuple[Gate, ...]     # the phase inducer Q~
    branch: str                 # "anticommutes", "P_j = V", "P_j = I", "P_j = I + W2"

    def effective(self, observable: PauliSum | str) -> tuple[np.ndarray, PauliSum]:
        """The same cost on the bare ansatz: ``(Q|0>, Q~^† O Q~)``.

        :math:`C_{\\text{LCE}}(\\theta) = \\langle\\psi_0|U^\\dagger O' U|\\psi_0\\rangle` with
        :math:`|\\psi_0\\rangle = Q|0\\rangle` (a product state) and
        :math:`O' = \\tilde Q^\\dagger O \\tilde Q` (signed Pauli terms), so an accelerator
        program compiled once for ``U`` serves every seed's LCE
        (:mod:`common.quantum.jax_backend`).
        """
        from common.quantum.statevector import run

        n = self.circuit.num_qubits
        obs = PauliSum.coerce(observable, n)
        pb = propagate(Circuit(n, self.q_out), PauliBatch.from_strings(obs.paulis))
        terms = [(c * s, p) for (c, _), s, p in zip(obs.terms, pb.signs(), pb.letters())]
        psi0 = run(Circuit(n, self.q_in), np.zeros(0))
        return psi0, PauliSum.from_terms(terms)


def linear_clifford_encoder(circuit: Circuit, pauli: str, k: int) -> LCE:
    """:math:`U_{\\text{LCE}} = \\tilde Q\\,U\\,Q` for observable letters ``pauli``, index ``k``.
    """
    q_out, branch = _phase_inducer(circuit, k, pauli)
    u_prime = circuit.then(*q_out)
    shift = np.zeros(circuit.num_params, dtype=np.int64)
    shift[k] = 1
    p_tilde = propagate(u_prime, PauliBatch.from_strings([pauli]), shift[None], signed=False)
    q_in = diagonaliser(p_tilde.letters()[0])
    return LCE(u_prime.after(*q_in), int(k), pauli, q_in, q_out, branch)


def lce_for(circuit: Circuit, observable: PauliSum | str, k: int, term: int = 0) -> LCE:
    """The LCE built from term ``term`` of an observable (a Hamiltonian's LCE uses one term)."""
    obs = PauliSum.coerce(observable, circuit.num_qubits)
    if not 0 <= term < len(obs):
        raise ValueError(f"term={term}: an index in [0, {len(obs) - 1}]")
    return linear_clifford_encoder(circuit, obs.paulis[term], k)


def choose_lce_official(circuit: Circuit, observable: PauliSum, rng: _random.Random) -> LCE:
    """The official VQE choice: ``term = rng.randint(0, T-1)`` then ``k = rng.randint(0, D-1)``."""
    term = rng.randint(0, len(observable) - 1)
    k = rng.randint(0, circuit.num_params - 1)
    return lce_for(circuit, observable, k, term)

