"""The simulator against independent simulators from the `reference` extra (skipped if absent).

- ``stim`` (Gidney 2021, arXiv 2103.02202): a stabilizer tableau simulator. At Clifford points
  (theta = s pi/2) it gives <P> in {-1, 0, 1}; our signed Pauli propagation, the statevector
  simulator and the LCE guarantee must agree with it exactly (tolerance 1e-10 for the
  statevector's round-off).
- ``qiskit``: its ``efficient_su2`` builder (the official ansatz) must list the same gates, qubits
  and parameter order as ours, and its ``Statevector`` must give the same costs at random angles
  (1e-12: both are exact up to round-off on <= 6 qubits). Gradients are checked against the exact
  parameter-shift rule evaluated with qiskit's costs (1e-10).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from common.quantum import (
    ANSATZE,
    Circuit,
    Gate,
    PauliSum,
    Rotation,
    clifford_cost,
    fhea,
    linear_clifford_encoder,
    mhea,
    random_pauli,
)
from common.quantum import statevector as sv

_STIM_ROT = {("X", 1): "SQRT_X", ("X", 2): "X", ("X", 3): "SQRT_X_DAG",
             ("Y", 1): "SQRT_Y", ("Y", 2): "Y", ("Y", 3): "SQRT_Y_DAG",
             ("Z", 1): "S", ("Z", 2): "Z", ("Z", 3): "S_DAG"}
_STIM_GATE = {"h": "H", "s": "S", "sdg": "S_DAG", "x": "X", "y": "Y", "z": "Z", "cx": "CX",
              "cz": "CZ", "swap": "SWAP"}


def _stim_expectation(stim, circ: Circuit, shift, pauli: str) -> float:
    """<0|U^† P U|0> at theta = shift * pi/2 by stim's tableau simulator (global phases drop)."""
    sim = stim.TableauSimulator()
    sim.set_num_qubits(circ.num_qubits)
    for op in circ.ops:
        if isinstance(op, Gate):
            sim.do(stim.Circuit(f"{_STIM_GATE[op.name]} {' '.join(map(str, op.qubits))}"))
        else:
            t = int(shift[op.param]) % 4
            if t:
                sim.do(stim.Circuit(f"{_STIM_ROT[(op.pauli, t)]} {op.qubits[0]}"))
    return float(sim.peek_observable_expectation(stim.PauliString("+" + pauli)))


@pytest.mark.parametrize("builder", ["mhea", "fhea", "rpqc"])
def test_clifford_values_against_stim(builder):
    stim = pytest.importorskip("stim", reason="stim is in the `reference` extra")
    for seed in range(5):
        rng = random.Random(seed)
        n = 2 + seed
        circ = ANSATZE[builder](n, 2, rng)
        p = random_pauli(n, rng)
        shifts = np.random.default_rng(seed).integers(-3, 4, size=(6, circ.num_params))
        ours = clifford_cost(circ, p, shifts)
        theirs = [_stim_expectation(stim, circ, s, p) for s in shifts]
        np.testing.assert_array_equal(ours, theirs)
        if n <= 6:
            np.testing.assert_allclose(sv.cost(circ, p, shifts * np.pi / 2), theirs, atol=1e-10)


def test_lce_guarantee_against_stim_at_larger_n():
    """C_LCE(0) = 0 and C_LCE(+-pi/2 e_k) = +-s with |s| = 1, by stim, up to N = 24."""
    stim = pytest.importorskip("stim", reason="stim is in the `reference` extra")
    for n in (12, 24):
        for seed in range(5):
            rng = random.Random(seed)
            circ = mhea(n, 1)
            p = random_pauli(n, rng)
            k = rng.randint(0, circ.num_params - 1)
            lce = linear_clifford_encoder(circ, p, k).circuit
            zero = np.zeros(circ.num_params, dtype=int)
            plus, minus = zero.copy(), zero.copy()
            plus[k], minus[k] = 1, -1
            assert _stim_expectation(stim, lce, zero, p) == 0.0
            cp, cm = _stim_expectation(stim, lce, plus, p), _stim_expectation(stim, lce, minus, p)
            assert abs(cp) == 1.0 and cm == -cp


def _to_qiskit(circ: Circuit, theta):
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(circ.num_qubits)
    for op in circ.ops:
        if isinstance(op, Gate):
            getattr(qc, op.name)(*op.qubits)
        else:
            assert len(op.qubits) == 1
            getattr(qc, "r" + op.pauli.lower())(float(theta[op.param]), op.qubits[0])
    return qc


@pytest.mark.parametrize("n, reps, gates, ent", [
    (2, 2, ("ry", "rz"), "circular"), (3, 1, ("ry", "rz"), "circular"),
    (5, 3, ("ry", "rz"), "circular"), (4, 2, ("rx", "ry", "rz"), "full"),
])
def test_ansatz_gate_and_parameter_order_against_qiskit(n, reps, gates, ent):
    pytest.importorskip("qiskit", reason="qiskit is in the `reference` extra")
    from qiskit.circuit.library import efficient_su2

    qc = efficient_su2(n, su2_gates=list(gates), entanglement=ent, reps=reps)
    params = list(qc.parameters)
    ours = (mhea(n, reps) if ent == "circular" else fhea(n, reps)).ops
    theirs = []
    for inst in qc.data:
        qubits = tuple(qc.find_bit(q).index for q in inst.qubits)
        if inst.operation.name == "cx":
            theirs.append(Gate("cx", qubits))
        else:
            k = params.index(inst.operation.params[0])
            theirs.append(Rotation(inst.operation.name[-1].upper(), qubits, k))
    assert tuple(theirs) == ours


def test_costs_and_shift_gradients_against_qiskit_statevector():
    pytest.importorskip("qiskit", reason="qiskit is in the `reference` extra")
    from qiskit.quantum_info import SparsePauliOp, Statevector

    for seed in range(4):
        rng = random.Random(seed)
        n = 3 + seed % 3
        circ = ANSATZE[rng.choice(["mhea", "fhea", "rpqc"])](n, 2, rng)
        p = random_pauli(n, rng)
        circ = linear_clifford_encoder(circ, p, rng.randint(0, circ.num_params - 1)).circuit
        obs = PauliSum.from_terms([(0.8, p), (-0.4, random_pauli(n, rng))])
        op = SparsePauliOp([q[::-1] for _, q in obs.terms], obs.coeffs)  # qiskit: qubit 0 last

        def qiskit_cost(th, circ=circ, op=op):
            return float(np.real(Statevector(_to_qiskit(circ, th)).expectation_value(op)))

        theta = np.random.default_rng(seed).normal(size=circ.num_params)
        value, grad = sv.cost_and_grad(circ, obs, theta)
        assert value == pytest.approx(qiskit_cost(theta), abs=1e-12)
        eye = np.eye(circ.num_params) * np.pi / 2
        shift = [(qiskit_cost(theta + e) - qiskit_cost(theta - e)) / 2 for e in eye[:12]]
        np.testing.assert_allclose(grad[:12], shift, atol=1e-10)
