"""One notebook run: its config, seed, results folder, provenance and claims.

::

    from common.project import start_run

    run = start_run("ngn-m", "01_toy_stability", cfg, scale=scale, seed=cfg.seed)
    run.save("rosenbrock", {"final_loss": ...})     # results/<paper>/<scale>/<notebook>/
    claims = run.claims()                             # the claims paper.yml assigns here
    ...
    claims.finish()

``start_run`` seeds every generator, pins torch's determinism settings, and records the start
time; every record it saves carries the config, the seed, provenance and the wall time so far.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import paths
from common.experiment.config import Config
from common.experiment.provenance import provenance
from common.experiment.seeding import seed_everything, set_determinism
from common.experiment.store import ResultsStore

__all__ = ["Run", "start_run", "SCALES"]

#: The two scales every notebook supports: its defaults (``cpu``) and the paper's settings.
SCALES = ("cpu", "paper")


@dataclass
class Run:
    paper: str
    notebook: str
    scale: str
    config: Config
    seed: int
    started: float = field(default_factory=time.perf_counter)

    @property
    def dir(self) -> Path:
        """The folder this run writes to (a staging folder under ``make reproduce``)."""
        return paths.notebook_results_dir(self.paper, self.notebook, self.scale)

    @property
    def store(self) -> ResultsStore:
        return ResultsStore(self.dir)

    def path(self, relative: str) -> Path:
        """``self.dir / relative``, with its parent folder created."""
        p = self.dir / relative
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def wall_time(self) -> float:
        return time.perf_counter() - self.started

    def record(self, results: Any) -> dict[str, Any]:
        """``results`` wrapped with the config, seed, scale, provenance and wall time."""
        return {
            "paper": self.paper,
            "notebook": self.notebook,
            "scale": self.scale,
            "seed": self.seed,
            "config": self.config.to_dict(),
            "config_hash": self.config.config_hash(),
            "provenance": provenance(),
            "wall_time_s": round(self.wall_time(), 3),
            "results": results,
        }

    def save(self, key: str, results: Any) -> Path:
        """Write ``record(results)`` atomically to ``<dir>/<key>.json``."""
        return self.store.save(key, self.record(results))

    @property
    def sweep_dir(self) -> Path:
        """Where this notebook's sweeps store their runs.

        ``results/<paper>/<scale>/sweeps/<notebook>/``, outside the notebook's own results
        folder on purpose: ``make reproduce`` executes a notebook in a staging folder that
        replaces ``results/<paper>/<scale>/<notebook>/`` only when the notebook finished, and
        discards it when the notebook is interrupted. The runs of a sweep must survive both, so
        that rerunning the same command resumes the sweep.
        """
        return paths.results_root() / self.paper / self.scale / "sweeps" / self.notebook

    def claims(self):
        """The claims ``paper.yml`` assigns to this notebook (a :class:`~common.project.Claims`)."""
        from common.project.claims import Claims

        return Claims(self.paper, self.notebook, run=self)


def start_run(paper: str, notebook: str, config: Config, *, scale: str, seed: int,
              num_threads: int | None = 1) -> Run:
    """Validate the labels, seed everything, pin determinism, and return the :class:`Run`.

    Args:
        paper: the paper's slug (must have ``papers/<paper>/paper.yml``).
        notebook: the notebook's stem as listed in ``paper.yml``.
        config: the validated config of this run.
        scale: ``"cpu"`` or ``"paper"``; names the results folder.
        seed: base seed of the run.
        num_threads: torch intra-op threads (1 keeps cpu-scale outputs bit-stable).
    """
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r}: allowed values are {SCALES} (notebook parameter "
                         "`scale`)")
    if not isinstance(config, Config):
        raise TypeError(f"config must be a common.experiment.Config, got {type(config).__name__}")
    paths.paper_dir(paper)  # validates the slug
    from common.project.notebooks import check_injected_parameters

    check_injected_parameters(paper, notebook)  # a misspelled `papermill -p` name stops here
    seed_everything(seed)
    set_determinism(num_threads)
    return Run(paper=paper, notebook=notebook, scale=scale, config=config, seed=int(seed))
