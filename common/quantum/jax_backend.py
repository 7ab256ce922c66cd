r"""The statevector simulator in JAX, for paper-scale runs on an accelerator (GPU when present).

Same circuits, observables and conventions as :mod:`common.quantum.statevector`, which is this
module's reference (tests compare values and gradients on random circuits). The state is a
``(2,)*N`` array; a one-qubit gate is ``tensordot`` of its 2 x 2 matrix with axis ``q``, a
two-qubit gate ``tensordot`` of its (2, 2, 2, 2) matrix with the two target axes; the circuit is
unrolled into one XLA program (compiled once per circuit and observable), differentiated in
reverse mode by ``jax.value_and_grad`` (an implementation of the gradient independent of our
adjoint code) and ``vmap``-ed over a batch of parameter vectors.

``precision="double"`` (default) computes in complex128 inside ``jax.enable_x64(True)``, without
touching the global flag other JAX code (``common.sde``) relies on; ``"single"`` uses complex64
(about 1e-6 relative error after ~10^3 gates; twice as fast and half the memory on a GPU).
``device="auto"`` takes JAX's default backend (a GPU when ``jax[cuda]`` is installed and sees
one), ``"cpu"`` forces the CPU. Memory: reverse mode keeps every intermediate state, about
``#gates * 2^N * 16`` bytes per parameter vector (0.9 GB for the mHEA at N = 16, L = 16).
Requires the ``sde`` extra (jax).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from common.quantum.circuit import GATES, PAULI_MATRICES, Circuit, Gate
from common.quantum.paulis import PauliSum

__all__ = ["make_cost_and_grad", "resolve_jax_device", "PRECISIONS"]

PRECISIONS = ("double", "single")


def resolve_jax_device(name: str = "auto"):
    """``"auto"`` (JAX's default device: a GPU when present), ``"cpu"``, ``"gpu"`` / ``"cuda"``."""
    import jax

    if name == "auto":
        return jax.devices()[0]
    if name == "cpu":
        return jax.devices("cpu")[0]
    if name in ("gpu", "cuda"):
        try:
            return jax.devices("gpu")[0]
        except RuntimeError:
            raise ValueError(f"device={name!r}: JAX sees no GPU here (install jax[cuda]); use "
                             "'cpu' or 'auto'") from None
    raise ValueError(f"device={name!r}: allowed 'auto', 'cpu', 'gpu'")


def _apply(psi, mat, qubits):
    import jax.numpy as jnp

    k = len(qubits)
    m = mat.reshape((2,) * (2 * k))
    out = jnp.tensordot(m, psi, axes=(tuple(range(k, 2 * k)), tuple(qubits)))
    return jnp.moveaxis(out, tuple(range(k)), tuple(qubits))


def make_cost_and_grad(circuit: Circuit, observable: PauliSum | str, *, device: str = "auto",
                       precision: str = "double") -> Callable:
    """A function ``theta (D,) or (B, D) -> (C, grad)`` (NumPy outputs) running on ``device``."""
    import jax
    import jax.numpy as jnp

    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}: allowed {PRECISIONS}")
    obs = PauliSum.coerce(observable, circuit.num_qubits)
    dev = resolve_jax_device(device)
    n = circuit.num_qubits
    double = precision == "double"
    cdt = np.complex128 if double else np.complex64
    fixed = {name: np.asarray(g.matrix, cdt) for name, g in GATES.items()}
    paulis = {c: np.asarray(m, cdt) for c, m in PAULI_MATRICES.items()}
    ops = circuit.ops

    def state(theta):
        psi = jnp.zeros((2,) * n, cdt).at[(0,) * n].set(1.0)
        for op in ops:
            if isinstance(op, Gate):
                psi = _apply(psi, jnp.asarray(fixed[op.name]), op.qubits)
            else:
                gen = np.ones((1, 1), cdt)
                for letter in op.pauli:
                    gen = np.kron(gen, paulis[letter])
                half = theta[op.param] / 2
                mat = jnp.cos(half) * jnp.eye(len(gen), dtype=cdt) - 1j * jnp.sin(half) * gen
                psi = _apply(psi, mat.astype(cdt), op.qubits)
        return psi

    def cost(theta):
        psi = state(theta)
        total = 0.0
        for c, p in obs.terms:
            phi = psi
            for q, letter in enumerate(p):
                if letter != "I":
                    phi = _apply(phi, jnp.asarray(paulis[letter]), (q,))
            total = total + c * jnp.real(jnp.vdot(psi, phi))
        return total

    with jax.enable_x64(double):
        fn = jax.jit(jax.vmap(jax.value_and_grad(cost)))

    def cost_and_grad(theta):
        th = circuit.check_theta(theta)
        single = th.ndim == 1
        with jax.enable_x64(double):
            x = jax.device_put(np.atleast_2d(th).astype(np.float64 if double else np.float32),
                               dev)
            values, grads = fn(x)
            values, grads = np.asarray(values, float), np.asarray(grads, float)
        return (float(values[0]), grads[0]) if single else (values, grads)

    return cost_and_grad
