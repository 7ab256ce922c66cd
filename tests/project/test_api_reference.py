"""The API reference: a page per subpackage, and a broken or missing docstring fails the build."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import sys

import pytest
import yaml

import common
from common.project import mathjax
from common.project.sync import api_packages, render_toc
from tests.conftest import REPO


def test_every_subpackage_has_a_page_in_the_toc():
    subs = {m.name for m in pkgutil.iter_modules(common.__path__, "common.") if m.ispkg}
    assert set(api_packages()) == subs | {"common"}
    toc = yaml.safe_load(render_toc())
    api = next(p for p in toc["parts"] if p["caption"] == "API reference")
    pages = [s["file"] for s in api["chapters"][0]["sections"]]
    for package in api_packages():
        page = f"book/api/{package.rsplit('.', 1)[-1]}"
        assert page in pages and (REPO / f"{page}.md").is_file(), page


def test_public_objects_have_docstrings():
    """The same rule the book build enforces, checked fast: every public module, and every
    class and function in a module's ``__all__``, has a docstring."""
    missing = []
    for m in pkgutil.walk_packages(common.__path__, "common."):
        if any(part.startswith("_") for part in m.name.split(".")):
            continue
        mod = importlib.import_module(m.name)
        if not (mod.__doc__ or "").strip():
            missing.append(m.name)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name, None)
            public = inspect.isclass(obj) or inspect.isfunction(obj)
            if public and not (obj.__doc__ or "").strip():
                missing.append(f"{m.name}.{name}")
    assert not missing, f"public objects without a docstring: {missing}"


@pytest.mark.slow
def test_a_broken_or_missing_docstring_fails_the_build(tmp_path, monkeypatch):
    if mathjax.installed_problem() is not None:
        if os.environ.get("CI") == "true":  # make unit fetches it first
            pytest.fail(mathjax.installed_problem())
        pytest.skip(mathjax.installed_problem())
    from sphinx.application import Sphinx

    pkg = tmp_path / "src" / "demo_api"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""A demo package."""\n')
    (pkg / "good.py").write_text('"""Fine.\n\n.. math:: x_{k+1} = x_k - \\\\eta g_k\n"""\n\n'
                                 '__all__ = ["f"]\n\n\ndef f(x):\n    """Return ``x``."""\n'
                                 '    return x\n')
    (pkg / "bad.py").write_text('"""The norm |x| of a vector."""\n\n__all__ = ["g"]\n\n\n'
                                'def g(x):\n    return x\n')
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    src = tmp_path / "doc"
    src.mkdir()
    (src / "conf.py").write_text(
        "extensions = ['sphinx.ext.autodoc', 'sphinx.ext.napoleon', "
        "'common.project.bookext']\n"
        f"mathjax_path = {mathjax.ENTRY!r}\nnitpicky = True\n")
    (src / "index.rst").write_text("API\n===\n\n.. api-modules:: demo_api\n")
    warnings = tmp_path / "warnings.txt"
    with open(warnings, "w") as w:
        app = Sphinx(str(src), str(src), str(tmp_path / "out"), str(tmp_path / "dt"), "html",
                     status=None, warning=w, freshenv=True)
        app.build()
    text = warnings.read_text()
    assert "function demo_api.bad.g has no docstring" in text, text
    assert "Undefined substitution referenced" in text, text
    assert "demo_api.good" not in text, text  # the good module is clean
    for name in [n for n in sys.modules if n.split(".")[0] == "demo_api"]:
        del sys.modules[name]
