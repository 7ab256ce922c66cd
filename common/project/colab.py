"""Colab: the bootstrap cell of every notebook and the installer it runs.

The bootstrap cell (:func:`bootstrap_source`, written into every notebook by ``make sync``) does
nothing outside Colab. In Colab it

1. fetches the repository at the pinned ref (``[tool.repro]`` of pyproject.toml: a release tag or
   a commit) into ``/content/<name>``, unless a previous run of the cell finished there (it leaves
   a marker file naming the ref); a folder left by a failed or older run is removed and fetched
   again, so rerunning the cell repairs the install;
2. runs this file as a script from that checkout (``python -I common/project/colab.py``): it
   installs the dependencies the notebooks need (the core and the extras named in
   ``[tool.repro.colab]``) under ``constraints.txt``, except the packages the runtime owns
   (``keep``: torch, numpy, the Jupyter stack, ...), which are held at the versions the runtime
   has, and makes the checkout importable in every process (a ``.pth`` file, as an editable
   install does);
3. restarts the runtime only when a package that the running kernel has already imported was
   replaced (then: run all cells again).

Failures show git's and pip's own messages. As a script this file uses only the standard library:
it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

__all__ = ["bootstrap_source", "colab_config", "install_plan", "main", "MARKER", "RESTART_EXIT"]

#: File the bootstrap cell leaves in the checkout once the install finished; holds the ref.
MARKER = ".colab-installed"
#: Exit status of the installer when an imported package was replaced (restart the runtime).
RESTART_EXIT = 10
_PTH_NAME = "lucchi_repro_checkout.pth"


def _canon(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _req_name(req: str) -> str:
    return _canon(re.split(r"[\[=<>!~; ]", req.strip(), maxsplit=1)[0])


def _pyproject(root: Path) -> dict:
    import tomllib  # Python >= 3.11; main() says so first on an older runtime

    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))


def colab_config(root: Path) -> dict:
    """``[tool.repro.colab]``: ``extras`` to install and the runtime packages to ``keep``."""
    cfg = _pyproject(root)["tool"]["repro"].get("colab", {})
    return {"extras": list(cfg.get("extras", [])), "keep": [_canon(k) for k in cfg.get("keep", [])]}


def bootstrap_source(cfg: dict[str, str] | None = None, dest: str | None = None) -> str:
    """The Colab bootstrap cell for the repository URL and ref of ``cfg`` (default:
    ``[tool.repro]``), installing into ``dest`` (default ``/content/<repository name>``)."""
    if cfg is None:
        from common.project.notebooks import repo_config

        cfg = repo_config()
    name = cfg["repository"].rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    dest = dest or f"/content/{name}"
    return f'''# Colab bootstrap, identical in every notebook (`make sync`); a no-op outside Colab.
# In Colab: fetch the repository at its pinned release, install what the notebooks need while
# keeping the runtime's own torch, numpy and Jupyter packages. Rerun it to repair a failed install.
import os
import subprocess
import sys

if "google.colab" in sys.modules:
    _repo, _ref, _dest = "{cfg["repository"]}", "{cfg["ref"]}", "{dest}"
    _marker = os.path.join(_dest, "{MARKER}")

    def _run(*cmd):  # stop with the command's own error text
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{{' '.join(cmd)}} failed:\\n{{proc.stderr}}{{proc.stdout}}")

    if not (os.path.isfile(_marker) and open(_marker).read().strip() == _ref):
        _run("rm", "-rf", _dest)  # a partial or older checkout: fetch it again
        _run("git", "init", "--quiet", _dest)
        _run("git", "-C", _dest, "fetch", "--quiet", "--depth", "1", _repo, _ref)
        _run("git", "-C", _dest, "checkout", "--quiet", "FETCH_HEAD")
        _imported = ",".join(sorted({{m.split(".")[0] for m in sys.modules}}))
        _installer = os.path.join(_dest, "common", "project", "colab.py")
        _proc = subprocess.run([sys.executable, "-I", _installer, "--imported", _imported],
                               capture_output=True, text=True)
        print(_proc.stdout + _proc.stderr)
        _rc = _proc.returncode
        if _rc not in (0, {RESTART_EXIT}):
            raise RuntimeError("installing the repository failed (pip's message above); "
                               "rerun this cell to retry")
        with open(_marker, "w") as _f:
            _f.write(_ref)
        print("Installed", _repo, "at", _ref)
        if _rc == {RESTART_EXIT}:  # a package this kernel had imported was replaced
            print("The runtime restarts now: run all cells again.")
            os.kill(os.getpid(), 9)
    if _dest not in sys.path:
        sys.path.insert(0, _dest)'''


def _installed() -> dict[str, str]:
    out = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out.setdefault(_canon(name), dist.version)
    return out


def install_plan(root: Path, installed: dict[str, str] | None = None) -> tuple[list[str], str]:
    """(requirements to install, constraints text) for the checkout at ``root``.

    The requirements are the core dependencies and those of ``[tool.repro.colab] extras``, less
    the ``keep`` packages. The constraints are ``constraints.txt`` with every ``keep`` package that
    is installed pinned to its installed version instead, so pip never replaces it (a dependency
    that needs another version makes pip stop with its resolver's message).
    """
    installed = _installed() if installed is None else installed
    project = _pyproject(root)["project"]
    cfg = colab_config(root)
    unknown = [e for e in cfg["extras"] if e not in project.get("optional-dependencies", {})]
    if unknown:
        raise ValueError(f"[tool.repro.colab] extras {unknown} are not extras of pyproject.toml")
    reqs = list(project["dependencies"])
    for extra in cfg["extras"]:
        reqs += [r for r in project["optional-dependencies"][extra]
                 if _req_name(r) != _canon(project["name"])]
    keep = set(cfg["keep"])
    reqs = [r for r in dict.fromkeys(reqs) if _req_name(r) not in keep]
    lines = ["# written by the Colab bootstrap: constraints.txt, the runtime's own packages held"]
    for line in (root / "constraints.txt").read_text(encoding="utf-8").splitlines():
        body = line.split("#", 1)[0].strip()
        if body and _req_name(body) in keep:
            continue
        lines.append(line)
    lines += [f"{name}=={installed[name]}" for name in sorted(keep) if name in installed]
    return reqs, "\n".join(lines) + "\n"


def _top_level_modules(dist: importlib.metadata.Distribution) -> set[str]:
    text = dist.read_text("top_level.txt")
    if text:
        return {line.strip() for line in text.splitlines() if line.strip()}
    names = set()
    for f in dist.files or []:
        parts = f.parts
        if parts and not parts[0].endswith((".dist-info", ".egg-info", ".data")):
            names.add(parts[0].removesuffix(".py"))
    return names


def main(argv: list[str] | None = None) -> int:
    """Install the checkout for this Colab runtime; exit status 0, 1 or :data:`RESTART_EXIT`."""
    parser = argparse.ArgumentParser(description="Colab installer (run by the bootstrap cell)")
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[2]),
                        help="the checkout to install (default: the one holding this file)")
    parser.add_argument("--imported", default="",
                        help="comma-separated top-level modules the kernel has imported")
    args = parser.parse_args(argv)
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may run on any runtime
        print("lucchi-repro needs Python 3.11 or newer; this runtime has "
              + sys.version.split()[0], file=sys.stderr)
        return 1
    root = Path(args.root).resolve()
    before = _installed()
    reqs, constraints = install_plan(root, before)
    cpath = root / ".colab-constraints.txt"
    cpath.write_text(constraints, encoding="utf-8")
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
           "--progress-bar", "off", "-c", str(cpath), *reqs]
    print(f"Installing {len(reqs)} packages with constraints.txt (holding the runtime's "
          f"{', '.join(sorted(set(colab_config(root)['keep']) & set(before)))}) ...", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout[-6000:], proc.stderr[-6000:], sep="\n", file=sys.stderr)
        print(f"pip failed (exit {proc.returncode}); its messages are above", file=sys.stderr)
        return 1
    site = Path(sysconfig.get_paths()["purelib"])
    (site / _PTH_NAME).write_text(str(root) + "\n", encoding="utf-8")
    after = _installed()
    changed = sorted(n for n in before if n in after and after[n] != before[n])
    imported = {m for m in args.imported.split(",") if m}
    restart = []
    for dist in importlib.metadata.distributions():
        name = _canon(dist.metadata["Name"] or "")
        if name in changed and _top_level_modules(dist) & imported:
            restart.append(f"{name} {before[name]} -> {after[name]}")
    done = [line for line in proc.stdout.splitlines() if line.startswith("Successfully installed")]
    print(done[-1] if done else "Every package was already installed.")
    if changed:
        print("replaced: " + ", ".join(f"{n} {before[n]} -> {after[n]}" for n in changed))
    if restart:
        print("replaced while imported: " + ", ".join(restart))
        return RESTART_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
