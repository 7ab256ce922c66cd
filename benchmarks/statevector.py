"""Cost and gradient of the linear-depth mHEA (L = N): ``common.quantum``'s NumPy adjoint simulator
against its JAX backend, relative to the NumPy simulator on one parameter vector.

The circuit is the paper's mHEA (``EfficientSU2`` ry/rz, circular CX, D = 2N(N+1)) with a random
Pauli observable; a batch of 8 parameter vectors from the sigma = D^-1/2 patch. Rows: NumPy adjoint,
one vector at a time and the 8 as one batch; JAX (``jax.value_and_grad`` of the unrolled circuit,
``vmap`` over the batch, complex128), whose compile time is reported apart. Sizes N = 8, 10, 12
(``--quick``: 6 and 8). Timings are the median of ``torch.utils.benchmark.Timer.blocked_autorange``;
the largest difference of the gradients from the NumPy ones is shown so the rows can be seen to
compute the same thing.
"""

from __future__ import annotations

import random
import time

import numpy as np
from torch.utils import benchmark

from common.quantum import mhea, random_pauli
from common.quantum import statevector as sv

BATCH = 8


def _time(fn) -> float:
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn})
    return timer.blocked_autorange(min_run_time=1.0).median


def run(quick: bool = False) -> list[dict]:
    rows = []
    for n in ((6, 8) if quick else (8, 10, 12)):
        circ = mhea(n, n)
        d = circ.num_params
        pauli = random_pauli(n, random.Random(n))
        theta = np.random.default_rng(n).normal(0, d ** -0.5, size=(BATCH, d))
        ref = sv.cost_and_grad(circ, pauli, theta)[1]
        one = _time(lambda circ=circ, pauli=pauli, theta=theta: sv.cost_and_grad(circ, pauli,
                                                                                 theta[0]))
        impls = {"NumPy adjoint, one vector": (one, ref, 0.0),
                 f"NumPy adjoint, batch of {BATCH}": (
                     _time(lambda circ=circ, pauli=pauli, theta=theta:
                           sv.cost_and_grad(circ, pauli, theta)) / BATCH, ref, 0.0)}
        try:
            from common.quantum.jax_backend import make_cost_and_grad

            t0 = time.perf_counter()
            f = make_cost_and_grad(circ, pauli, device="auto")
            g = f(theta)[1]
            compile_s = time.perf_counter() - t0
            impls[f"JAX (jit, vmap over {BATCH})"] = (_time(lambda f=f, theta=theta: f(theta))
                                                     / BATCH, g, compile_s)
        except ImportError:  # pragma: no cover - jax is in the sde extra
            pass
        for name, (seconds, grad, compile_s) in impls.items():
            rows.append({"N": n, "D": d, "implementation": name, "seconds_per_gradient": seconds,
                         "ratio_to_numpy_one": seconds / one, "compile_seconds": compile_s,
                         "max_grad_diff": float(np.abs(grad - ref).max())})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| N | D | implementation | time per gradient | ratio to NumPy (one vector) | "
             "max abs gradient difference |", "|---|---|---|---|---|---|"]
    for r in rows:
        extra = (f" (compile: {r['compile_seconds']:.1f} s)" if r["compile_seconds"] else "")
        lines.append(f"| {r['N']} | {r['D']} | {r['implementation']} | "
                     f"{r['seconds_per_gradient'] * 1e3:.3g} ms{extra} | "
                     f"{r['ratio_to_numpy_one']:.2f} | {r['max_grad_diff']:.1e} |")
    return "\n".join(lines)
