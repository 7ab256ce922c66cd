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

__all__ = ["JaxStatevector", "make_cost_and_grad", "resolve_jax_device", "PRECISIONS"]

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


def _observable_tables(obs: PauliSum, cdt) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source indices (T, 2^N), phases (T, 2^N), coefficients (T,)) of the terms' actions."""
    from common.quantum.statevector import _pauli_action

    src, phase = zip(*(_pauli_action(p) for p in obs.paulis))
    return np.stack(src), np.stack(phase).astype(cdt), obs.coeffs


class JaxStatevector:
    """One compiled program for a circuit ``U``: ``theta (B, D) -> (C, grad)`` for any observable
    on ``N`` qubits and any input state, both passed as data (so the LCE of every seed, given by
    :meth:`common.quantum.lce.LCE.effective`, reuses the program compiled for the bare ansatz)."""

    def __init__(self, circuit: Circuit, *, device: str = "auto", precision: str = "double"):
        import jax
        import jax.numpy as jnp

        if precision not in PRECISIONS:
            raise ValueError(f"precision={precision!r}: allowed {PRECISIONS}")
        self.circuit = circuit
        self.device = resolve_jax_device(device)
        self.double = precision == "double"
        cdt = self.cdt = np.complex128 if self.double else np.complex64
        n = circuit.num_qubits
        fixed = {name: np.asarray(g.matrix, cdt) for name, g in GATES.items()}
        paulis = {c: np.asarray(m, cdt) for c, m in PAULI_MATRICES.items()}
        ops = circuit.ops

        def state(theta, psi0):
            psi = psi0.reshape((2,) * n)
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
            return psi.reshape(-1)

        def cost(theta, psi0, src, phase, coeffs):
            psi = state(theta, psi0)
            vals = jnp.real(jnp.sum(psi.conj()[None, :] * phase * psi[src], axis=1))
            return jnp.sum(coeffs * vals)

        with jax.enable_x64(self.double):
            self._fn = jax.jit(jax.vmap(jax.value_and_grad(cost), in_axes=(0, 0, None, None,
                                                                            None)))

    def cost_and_grad(self, theta, observable: PauliSum | str, psi0: np.ndarray | None = None):
        """``(C, grad)`` like :func:`common.quantum.statevector.cost_and_grad`; ``psi0`` the input
        state (default :math:`|0\\rangle`), shape ``(2**N,)`` or one per parameter vector."""
        import jax

        n = self.circuit.num_qubits
        obs = PauliSum.coerce(observable, n)
        th = self.circuit.check_theta(theta)
        single = th.ndim == 1
        th = np.atleast_2d(th)
        if psi0 is None:
            psi0 = np.zeros(2 ** n, complex)
            psi0[0] = 1.0
        psi0 = np.broadcast_to(np.asarray(psi0, complex), (len(th), 2 ** n))
        src, phase, coeffs = _observable_tables(obs, self.cdt)
        real = np.float64 if self.double else np.float32
        with jax.enable_x64(self.double):
            args = [th.astype(real), psi0.astype(self.cdt), src, phase, coeffs.astype(real)]
            values, grads = self._fn(*jax.device_put(args, self.device))
            values, grads = np.asarray(values, float), np.asarray(grads, float)
        return (float(values[0]), grads[0]) if single else (values, grads)


def make_cost_and_grad(circuit: Circuit, observable: PauliSum | str, *, device: str = "auto",
                       precision: str = "double") -> Callable:
    """``theta (D,) or (B, D) -> (C, grad)`` (NumPy outputs) for one observable, on ``device``."""
    program = JaxStatevector(circuit, device=device, precision=precision)
    obs = PauliSum.coerce(observable, circuit.num_qubits)
    return lambda theta: program.cost_and_grad(theta, obs)
