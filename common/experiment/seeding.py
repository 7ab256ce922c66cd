"""Seeding and determinism for Python, NumPy, PyTorch and JAX.

Every run takes an explicit seed. :func:`seed_everything` seeds the global generators (for code
that uses them) and returns a NumPy ``Generator`` for code that should not; JAX has no global
state, so :func:`jax_key` builds its key from the same seed.
"""

from __future__ import annotations

import os
import random
import sys

import numpy as np

__all__ = ["seed_everything", "set_determinism", "jax_key", "jax_keys", "derive_seed"]


def seed_everything(seed: int) -> np.random.Generator:
    """Seed ``random``, NumPy's legacy global generator and torch (CPU and CUDA).

    Returns ``np.random.default_rng(seed)``, the generator new code should use.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed={seed!r}: must be a non-negative integer")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seeding the legacy global generator is the point)
    if "torch" in sys.modules or _importable("torch"):
        import torch

        torch.manual_seed(seed)  # also seeds every CUDA device
    return np.random.default_rng(seed)


def set_determinism(num_threads: int | None = 1) -> None:
    """Make torch deterministic on this machine.

    Sets ``torch.use_deterministic_algorithms(True)`` (errors on ops without a deterministic
    implementation), the cuBLAS workspace needed for it, and the intra-op thread count: float
    reductions split across threads can round differently, so notebooks pin it (1 by default;
    ``None`` leaves torch's default).
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    torch.use_deterministic_algorithms(True)
    if num_threads is not None:
        if num_threads < 1:
            raise ValueError(f"num_threads={num_threads}: must be >= 1 or None")
        torch.set_num_threads(int(num_threads))
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False


#: The generator of :func:`jax_key`: JAX's Philox 4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel
#: random numbers: as easy as 1, 2, 3", SC 2011: passes TestU01's BigCrush, Table 2), a
#: counter-based generator like JAX's default threefry 2x32-20, with the same ``split`` /
#: ``fold_in`` semantics under ``vmap``. On a CPU it draws normals about 3x faster than threefry
#: (benchmarks/README.md, ``sde_paths``); the repository's statistical tests of the noise run on it
#: (tests/sde). Chosen by issue 29; the notebooks executed before it used threefry.
JAX_KEY_IMPL = "philox4x32"


def jax_key(seed: int):
    """``jax.random.key(seed, impl=JAX_KEY_IMPL)``: JAX's explicit (typed) key for the same seed,
    Philox 4x32-10 (:data:`JAX_KEY_IMPL`). ``jax.random.PRNGKey(seed)`` (threefry) is still
    accepted everywhere a key is."""
    import jax

    return jax.random.key(int(seed), impl=JAX_KEY_IMPL)


def jax_keys(seed: int, *labels) -> tuple:
    """One JAX key per label, ``jax_key(derive_seed(seed, label))``: independent streams, e.g.
    one for an optimizer and one for its SDE."""
    return tuple(jax_key(derive_seed(seed, label)) for label in labels)


def derive_seed(seed: int, *names: object) -> int:
    """A child seed from a parent seed and labels (stable across runs and machines).

    ``derive_seed(0, "mlp", 3)`` always gives the same 63-bit integer; different labels give
    independent streams (via ``numpy.random.SeedSequence``).
    """
    import hashlib

    digest = hashlib.sha256(repr((int(seed),) + tuple(map(str, names))).encode()).digest()
    entropy = int.from_bytes(digest[:16], "little")
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> 1)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
