"""papers/lce-quantum/lib.py: official instances, the gradient and VQE runs on both backends (the
paper-scale code path on tiny shapes: JAX falls back to the CPU here), the sweep executors, and
the truncation-order replay."""

from __future__ import annotations

import random

import numpy as np
import pytest

from common.experiment import ConfigError
from common.project import paper_module
from common.quantum import linear_clifford_encoder, mhea
from common.quantum import statevector as sv

lib = paper_module("lce-quantum")


def test_official_instance_replays_the_official_streams():
    circ, pauli, k, thetas = lib.official_instance("mhea", 3, 3, 5)
    py, npr = random.Random(5), np.random.RandomState(5)
    letters = "".join(py.choice("IXYZ") for _ in range(3))
    assert pauli == letters[::-1] and k == py.randint(0, circ.num_params - 1)
    d = circ.num_params
    np.testing.assert_array_equal(thetas[0], npr.normal(0, 1 / d, d))
    np.testing.assert_array_equal(thetas[1], npr.normal(0, d ** -0.5, d))
    assert thetas.shape == (5, d)
    # the rPQC's gates come from their own derived stream: same seed, same circuit
    assert lib.official_instance("rpqc", 3, 2, 1)[0] == lib.official_instance("rpqc", 3, 2, 1)[0]


def test_gradient_trial_matches_direct_computation():
    t = lib.GradTrial(num_qubits=3, layers=2, seed=4)
    out = lib.gradient_trial(t)
    circ, pauli, k, thetas = lib.official_instance("mhea", 3, 2, 4)
    lce = linear_clifford_encoder(circ, pauli, k)
    np.testing.assert_allclose(out["norm_lce"],
                               np.linalg.norm(sv.gradient(lce.circuit, pauli, thetas), axis=1))
    np.testing.assert_allclose(out["norm_plain"],
                               np.linalg.norm(sv.gradient(circ, pauli, thetas), axis=1))
    assert abs(out["c0_lce"]) < 1e-12 and abs(abs(out["dk0_lce"]) - 1) < 1e-12


@pytest.mark.slow
def test_jax_backend_runs_the_paper_scale_path_on_cpu():
    pytest.importorskip("jax")
    for ansatz in ("mhea", "rpqc"):
        t = lib.GradTrial(ansatz=ansatz, num_qubits=2, layers=1, seed=1)
        a, b = lib.gradient_trial(t), lib.gradient_trial(t.replace(backend="jax", device="auto"))
        for key in ("norm_lce", "norm_plain", "d0_lce"):
            np.testing.assert_allclose(a[key], b[key], atol=1e-10)
    v = lib.VQETrial(num_qubits=2, layers=1, num_steps=3, run=0, arm="LCE-GD")
    np.testing.assert_allclose(lib.vqe_trial(v)["losses"],
                               lib.vqe_trial(v.replace(backend="jax"))["losses"], atol=1e-10)


@pytest.mark.slow
def test_gradient_frame_local_executor_equals_debug(tmp_path):
    cfg = lib.GradientStudy(ns_linear=(2, 3), ns_shallow=(2, 3), num_seeds=2)
    runs_a, long_a = lib.gradient_frame(cfg, tmp_path / "a", executor="debug")
    runs_b, long_b = lib.gradient_frame(cfg, tmp_path / "b", executor="local")
    assert runs_a.equals(runs_b) and long_a.equals(long_b)
    assert len(runs_a) == 8 and set(long_a.sigma) == {s for s, _ in lib.SIGMAS}


def test_vqe_arms_and_the_hybrid_walk():
    base = dict(num_qubits=3, layers=1, num_steps=6, run=1, lr=0.1, random_steps=2)
    out = {arm: lib.vqe_trial(lib.VQETrial(arm=arm, **base)) for arm in lib.ARMS}
    for arm, r in out.items():
        assert np.asarray(r["losses"]).shape == (7, 4), arm
    # GD starts where the plain ansatz does; the hybrid's last steps are gradient steps
    np.testing.assert_allclose(out["GD"]["losses"][0], out["random walk"]["losses"][0])
    walk = np.asarray(out["random walk"]["losses"])
    assert np.all(np.abs(np.diff(walk, axis=0)) < 0.05)  # steps of length lr^2 = 0.01
    assert abs(out["LCE-GD"]["losses"][0][0]) < 0.2


def test_truncation_replay_and_clt_agree_in_law():
    curves = lib.truncation_curves([1, 11, 30], 1e-6, n_exact=11)
    m = curves.pivot_table(index="N", columns="sigma", values="m")
    assert m.loc[1, "1/D"] == 8 and m.loc[11, "1/D"] == 9 and m.loc[30, "1/D"] == 9
    assert m.loc[11, "D^-1/2"] == 43 and m.loc[11, "1"] == 617  # official values (notes)
    assert not curves[(curves.N == 30) & (curves.sigma != "0")].official_draw.any()
    cmp = lib.compare_truncation_official(curves)
    assert (cmp[cmp.official_draw].m == cmp[cmp.official_draw].official).all()


def test_bad_config_values_name_the_parameter():
    with pytest.raises(ConfigError, match="num_seeds"):
        lib.GradientStudy(num_seeds=1)
    with pytest.raises(ConfigError, match="backend"):
        lib.VQETrial(backend="cuda")
    assert mhea(2, 1).num_params == 8
