"""Performance comparisons, reported as ratios against a reference measured in the same run.

``make bench`` (``python -m benchmarks``) runs every benchmark in :data:`BENCHMARKS`, prints a
Markdown table per benchmark and writes the raw timings with provenance to
``results/benchmarks/<name>.json``. Timings use ``torch.utils.benchmark.Timer.blocked_autorange``
(median over blocks), so ratios are robust to noise from the rest of the machine.
"""

#: Every benchmark module, in the order ``make bench`` runs them. Each defines
#: ``run(quick: bool) -> list[dict]`` and ``table(rows) -> str``.
BENCHMARKS = ("optim_step", "dp_step", "federated_round", "aggregators", "sde_paths", "kernels",
              "statevector")
