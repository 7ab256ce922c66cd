"""common.sde.simulate's paths-minor layout (issue 29): the same normals, bit for bit, as
``jax.random.normal`` under ``vmap``; the same paths as a paths-major reference to float32
round-off; the noise of a simulated path still N(0, 1)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from common import sde
from common.sde._base import normal
from common.sde.simulate import loss_observable

H = np.linspace(0.5, 5.0, 10)
SIGMA = np.linspace(0.5, 2.0, 10)


@pytest.mark.parametrize("impl", ["threefry2x32", "philox4x32"])
@pytest.mark.parametrize("shape", [(10,), (3, 4), ()])
def test_normal_is_jax_normal_bit_for_bit(impl, shape):
    keys = jax.random.split(jax.random.key(1, impl=impl), 257)
    draw = jax.jit(jax.vmap(lambda k: normal(k, shape, jnp.float32)))
    ref = jax.jit(jax.vmap(lambda k: jax.random.normal(k, shape, jnp.float32)))
    np.testing.assert_array_equal(np.asarray(draw(keys)), np.asarray(ref(keys)))
    one = normal(keys[0], shape, jnp.float32)  # unbatched: plain jax.random.normal
    np.testing.assert_array_equal(np.asarray(one), np.asarray(jax.random.normal(keys[0], shape)))
    nested = jax.vmap(jax.vmap(lambda k: normal(k, shape, jnp.float32)))(keys[:256].reshape(16, 16))
    np.testing.assert_array_equal(np.asarray(nested).reshape((256,) + shape),
                                  np.asarray(ref(keys[:256])))


def _paths_major(process, x0, key, num_steps, num_paths):
    """The former implementation: states (paths, d), plain vmap over paths."""
    states = jax.tree.map(lambda a: jnp.broadcast_to(a, (num_paths,) + jnp.shape(a)),
                          process.init(x0))
    path_keys = jax.random.split(key, num_paths)

    def body(s, k):
        keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(path_keys, k)
        s = jax.vmap(process.step)(s, keys)
        return s, jax.vmap(partial(loss_observable, process))(s)

    final, values = jax.lax.scan(body, states, jnp.arange(num_steps))
    return final, values


@pytest.mark.parametrize("impl", ["threefry2x32", "philox4x32"])
@pytest.mark.parametrize("name", ["SGD", "SignSGD", "AdamW"])
def test_simulate_matches_paths_major_reference(impl, name):
    f, noise = sde.DiagQuadratic(jnp.asarray(H)), sde.Gaussian(jnp.asarray(SIGMA))
    procs = sde.make(name, f, noise, 0.01)  # the optimizer and its SDE
    key = jax.random.key(7, impl=impl)
    x0 = jnp.full(10, 2.0)
    for p in procs:
        traj = sde.simulate(p, x0, key, num_steps=30, num_paths=33, keep_paths=True)
        final, values = jax.jit(_paths_major, static_argnums=(3, 4))(p, x0, key, 30, 33)
        # float32 round-off only (XLA's code differs with the layout; the normals do not)
        np.testing.assert_allclose(np.asarray(traj.paths[1:]), np.asarray(values), rtol=2e-5,
                                   atol=1e-7)
        for a, b in zip(jax.tree.leaves(traj.final_state), jax.tree.leaves(final)):
            assert a.shape == b.shape
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=1e-7)


def test_simulated_increments_are_standard_normal():
    """The SGD SDE from x0 = 0 (no drift in the first step) with unit noise: one step gives
    -sqrt(lr) sqrt(dt) xi = -lr xi, so x / -lr is N(0, 1) (KS test, 10 x 500 values)."""
    lr = 0.04
    f = sde.DiagQuadratic(jnp.ones(10))
    p = sde.SGDSDE(f, sde.Gaussian(jnp.ones(10)), lr)
    traj = sde.simulate(p, jnp.zeros(10), jax.random.key(3), num_steps=1, num_paths=500)
    xi = -np.asarray(traj.final_state.x).ravel() / lr
    assert stats.kstest(xi, "norm").pvalue > 1e-3
    x = np.asarray(traj.final_state.x)
    assert abs(np.corrcoef(x[:, 0], x[:, 1])[0, 1]) < 0.2  # coordinates independent


def test_layout_rule_and_a_large_iterate_is_paths_major():
    """Fewer than 32 coordinates: paths minor; otherwise the plain paths-major vmap, whose
    paths are the former implementation's bit for bit (the DP-SDE quadratic has d = 10^4)."""
    from common.sde._base import paths_minor

    assert paths_minor((10,)) and paths_minor((3, 4)) and not paths_minor((64,))
    d = 64
    f, noise = sde.DiagQuadratic(jnp.linspace(0.5, 5.0, d)), sde.Gaussian(jnp.full(d, 0.7))
    key, x0 = jax.random.key(11, impl="philox4x32"), jnp.full(d, 2.0)
    for p in sde.make("SGD", f, noise, 0.01):
        traj = sde.simulate(p, x0, key, num_steps=20, num_paths=8, keep_paths=True)
        final, values = jax.jit(_paths_major, static_argnums=(3, 4))(p, x0, key, 20, 8)
        np.testing.assert_array_equal(np.asarray(traj.paths[1:]), np.asarray(values))
        np.testing.assert_array_equal(np.asarray(traj.final_state.x), np.asarray(final.x))
