"""Shared fixtures. Tests never use the network: datasets come from ``$REPRO_DATA_DIR``
(CI points it at ``../shared/data``) or from files the tests write."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from common import paths

REPO = paths.repo_root()


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    """Send everything a run writes to a scratch folder."""
    monkeypatch.setenv("REPRO_RESULTS_DIR", str(tmp_path / "results"))
    return tmp_path / "results"


@pytest.fixture
def shared_data() -> Path:
    """The verified offline datasets; the test is skipped when none are configured."""
    env = os.environ.get("REPRO_DATA_DIR")
    if not env or not Path(env, "mnist").is_dir():
        pytest.skip("REPRO_DATA_DIR with the offline datasets is not set")
    return Path(env)


@pytest.fixture
def scratch_repo(tmp_path, monkeypatch):
    """A scratch repository root (pyproject.toml, papers/, book/) used via ``REPRO_ROOT``.

    Tests build fake papers in it; the real repository is never modified.
    """
    root = tmp_path / "repo"
    (root / "papers").mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    monkeypatch.setenv("REPRO_ROOT", str(root))
    monkeypatch.delenv("REPRO_RESULTS_DIR", raising=False)
    from common.project import notebooks, paperyml

    paperyml._load_cached.cache_clear()
    notebooks.repo_config.cache_clear()
    yield root
    paperyml._load_cached.cache_clear()
    notebooks.repo_config.cache_clear()
