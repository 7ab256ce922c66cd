"""Experiments: frozen configs, seeding, a results store, provenance, sweeps, grids of runs.

A notebook's run (its paper, results folder and claims) is repository tooling and lives in
:mod:`common.project.run`; nothing here knows the ``papers/`` or ``results/`` layout.
"""

from common.experiment.checks import require_at_most, require_multiples, require_range
from common.experiment.config import Config, ConfigError, param
from common.experiment.device import DEVICE_CHOICES, resolve_device
from common.experiment.executors import (
    EXECUTORS,
    DebugExecutor,
    LocalExecutor,
    SlurmExecutor,
    SubmititExecutor,
    SweepExecutor,
)
from common.experiment.grids import derive, geometric_grid
from common.experiment.provenance import git_revision, package_versions, provenance
from common.experiment.seeding import (
    derive_seed,
    jax_key,
    jax_keys,
    seed_everything,
    set_determinism,
)
from common.experiment.store import (
    ResultsStore,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    read_json,
    to_jsonable,
)
from common.experiment.sweep import (
    SweepError,
    SweepResult,
    code_version,
    run_key,
    sweep,
)
from common.experiment.tables import best_by, best_configs, runs_frame

__all__ = [
    "Config", "ConfigError", "param", "DEVICE_CHOICES", "resolve_device", "git_revision",
    "package_versions", "provenance",
    "derive_seed", "jax_key", "jax_keys", "seed_everything", "set_determinism",
    "ResultsStore", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "read_json",
    "to_jsonable", "sweep", "SweepResult", "SweepError", "run_key", "code_version",
    "EXECUTORS", "SweepExecutor", "DebugExecutor", "LocalExecutor", "SlurmExecutor",
    "SubmititExecutor", "best_by", "best_configs", "runs_frame", "derive", "geometric_grid",
    "require_at_most", "require_multiples", "require_range",
]
