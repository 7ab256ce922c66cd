"""Shared core of the lucchi-repro monorepo.

Subpackages (import what you need; nothing heavy happens at import time):

- ``common.data``        datasets: verified downloads, idx readers, tiny-shakespeare, synthetic sets
- ``common.models``      reference models and test objectives
- ``common.optim``       optimizers: a pure functional update plus a thin ``torch.optim`` adapter
- ``common.privacy``     per-sample gradients, clipping, DP events, accountants, DP-SGD composition
- ``common.federated``   client simulation, splits, compressors, EF21, the Clip21 family
- ``common.robust``      robust aggregators and Byzantine attacks
- ``common.sde``         SDE models of optimizers and their simulation (JAX)
- ``common.metrics``     metrics shared by several papers (LR sensitivity, divergence flags, ...)
- ``common.experiment``  frozen configs, seeding, atomic results store, provenance, sweeps
- ``common.plotting``    the one figure style
- ``common.fileio``      atomic file writes and JSON conversion (a leaf: every layer uses it)
- ``common.paths``       where the repository, its data and its results are (a leaf)
- ``common.project``     the repository's own machinery: paper.yml, a notebook's run and its
                         claims, reproduce, book sync (the library packages never import it)

The packages form layers (``tests/test_layers.py`` holds the order and fails on an upward or
cyclic import): leaves (``fileio``, ``paths``, ``modules``), then ``kernels``, ``experiment``,
``metrics``, then the library, then ``federated``, and ``project`` on top.
"""

__version__ = "0.2.0"
