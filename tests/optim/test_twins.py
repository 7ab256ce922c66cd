"""A method with an SDE model has two implementations under one name: the torch update of
:data:`common.optim.OPTIMIZERS` and the JAX discrete optimizer of :data:`common.sde.SDES` (which
its SDE models). On the same deterministic gradients the two must take the same steps.

The JAX side draws its gradients through a noise model; a Gaussian of std 1e-30 adds nothing
representable to gradients of size ~1 in float32, so both see grad f(x_k) exactly. JAX runs in
float32: agreement to rtol 1e-5 over 30 steps is rounding (float32 eps 1.2e-7 per operation).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.optim import OPTIMIZERS, apply_updates

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from common import sde  # noqa: E402

H = np.linspace(0.5, 5.0, 6)
X0 = np.linspace(1.0, -2.0, 6)

#: name -> hyperparameters shared by the two implementations (beyond lr)
TWINS = {
    "SGD": {},
    "SignSGD": {},
    "AdamW": {"beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.1},
}


def test_every_shared_name_has_a_twin_case():
    shared = {n for n, p in sde.SDES.items() if n in OPTIMIZERS and p.noise_kind == "additive"}
    assert shared == set(TWINS), "add the pair's hyperparameters to TWINS"


@pytest.mark.parametrize("name", sorted(TWINS))
def test_torch_and_jax_twins_take_the_same_steps(name):
    lr, hyper = 0.01, TWINS[name]
    opt, _ = sde.make(name, sde.DiagQuadratic(jnp.asarray(H)),
                      sde.Gaussian(jnp.full(6, 1e-30)), lr, **hyper)
    traj = sde.simulate(opt, jnp.asarray(X0), jax.random.PRNGKey(0), num_steps=30, num_paths=1,
                        record_every=1)
    spec = OPTIMIZERS[name]
    x = (torch.tensor(X0, dtype=torch.float64),)
    state = spec.init(x)
    losses = [0.5 * float((torch.tensor(H) * x[0] ** 2).sum())]
    for _ in range(30):
        g = (torch.tensor(H) * x[0],)
        updates, state, _ = spec.functional_update(g, state, None, x, lr, **hyper)
        x = apply_updates(x, updates)
        losses.append(0.5 * float((torch.tensor(H) * x[0] ** 2).sum()))
    np.testing.assert_allclose(np.asarray(traj.mean), losses, rtol=1e-5)
