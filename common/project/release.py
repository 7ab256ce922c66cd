"""``make release VERSION=x.y.z``: pin the Colab ref to a new release tag, re-sync, commit, tag.

    python -m common.project.release 0.2.0

Steps, each checked before the next:

1. ``VERSION`` is ``MAJOR.MINOR.PATCH``; the working tree is clean; the tag ``v<VERSION>`` does
   not exist yet.
2. ``pyproject.toml`` gets ``version = "<VERSION>"`` and ``[tool.repro] ref = "v<VERSION>"`` (the
   one place the ref is configured); ``common.__version__`` follows.
3. ``make sync`` runs: every notebook's bootstrap cell and the book's launch buttons now point at
   the new tag.
4. One commit, ``Release v<VERSION>``, and an annotated tag ``v<VERSION>`` on it, so the ref the
   notebooks pin always exists in the repository that contains them. Push both
   (``git push origin HEAD v<VERSION>``).

:func:`pinned_ref_problem` is the check (run by the tests) that the pinned ref is a tag or a commit
of the repository.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from common import paths

__all__ = ["release", "pinned_ref_problem", "set_version", "main", "VERSION_RE"]

VERSION_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


class ReleaseError(RuntimeError):
    """A precondition of the release does not hold; nothing was changed."""


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed:\n{proc.stderr.strip()}")
    return proc


def pinned_ref_problem(root: Path | None = None, ref: str | None = None) -> str | None:
    """Why the pinned ref (``[tool.repro] ref``) is not usable, or None when it is a tag or a
    commit of the repository at ``root``.

    Returns None without checking outside a git checkout (an unpacked archive has no history),
    and for a release ref ``v<VERSION>`` in a clone that carries no tags at all when the release
    commit that pinned it is in the history (``git tag`` on that commit restores it).
    """
    from common.project.notebooks import repo_config

    root = Path(root or paths.repo_root())
    ref = ref or repo_config()["ref"]
    inside = _git(root, "rev-parse", "--is-inside-work-tree", check=False)
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return None
    if _git(root, "rev-parse", "--verify", "--quiet", f"refs/tags/{ref}^{{commit}}",
            check=False).returncode == 0:
        return None
    if re.fullmatch(r"[0-9a-f]{7,40}", ref) and _git(
            root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False
    ).returncode == 0:
        return None
    if (not _git(root, "tag", "--list", check=False).stdout.strip()
            and _release_commit(root, ref)):
        # A clone that carries no tags at all (a CI checkout of the branch alone) cannot see the
        # tag; the release commit that pinned it is in the history, so `git tag` recreates it.
        return None
    shallow = _git(root, "rev-parse", "--is-shallow-repository", check=False).stdout.strip()
    hint = (" This clone is shallow: fetch the history and tags (git fetch --unshallow --tags)."
            if shallow == "true" else
            " Fetch the tags (git fetch --tags), or cut a release: make release VERSION=x.y.z.")
    return (f"the pinned ref {ref!r} ([tool.repro] ref in pyproject.toml) is neither a tag nor a "
            f"commit of this repository, so every Colab launch button and bootstrap cell would "
            f"fail.{hint}")


def _release_commit(root: Path, ref: str) -> str | None:
    """The commit that ``make release`` made for ``ref`` (``Release <ref>: ...`` setting
    ``ref = "<ref>"`` in pyproject.toml), or None."""
    if not re.fullmatch(r"v" + VERSION_RE.pattern.strip("^$"), ref):
        return None
    pinned = 'ref = "' + ref + '"'
    out = _git(root, "log", "--format=%H", "--fixed-strings", f"--grep=Release {ref}:",
               "-S" + pinned, "--", "pyproject.toml", check=False).stdout.split()
    return out[0] if out else None


def set_version(root: Path, version: str) -> list[Path]:
    """Write ``version`` and the ref ``v<version>`` into pyproject.toml and ``common.__version__``;
    returns the files changed."""
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    new, n_version = re.subn(r'(?m)^version = "[^"]*"$', f'version = "{version}"', text, count=1)
    head, sep, tail = new.partition("[tool.repro]\n")
    tail, n_ref = re.subn(r'(?m)^ref = "[^"]*"$', f'ref = "v{version}"', tail, count=1)
    if not (sep and n_version and n_ref):
        raise ReleaseError("pyproject.toml: expected `version = ...` in [project] and `ref = ...` "
                           "in [tool.repro]")
    pyproject.write_text(head + sep + tail, encoding="utf-8")
    init = root / "common" / "__init__.py"
    init_text, n_init = re.subn(r'(?m)^__version__ = "[^"]*"$', f'__version__ = "{version}"',
                                init.read_text(encoding="utf-8"), count=1)
    if not n_init:
        raise ReleaseError("common/__init__.py has no `__version__ = ...` line")
    init.write_text(init_text, encoding="utf-8")
    return [pyproject, init]


def release(version: str, root: Path | None = None) -> str:
    """Cut release ``version`` (see the module docstring); returns the tag."""
    from common.project import notebooks, paperyml
    from common.project.sync import sync

    root = Path(root or paths.repo_root())
    if not VERSION_RE.match(version):
        raise ReleaseError(f"VERSION={version!r}: expected MAJOR.MINOR.PATCH, e.g. 0.2.0")
    tag = f"v{version}"
    dirty = _git(root, "status", "--porcelain", "--untracked-files=no").stdout.strip()
    if dirty:
        raise ReleaseError("the working tree has uncommitted changes; commit or stash them "
                           f"first:\n{dirty}")
    if _git(root, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}",
            check=False).returncode == 0:
        raise ReleaseError(f"the tag {tag} exists already; choose a new VERSION")
    set_version(root, version)
    notebooks.repo_config.cache_clear()
    paperyml._load_cached.cache_clear()
    changed = sync()
    still = sync(check=True)
    if still:
        raise ReleaseError(f"make sync did not converge: {still}")
    _git(root, "add", "-A", "--", "pyproject.toml", "common/__init__.py", "README.md", "book",
         "papers")
    _git(root, "commit", "-q", "-m", f"Release {tag}: the Colab bootstrap cells and launch "
         f"buttons pin {tag}" + (f" ({len(changed)} generated files re-synced)" if changed else ""))
    _git(root, "tag", "-a", tag, "-m", f"lucchi-repro {version}")
    problem = pinned_ref_problem(root, tag)
    if problem:
        raise ReleaseError(problem)
    return tag


def main(argv: list[str] | None = None) -> int:
    """``make release``: exit status 0, or 2 when a precondition does not hold."""
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version", nargs="?", default=os.environ.get("VERSION", ""))
    args = parser.parse_args(argv)
    try:
        tag = release(args.version)
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Released {tag}: committed and tagged. Publish it with: git push origin HEAD {tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
