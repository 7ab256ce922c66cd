"""Quantum circuits for the lce-quantum paper (arXiv 2507.06344): a NumPy statevector simulator
with adjoint gradients, Pauli propagation at Clifford points, the paper's ansätze, the Linear
Clifford Encoder and the Taylor surrogate. An optional JAX backend
(:mod:`common.quantum.jax_backend`, imported on use) runs the same circuits on an accelerator.

Conventions (every module): qubit ``q`` is letter ``q`` of a Pauli string and axis ``q`` of a
state's ``(2,)*N`` view (qubit 0 the most significant bit); rotations are
``exp(-i theta P / 2)``; the cost is ``C(theta) = <0|U(theta)^† O U(theta)|0>``.
"""

from common.quantum.ansatz import ANSATZE, efficient_su2, entangler_pairs, fhea, mhea, rpqc
from common.quantum.circuit import GATES, Circuit, Gate, Rotation
from common.quantum.hamiltonians import (
    HAMILTONIANS,
    biased_heisenberg,
    global_z,
    ground_energy,
    heisenberg,
)
from common.quantum.lce import LCE, choose_lce_official, lce_for, linear_clifford_encoder
from common.quantum.optimize import gradient_descent, random_walk
from common.quantum.pauli_propagation import (
    PauliBatch,
    clifford_cost,
    clifford_gradient,
    clifford_gradient_norm,
    gradient_support,
    propagate,
)
from common.quantum.paulis import PauliSum, commutes, random_pauli
from common.quantum.statevector import cost, cost_and_grad, finite_difference_gradient, gradient
from common.quantum.taylor import (
    TaylorSurrogate,
    naive_count,
    shift_count,
    truncation_bound,
    truncation_order,
    truncation_order_official,
)

__all__ = [
    "ANSATZE", "efficient_su2", "entangler_pairs", "fhea", "mhea", "rpqc",
    "GATES", "Circuit", "Gate", "Rotation",
    "HAMILTONIANS", "biased_heisenberg", "global_z", "ground_energy", "heisenberg",
    "LCE", "choose_lce_official", "lce_for", "linear_clifford_encoder",
    "gradient_descent", "random_walk",
    "PauliBatch", "clifford_cost", "clifford_gradient", "clifford_gradient_norm",
    "gradient_support", "propagate",
    "PauliSum", "commutes", "random_pauli",
    "cost", "cost_and_grad", "finite_difference_gradient", "gradient",
    "TaylorSurrogate", "naive_count", "shift_count", "truncation_bound", "truncation_order",
    "truncation_order_official",
]
