"""The JAX statevector backend against the NumPy simulator (its reference), on the CPU.

Double precision: values and gradients agree to 1e-12 (both exact up to round-off on 3 qubits);
single precision: 1e-5 (complex64 round-off, ~1e-7 per gate over ~30 gates, with margin).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("jax", reason="the JAX backend needs the `sde` extra")

from common.quantum import heisenberg, linear_clifford_encoder, mhea, random_pauli
from common.quantum import statevector as sv
from common.quantum.jax_backend import make_cost_and_grad, resolve_jax_device


def test_jax_matches_numpy_in_double_and_single_precision():
    rng = random.Random(0)
    circ = mhea(3, 1)
    p = random_pauli(3, rng)
    lce = linear_clifford_encoder(circ, p, 4).circuit
    obs = heisenberg(3)
    theta = np.random.default_rng(0).normal(size=(3, circ.num_params))
    ref_v, ref_g = sv.cost_and_grad(lce, obs, theta)
    v, g = make_cost_and_grad(lce, obs, device="cpu")(theta)
    np.testing.assert_allclose(v, ref_v, atol=1e-12)
    np.testing.assert_allclose(g, ref_g, atol=1e-12)
    v1, g1 = make_cost_and_grad(lce, obs, device="cpu", precision="single")(theta[0])
    assert v1 == pytest.approx(ref_v[0], abs=1e-5)
    np.testing.assert_allclose(g1, ref_g[0], atol=1e-5)


def test_bad_device_and_precision():
    with pytest.raises(ValueError, match="precision"):
        make_cost_and_grad(mhea(2, 1), "ZZ", precision="half")
    with pytest.raises(ValueError, match="allowed"):
        resolve_jax_device("tpu9")


@pytest.mark.slow
def test_one_program_serves_every_lce_through_the_effective_problem():
    """C_LCE(theta) = <Q0|U^† (Q~^† O Q~) U|Q0>: the bare ansatz's program, LCE data as input."""
    from common.quantum.jax_backend import JaxStatevector

    circ = mhea(3, 1)
    program = JaxStatevector(circ, device="cpu")
    theta = np.random.default_rng(1).normal(size=(2, circ.num_params))
    for seed in range(4):
        rng = random.Random(seed)
        p = random_pauli(3, rng)
        lce = linear_clifford_encoder(circ, p, rng.randint(0, circ.num_params - 1))
        psi0, obs = lce.effective(heisenberg(3))
        ref_v, ref_g = sv.cost_and_grad(lce.circuit, heisenberg(3), theta)
        v, g = program.cost_and_grad(theta, obs, psi0)
        np.testing.assert_allclose(v, ref_v, atol=1e-12)
        np.testing.assert_allclose(g, ref_g, atol=1e-12)
        # the NumPy simulator takes the same effective problem
        v2, g2 = sv.cost_and_grad(circ, obs, theta, psi0=psi0)
        np.testing.assert_allclose(v2, ref_v, atol=1e-12)
        np.testing.assert_allclose(g2, ref_g, atol=1e-12)
