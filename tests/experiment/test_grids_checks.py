"""experiment.grids (derive, geometric_grid) and experiment.checks (cross-field checks)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from common.experiment import (
    Config,
    ConfigError,
    derive,
    geometric_grid,
    param,
    require_at_most,
    require_multiples,
    require_range,
)


@dataclass(frozen=True)
class Study(Config):
    steps: int = param(100, ge=1)
    lrs: tuple[float, ...] = param((0.1, 1.0), gt=0)
    seeds: tuple[int, ...] = param((0, 1), ge=0)

    @property
    def seed(self):  # a property of the study, not a field: never copied
        return 99


@dataclass(frozen=True)
class Run(Config):
    steps: int = param(10, ge=1)
    lr: float = param(0.5, gt=0)
    seed: int = param(0, ge=0)


def test_derive_copies_shared_fields_then_overrides():
    run = derive(Run, Study(steps=7), lr=0.1)
    assert run == Run(steps=7, lr=0.1, seed=0)  # seed: Study's property is not a field
    with pytest.raises(TypeError, match="no field 'lrs'"):
        derive(Run, Study(), lrs=(1.0,))
    with pytest.raises(ConfigError):
        derive(Run, Study(), lr=-1.0)  # the derived config validates


def test_geometric_grid():
    assert geometric_grid(1.0, 3, 2.0) == (0.5, 1.0, 2.0)
    assert len(geometric_grid(1e-3, 7, 10.0)) == 7
    for bad in ((1.0, 4, 2.0), (1.0, 1, 2.0), (0.0, 3, 2.0), (1.0, 3, 1.0)):
        with pytest.raises(ValueError):
            geometric_grid(*bad)


def test_cross_field_checks_name_both_parameters():
    require_multiples("record_every", 10, num_steps=100, window=50)
    with pytest.raises(ConfigError, match=r"window=55: must be a multiple of record_every=10"):
        require_multiples("record_every", 10, num_steps=100, window=55)
    require_at_most("window", 5, "num_steps", 5)
    with pytest.raises(ConfigError, match="window=6: must be at most num_steps=5"):
        require_at_most("window", 6, "num_steps", 5)
    require_range("h_range", (0.5, 5.0))
    for bad in ((5.0, 0.5), (1.0,)):
        with pytest.raises(ConfigError, match="h_range"):
            require_range("h_range", bad)
