"""pyproject.toml, constraints.txt and environment.yml agree on the environment."""

from __future__ import annotations

import re
import tomllib

import yaml

from tests.conftest import REPO


def _name(req: str) -> str:
    return re.split(r"[\[=<>!~; ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_packages() -> set[str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = data["project"]
    names = {_name(r) for r in project["dependencies"]}
    for reqs in project["optional-dependencies"].values():
        names |= {_name(r) for r in reqs if not r.startswith(project["name"])}
    return names


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin (name==version)"
            pins[_name(name)] = version
    return pins


def test_every_direct_dependency_is_pinned_exactly():
    pins = _constraints()
    missing = _pyproject_packages() - set(pins)
    assert not missing, f"pyproject dependencies without a pin in constraints.txt: {missing}"


def test_torch_is_pinned_to_2_13_0():
    assert _constraints()["torch"] == "2.13.0"
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.13.0" in deps


def test_environment_yml_names_the_same_packages_as_pyproject():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    assert "python=3.11" in conda
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "--constraint constraints.txt" in pip
    assert "--editable ." in pip
    names = {_name(r) for r in pip if not r.startswith("-")}
    assert names == _pyproject_packages()


def test_importing_common_is_light():
    """No heavy imports, I/O or network at import time (DESIGN.md section 5)."""
    import subprocess
    import sys

    code = ("import sys, common, common.data, common.experiment, common.plotting, "
            "common.paths, common.project; "
            "heavy = [m for m in ('torch', 'jax', 'matplotlib.pyplot', 'papermill') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
