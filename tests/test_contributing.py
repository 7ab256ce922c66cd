"""CONTRIBUTING.md is true to the tree: every file it names exists, every registry and name it
points to under ``common.`` imports, and every registry in its table is a non-empty dict."""

from __future__ import annotations

import importlib
import re

import pytest

from common import paths

TEXT = (paths.repo_root() / "CONTRIBUTING.md").read_text(encoding="utf-8")
CODE = re.findall(r"`([^`\n]+)`", TEXT)
FILES = sorted({c for c in CODE if re.fullmatch(r"(common|tests|papers|benchmarks)/[\w/<>.-]+", c)
                and "<" not in c})
DOTTED = sorted({c for c in CODE if re.fullmatch(r"common(\.\w+)+", c)})
REGISTRIES = sorted({c for c in DOTTED if c.rsplit(".", 1)[1].isupper()})


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(dotted)


def test_it_names_files_and_registries():
    assert len(FILES) > 20 and len(REGISTRIES) >= 8


@pytest.mark.parametrize("path", FILES)
def test_named_file_exists(path):
    target = paths.repo_root() / path.rstrip("/")
    assert target.exists(), f"CONTRIBUTING.md names {path}, which does not exist"


@pytest.mark.parametrize("dotted", DOTTED)
def test_named_object_imports(dotted):
    if dotted.split(".")[1] in ("sde",):
        pytest.importorskip("jax")
    _resolve(dotted)


@pytest.mark.parametrize("dotted", REGISTRIES)
def test_named_registry_is_a_non_empty_dict(dotted):
    if dotted.split(".")[1] in ("sde",):
        pytest.importorskip("jax")
    registry = _resolve(dotted)
    assert isinstance(registry, dict) and registry, f"{dotted} is not a non-empty dict"
