"""common.project.run: a notebook's run, its results folder and where its sweeps are stored."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from common import paths
from common.experiment import Config, param
from common.project import start_run


@dataclass(frozen=True)
class _Cfg(Config):
    n: int = param(3, ge=1, doc="a count")


def test_a_notebook_sweep_is_stored_outside_its_staging_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("REPRO_RESULTS_DIR", str(tmp_path / "staging"))
    run = start_run("ngn-m", "02_mlp_mnist", _Cfg(), scale="paper", seed=0)
    assert run.dir == tmp_path / "staging"
    assert run.sweep_dir == paths.results_root() / "ngn-m" / "paper" / "sweeps" / "02_mlp_mnist"


def test_start_run_refuses_an_unknown_scale_and_paper():
    with pytest.raises(ValueError, match="scale"):
        start_run("ngn-m", "02_mlp_mnist", _Cfg(), scale="gpu", seed=0)
    with pytest.raises(ValueError, match="unknown paper"):
        start_run("no-such-paper", "01", _Cfg(), scale="cpu", seed=0)
