"""common.sde.simulate_grid: a grid of configurations as one vmapped program."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from common import sde
from common.experiment import jax_keys

H = np.linspace(0.5, 5.0, 10)
SIGMA = np.linspace(0.5, 2.0, 10)


def test_grid_matches_separate_simulations():
    """vmap over configurations must not change any path: each configuration of the grid equals
    its own simulate_many run with the same keys (float32 round-off only: rtol 1e-5)."""
    f = sde.DiagQuadratic(jnp.asarray(H))
    configs = [sde.make("SignSGD", f, sde.Gaussian(jnp.asarray(c * SIGMA)), 0.01) for c in (1, 3)]
    keys = [jax_keys(0, ("a", c), ("b", c)) for c in (1, 3)]
    starts = jnp.stack([jnp.full(10, 2.0), jnp.full(10, 0.5)])
    kw = dict(num_steps=40, num_paths=5, record_every=10, keep_paths=True)
    grid = sde.simulate_grid(configs, starts, keys, **kw)
    for procs, k, x0, trajs in zip(configs, keys, starts, grid):
        alone = sde.simulate_many(procs, x0, k, **kw)
        for a, b in zip(trajs, alone):
            np.testing.assert_allclose(a.paths, np.asarray(b.paths), rtol=1e-5)
            assert isinstance(a.mean, np.ndarray)


def test_grid_validates_its_arguments():
    f = sde.DiagQuadratic(jnp.asarray(H))
    procs = [sde.make("SGD", f, sde.Gaussian(jnp.asarray(SIGMA)), 0.01)] * 2
    with pytest.raises(ValueError, match="keys_per_config"):
        sde.simulate_grid(procs, jnp.ones(10), [jax_keys(0, 1, 2)], num_steps=10, num_paths=2)
    with pytest.raises(ValueError, match="x0 has shape"):
        sde.simulate_grid(procs, jnp.ones((3, 10)), [jax_keys(0, 1, 2)] * 2, num_steps=10,
                          num_paths=2)
