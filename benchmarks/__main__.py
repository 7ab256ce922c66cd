"""``python -m benchmarks [name ...] [--quick]``: run the benchmarks and print their tables."""

from __future__ import annotations

import argparse
import importlib
import sys

from benchmarks import BENCHMARKS
from common import paths
from common.experiment import atomic_write_json, provenance


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=list(BENCHMARKS), help=f"{BENCHMARKS}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, shorter timing")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s) {unknown}; valid: {BENCHMARKS}", file=sys.stderr)
        return 2
    info = provenance()
    print(f"device: {info['device']}; torch {info['packages'].get('torch')}; {info['time_utc']}")
    for name in args.names:
        module = importlib.import_module(f"benchmarks.{name}")
        rows = module.run(quick=args.quick)
        print(f"\n## {name}\n\n{module.table(rows)}")
        atomic_write_json(paths.results_root() / "benchmarks" / f"{name}.json",
                          {"rows": rows, "provenance": info, "quick": args.quick})
    return 0


if __name__ == "__main__":
    sys.exit(main())
