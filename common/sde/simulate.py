r"""Many paths of an optimizer or an SDE at once: jit, ``vmap`` over paths, ``scan`` over steps.

:func:`simulate` runs any *process* with ``init(x0) -> state`` and ``step(state, key) -> state``
(a discrete optimizer of :mod:`common.sde`, or an SDE, whose ``step`` is one integrator step with
dt = lr) for ``num_paths`` independent paths and returns summary statistics of an observable
(the loss by default) every ``record_every`` steps: mean, standard deviation and quantiles over
paths. Individual paths are kept only on request (``keep_paths``), so 10,000 paths x 10,000 steps
need memory for the states of one step, not for the whole history.

Randomness: path i uses ``key_i = split(key, num_paths)[i]`` and step k of path i uses
``fold_in(key_i, k)``. A path's trajectory therefore depends on ``key`` and i only, not on
``num_paths`` or ``record_every``; an optimizer and an SDE run with the same key see the same
stream of per-step keys (for SGD on Gaussian noise the Euler-Maruyama path of its SDE *is* the
SGD path, draw for draw; see :mod:`common.sde.sgd`).

Layout: for an iterate with fewer than 32 coordinates (``common.sde._base.paths_minor``) the
states of all paths are held with the paths as the *last* (minor) axis, (d, paths), and the
normals of the library's processes (``common.sde._base.normal``) are generated that way under
``vmap``: the same values, bit for bit, as ``jax.random.normal`` per path, but XLA's CPU code
vectorises the generator along the minor axis, which is d wide (10 in the benchmarks) in the
paths-major layout that a plain ``vmap`` gives and ``num_paths`` wide in this one. The paths equal
a paths-major simulation to float32 round-off (the arithmetic is compiled differently;
tests/sde/test_layout.py). A larger iterate keeps the paths-major layout (with d = 10^4 and two
paths, the DP-SDE quadratic of dp-sde notebook 01, the paths-minor layout made that notebook 2.4x
slower). The rule depends on d only, so a path does not depend on ``num_paths``.
``Trajectory.final_state`` keeps a leading paths axis.

Random numbers: the generator is the key's. The repository's keys
(``common.experiment.jax_key(seed)``, what every notebook uses since issue 29) are JAX's Philox
4x32-10 (``jax.random.key(seed, impl="philox4x32")``); ``jax.random.PRNGKey(seed)`` (threefry
2x32-20, JAX's default, what the notebooks used before) is accepted as well. Philox 4x32-10 is
a counter-based generator of the same family as threefry that passes TestU01's
BigCrush (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011,
Table 2), with the same per-key ``split`` and ``fold_in`` semantics under ``vmap``: the per-path
contract above holds, the paths differ from threefry's (other numbers of the same law; tests/sde
checks them with a KS test). With the layout above it halves the time of a simulation on a CPU
(benchmarks/README.md, ``sde_paths``). Do not use the
``rbg``/``unsafe_rbg`` keys with :func:`simulate`: under ``vmap`` their bits come from the first
path's key only (JAX's batching rule for ``rng_bit_generator``), which breaks the per-path
contract and, in :func:`simulate_grid`, makes configurations share noise.

The process is a pytree argument of the compiled function: changing a hyperparameter (lr, noise
scale) reuses the compiled code; changing a shape, ``num_steps``, ``num_paths``, the process type
or a static field recompiles. Pass ``observe`` as a module-level function (a fresh ``lambda`` per
call recompiles each time). :func:`simulate_many` compiles several processes as one program,
which on CPU costs far less than compiling them one by one; :func:`simulate_grid` maps it
(``jax.vmap``) over configurations that differ only in array values (a whole sweep, one
program, NumPy results).

The statistics of a trajectory (Monte Carlo windows, stationary levels, tracking errors) are
:mod:`common.metrics.trajectory`, shared with the torch simulations.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from common.sde._base import check_int_at_least, check_vector, paths_minor

__all__ = ["Trajectory", "simulate", "simulate_many", "simulate_grid", "loss_observable"]


class Trajectory(NamedTuple):
    """What :func:`simulate` returns; ``T = num_steps // record_every + 1`` records (step 0 first).

    Attributes:
        steps: (T,) the step index of each record.
        mean, std: (T,) mean and standard deviation over paths of the observable.
        quantiles: (len(q), T) the requested quantiles over paths (``None`` if none requested).
        paths: (T, num_paths) the observable of every path (``None`` unless ``keep_paths``).
        final_state: the state of every path after ``num_steps`` (leading axis: paths).
    """

    steps: jax.Array
    mean: jax.Array
    std: jax.Array
    quantiles: jax.Array | None
    paths: jax.Array | None
    final_state: Any

    def window_mean(self, start: int, stop: int | None = None) -> float:
        """Mean of ``mean`` over the records with ``start <= step < stop`` (a stationary level;
        :func:`common.metrics.stationary_level`)."""
        from common.metrics.trajectory import stationary_level

        return stationary_level(np.asarray(self.steps), np.asarray(self.mean), start, stop)


def loss_observable(process, state) -> jax.Array:
    """The default observable: the process's objective at the iterate, f(x)."""
    return process.objective.loss(state.x)


def simulate(process, x0, key, *, num_steps: int, num_paths: int, record_every: int = 1,
             quantiles: tuple[float, ...] = (), observe=None,
             keep_paths: bool = False) -> Trajectory:
    """Run ``num_paths`` independent paths of ``process`` from ``x0`` for ``num_steps`` steps.

    Args:
        process: an optimizer or SDE of :mod:`common.sde` (``init``, ``step``, ``objective``).
        x0: (d,) the common starting point.
        key: a ``jax.random`` key (``common.experiment.jax_key(seed)``).
        num_steps, num_paths: positive integers; ``record_every`` must divide ``num_steps``.
        quantiles: levels in [0, 1] to record, e.g. ``(0.1, 0.5, 0.9)``.
        observe: ``observe(process, state) -> scalar``; default :func:`loss_observable`.
        keep_paths: also return the observable of every path at every record.
    """
    return simulate_many((process,), x0, (key,), num_steps=num_steps, num_paths=num_paths,
                         record_every=record_every, quantiles=quantiles, observe=observe,
                         keep_paths=keep_paths)[0]


def simulate_many(processes, x0, keys, *, num_steps: int, num_paths: int, record_every: int = 1,
                  quantiles: tuple[float, ...] = (), observe=None,
                  keep_paths: bool = False) -> tuple[Trajectory, ...]:
    """:func:`simulate` for several processes (one key each), compiled as one program.

    On CPU, XLA's compilation has a large fixed cost per program: about 2-3 s for one simulation
    on a 2-core machine, against about 0.6 s for each further process compiled with it. An
    optimizer and its SDE, or a handful of settings that differ in type or static fields (a
    sweep over a hyperparameter needs neither: it reuses the compiled program), are therefore
    cheaper simulated together. The results are those of separate :func:`simulate` calls.
    """
    num_steps = check_int_at_least("num_steps", num_steps, 1)
    num_paths = check_int_at_least("num_paths", num_paths, 1)
    record_every = check_int_at_least("record_every", record_every, 1)
    if num_steps % record_every:
        raise ValueError(f"record_every={record_every}: must divide num_steps={num_steps}")
    quantiles = tuple(float(q) for q in quantiles)
    if any(not 0.0 <= q <= 1.0 for q in quantiles):
        raise ValueError(f"quantiles={quantiles}: each must be in [0, 1]")
    processes, keys = tuple(processes), tuple(keys)
    if not processes or len(keys) != len(processes):
        raise ValueError(f"keys: got {len(keys)} for {len(processes)} processes; must be one "
                         "key per process (and at least one process)")
    check_vector("x0", x0)
    return _simulate(processes, jnp.asarray(x0, dtype=jnp.result_type(float)), keys,
                     num_steps=num_steps, num_paths=num_paths, record_every=record_every,
                     quantiles=quantiles, observe=observe or loss_observable,
                     keep_paths=bool(keep_paths))


@partial(jax.jit, static_argnames=("num_steps", "num_paths", "record_every", "quantiles",
                                   "observe", "keep_paths"))
def _simulate(processes, x0, keys, **static):
    return tuple(_paths(p, x0, k, **static) for p, k in zip(processes, keys))


def _paths(process, x0, key, *, num_steps, num_paths, record_every, quantiles, observe,
           keep_paths) -> Trajectory:
    # For a small iterate (d < 32) the paths are the last (minor) axis of every state array,
    # (d, num_paths), and the normals are drawn that way (common.sde._base.normal): the same
    # values as a paths-major layout, but XLA's CPU code vectorises along the minor axis (module
    # docstring, "Layout"). A larger iterate keeps the paths-major layout of a plain vmap.
    # ``final_state`` has paths first.
    state0 = process.init(x0)
    axis = -1 if paths_minor(jnp.shape(x0)) else 0
    if axis == -1:
        states = jax.tree.map(
            lambda a: jnp.broadcast_to(a[..., None], jnp.shape(a) + (num_paths,)), state0)
    else:
        states = jax.tree.map(lambda a: jnp.broadcast_to(a, (num_paths,) + jnp.shape(a)), state0)
    path_keys = jax.random.split(key, num_paths)
    step_paths = jax.vmap(process.step, in_axes=(axis, 0), out_axes=axis)
    observe_paths = jax.vmap(partial(observe, process), in_axes=axis)

    def record(states):
        values = observe_paths(states)
        out = {"mean": jnp.mean(values), "std": jnp.std(values)}
        if quantiles:
            out["quantiles"] = jnp.quantile(values, jnp.asarray(quantiles))
        if keep_paths:
            out["paths"] = values
        return out

    def one_step(k, states):
        keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(path_keys, k)
        return step_paths(states, keys)

    def block(states, j):
        ks = j * record_every + jnp.arange(record_every)
        states, _ = jax.lax.scan(lambda s, k: (one_step(k, s), None), states, ks)
        return states, record(states)

    final, recs = jax.lax.scan(block, states, jnp.arange(num_steps // record_every))
    recs = jax.tree.map(lambda first, rest: jnp.concatenate([first[None], rest]),
                        record(states), recs)
    return Trajectory(
        steps=jnp.arange(0, num_steps + 1, record_every),
        mean=recs["mean"], std=recs["std"],
        quantiles=recs["quantiles"].T if quantiles else None,
        paths=recs["paths"] if keep_paths else None,
        final_state=jax.tree.map(lambda a: jnp.moveaxis(a, axis, 0), final))


def _numpy(traj: Trajectory) -> Trajectory:
    return Trajectory(*(None if a is None else jax.tree.map(np.asarray, a) for a in traj))


def simulate_grid(configs, x0, keys_per_config, **kw) -> list[tuple[Trajectory, ...]]:
    """:func:`simulate_many` for several configurations of the same processes.

    ``configs`` is a list of process tuples that differ only in array values (noise scales,
    step sizes, weight decay; not in types, shapes or static fields). They are stacked and the
    simulation is ``vmap``-ed over them: one compiled program for the whole grid, reused by a
    later grid of the same structure and size. ``x0`` is the common start (d,) or one start per
    configuration (n_configs, d); ``keys_per_config`` holds one tuple of keys (one per process)
    per configuration. Returns, per configuration, the tuple of trajectories as NumPy arrays.
    Keyword arguments go to ``simulate_many`` (``num_steps``, ``num_paths``, ...).
    """
    if len(configs) != len(keys_per_config):
        raise ValueError(f"keys_per_config: got {len(keys_per_config)} for {len(configs)} "
                         "configurations")
    x0 = jnp.asarray(x0, dtype=jnp.result_type(float))
    if x0.ndim == 1:
        x0 = jnp.broadcast_to(x0, (len(configs), x0.shape[0]))
    if x0.ndim != 2 or x0.shape[0] != len(configs):
        raise ValueError(f"x0 has shape {x0.shape}: must be (d,) or ({len(configs)}, d)")
    if len(configs) == 1:
        out = [simulate_many(configs[0], x0[0], keys_per_config[0], **kw)]
    else:
        stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *configs)
        key_array = jnp.stack([jnp.stack(k) for k in keys_per_config])
        batched = jax.vmap(lambda p, x, k: simulate_many(p, x, tuple(k), **kw))(
            stacked, x0, key_array)
        out = [jax.tree.map(lambda a, i=i: a[i], batched) for i in range(len(configs))]
    return [tuple(_numpy(t) for t in trajs) for trajs in out]
