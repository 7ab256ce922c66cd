"""Small helpers shared by :mod:`common.sde`: frozen pytree dataclasses and input validation.

Every noise model, objective, optimizer and SDE in :mod:`common.sde` is a frozen dataclass
registered as a JAX pytree. Array-valued fields (learning rate, noise scales, ...) are *leaves*:
they are traced, so a sweep over them neither recompiles nor needs a Python loop (``jax.vmap``
over a stacked model works). Fields declared with :func:`static` (integers that fix a shape, such
as the number of agents, functions, integration schemes) are part of the tree structure: changing
them recompiles.

Validation runs in ``__post_init__`` on the values a user passes. Unflattening a pytree (which JAX
does with tracers inside ``jit`` and ``vmap``) bypasses ``__init__``, so validation never sees a
tracer; the checks below also skip traced values, for models built inside a transformed function.
Errors are ``ValueError`` naming the parameter, its value and the allowed range.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_batching import custom_vmap
from jax.tree_util import GetAttrKey

__all__ = ["pytree_dataclass", "static", "as_float", "check_positive", "check_nonnegative",
           "check_unit_interval", "check_int_at_least", "check_vector", "check_same_dim",
           "check_method", "check_x0", "normal", "paths_minor"]


def static(default=dataclasses.MISSING):
    """A dataclass field that is part of the pytree structure (hashable; changing it recompiles)."""
    return dataclasses.field(default=default, metadata={"static": True})


def pytree_dataclass(cls):
    """Make ``cls`` a frozen dataclass and register it as a JAX pytree (module docstring)."""
    cls = dataclasses.dataclass(frozen=True, eq=False)(cls)
    fields = dataclasses.fields(cls)
    data = tuple(f.name for f in fields if not f.metadata.get("static", False))
    meta = tuple(f.name for f in fields if f.metadata.get("static", False))

    def flatten_with_keys(obj):
        return (tuple((GetAttrKey(n), getattr(obj, n)) for n in data),
                tuple(getattr(obj, n) for n in meta))

    def flatten(obj):
        return tuple(getattr(obj, n) for n in data), tuple(getattr(obj, n) for n in meta)

    def unflatten(aux, children):
        obj = object.__new__(cls)
        for name, value in zip(meta, aux):
            object.__setattr__(obj, name, value)
        for name, value in zip(data, children):
            object.__setattr__(obj, name, value)
        return obj

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
    return cls


def _traced(value) -> bool:
    return isinstance(value, jax.core.Tracer)


def as_float(obj, name: str, value):
    """Store ``value`` on the frozen ``obj`` as a float array of JAX's default float dtype."""
    if not _traced(value):
        value = jnp.asarray(value, dtype=jnp.result_type(float))
    object.__setattr__(obj, name, value)
    return value


def _concrete(value):
    return None if _traced(value) else np.asarray(value, dtype=float)


def check_positive(name: str, value, *, allow_inf: bool = False) -> None:
    """``value > 0`` elementwise (and finite unless ``allow_inf``)."""
    v = _concrete(value)
    if v is None:
        return
    bad = ~(v > 0) | (np.isinf(v) & (not allow_inf))
    if np.any(bad):
        upper = "inf]" if allow_inf else "inf)"
        raise ValueError(f"{name}={_show(value)}: must be in (0, {upper}")


def check_nonnegative(name: str, value, *, allow_inf: bool = False) -> None:
    """``value >= 0`` elementwise (and finite unless ``allow_inf``)."""
    v = _concrete(value)
    if v is None:
        return
    bad = ~(v >= 0) | (np.isinf(v) & (not allow_inf))
    if np.any(bad):
        upper = "inf]" if allow_inf else "inf)"
        raise ValueError(f"{name}={_show(value)}: must be in [0, {upper}")


def check_unit_interval(name: str, value, *, closed_left: bool = True,
                        closed_right: bool = False) -> None:
    """``value`` in ``[0, 1)`` by default; the bracket types are configurable."""
    v = _concrete(value)
    if v is None:
        return
    lo_ok = v >= 0 if closed_left else v > 0
    hi_ok = v <= 1 if closed_right else v < 1
    if np.any(~(lo_ok & hi_ok)):
        interval = ("[" if closed_left else "(") + "0, 1" + ("]" if closed_right else ")")
        raise ValueError(f"{name}={_show(value)}: must be in {interval}")


def check_int_at_least(name: str, value, lo: int) -> int:
    """An integer ``>= lo`` (a static shape parameter); returns it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"{name}={value!r}: must be an integer >= {lo}")
    return int(value)


def check_vector(name: str, value) -> None:
    """A 1-D array (the papers' noise scales and iterates are vectors in R^d)."""
    if jnp.ndim(value) != 1 or jnp.shape(value)[0] < 1:
        raise ValueError(f"{name} has shape {jnp.shape(value)}: must be a 1-D vector of length "
                         ">= 1 (ravel network parameters with jax.flatten_util.ravel_pytree)")


def check_same_dim(name: str, value, other_name: str, dim: int) -> None:
    """``value`` is a vector of length ``dim`` (the dimension fixed by ``other_name``)."""
    check_vector(name, value)
    if jnp.shape(value)[0] != dim:
        raise ValueError(f"{name} has length {jnp.shape(value)[0]}: must match the dimension "
                         f"d={dim} of {other_name}")


def _show(value) -> str:
    v = np.asarray(value)
    if v.ndim == 0:
        x = float(v)
        return repr(int(x)) if x.is_integer() and math.isfinite(x) else repr(x)
    return np.array2string(v, precision=4, threshold=6)


def check_method(obj) -> None:
    """Shared checks of an optimizer or SDE: ``lr`` in (0, inf), noise and objective dimensions."""
    check_positive("lr", obj.lr)
    as_float(obj, "lr", obj.lr)
    obj_dim = getattr(obj.objective, "dim", None)
    if obj_dim is not None and obj.noise.dim != obj_dim:
        raise ValueError(f"noise has dimension {obj.noise.dim}: must match the objective's "
                         f"dimension d={obj_dim}")


def check_x0(obj, x0):
    """``x0`` as a float vector whose length is the noise model's dimension."""
    check_same_dim("x0", x0, "the noise model", obj.noise.dim)
    return jnp.asarray(x0, dtype=jnp.result_type(float))


@functools.cache
def _normal_fn(shape: tuple[int, ...], dtype):
    @custom_vmap
    def draw(key):
        return jax.random.normal(key, shape, dtype)

    @draw.def_vmap
    def _batched(axis_size, in_batched, key):
        (batched,) = in_batched
        if not batched:
            return draw(key), False
        if not paths_minor(shape):
            # A large iterate: its own axis is wide enough to vectorise along.
            return jax.vmap(lambda k: jax.random.normal(k, shape, dtype))(key), True
        # The same values as vmap(draw)(key), generated with the batch (paths) as the minor axis
        # and moved to the front logically only: XLA's CPU code vectorises the generator along
        # the minor axis (10 wide for d = 10 when it is the state's axis; benchmarks/README.md,
        # sde_paths layout profile).
        out = jax.lax.optimization_barrier(
            jax.vmap(lambda k: jax.random.normal(k, shape, dtype), out_axes=-1)(key))
        return jnp.moveaxis(out, -1, 0), True

    return draw


#: Iterates with fewer coordinates than this are simulated with the paths as the minor axis.
PATHS_MINOR_BELOW = 32


def paths_minor(shape) -> bool:
    """Whether paths of an iterate of ``shape`` are laid out with the paths as the minor axis:
    iterates with fewer than :data:`PATHS_MINOR_BELOW` coordinates (a minor axis of d < 32 fills
    at most two AVX-512 vectors of float32). The rule depends on the iterate only, not on the
    number of paths, so a path's trajectory does not depend on ``num_paths`` (the contract of
    :func:`common.sde.simulate`). Measured: d = 10 with 10^4 paths, paths minor about 2x
    (threefry) to 4x (philox) faster (benchmarks/README.md, ``sde_paths``); d = 10^4 with 2
    paths (dp-sde notebook 01), paths minor 2.4x slower (the notebook took 116 s against 48 s,
    each run next to another notebook on the second core)."""
    return math.prod(tuple(int(s) for s in shape)) < PATHS_MINOR_BELOW


def normal(key, shape, dtype) -> jax.Array:
    """``jax.random.normal(key, shape, dtype)``, bit for bit, whose ``vmap`` over keys draws with
    the batch as the minor axis for a small ``shape`` (:func:`paths_minor`;
    :func:`common.sde.simulate` lays paths out that way), and as a plain ``vmap`` otherwise."""
    return _normal_fn(tuple(int(s) for s in shape), jnp.dtype(dtype))(key)
