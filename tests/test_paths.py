from __future__ import annotations

import pytest

from common import paths
from tests.conftest import REPO


def test_repo_root_is_the_checkout():
    assert paths.repo_root() == REPO
    assert (REPO / "pyproject.toml").is_file()


@pytest.mark.parametrize("slug", ["NGN-M", "ngn_m", "../etc", "", "ngn--m", "-ngn"])
def test_malformed_slugs_are_rejected(slug):
    with pytest.raises(ValueError, match="malformed"):
        paths.paper_dir(slug)


def test_unknown_slug_lists_known_ones():
    with pytest.raises(ValueError, match="ngn-m"):
        paths.paper_dir("no-such-paper")


def test_data_search_order(monkeypatch, tmp_path):
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    assert paths.data_search_path() == [tmp_path.resolve(), REPO / "data"]
    monkeypatch.delenv("REPRO_DATA_DIR")
    assert paths.data_search_path() == [REPO / "data"]


def test_results_dir_override(monkeypatch, tmp_path):
    monkeypatch.delenv("REPRO_RESULTS_DIR", raising=False)
    assert paths.notebook_results_dir("ngn-m", "01_x", "cpu") == REPO / "results/ngn-m/cpu/01_x"
    monkeypatch.setenv("REPRO_RESULTS_DIR", str(tmp_path))
    assert paths.notebook_results_dir("ngn-m", "01_x", "cpu") == tmp_path.resolve()


def test_repro_root_must_be_a_repository(monkeypatch, tmp_path):
    monkeypatch.setenv("REPRO_ROOT", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="REPRO_ROOT"):
        paths.repo_root()
