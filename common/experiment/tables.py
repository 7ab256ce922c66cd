"""Selecting from tables of sweep results (``pandas.DataFrame``, one row per run)."""

from __future__ import annotations

import dataclasses

import numpy as np


def best_by(df, metric: str, group: list[str], lower: bool = True):
    """The row with the best ``metric`` in each group of ``group`` columns: the tuning step of a
    protocol that reports every method at its best hyperparameters.

    NaN and +-inf count as the worst value (a diverged run never wins), whichever the direction;
    among equal values the first row in ``df`` order wins (``idxmin``), so the choice is
    deterministic. Rows come back in the order of the sorted group keys.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"method": ["a", "a", "b"], "lr": [0.1, 1.0, 0.1],
    ...                    "loss": [0.5, float("nan"), 0.7]})
    >>> best_by(df, "loss", ["method"])["lr"].tolist()
    [0.1, 0.1]
    """
    missing = [c for c in [metric, *group] if c not in df.columns]
    if missing:
        raise KeyError(f"best_by: columns {missing} not in the table (has {list(df.columns)})")
    worst = np.inf if lower else -np.inf
    key = df[metric].astype(float).where(np.isfinite(df[metric].astype(float)), worst)
    idx = (key if lower else -key).groupby([df[g] for g in group]).idxmin()
    return df.loc[idx.values]


def runs_frame(configs, results):
    """One row per run: the fields of each config (``Config.to_dict()``) followed by its result
    dict, for tables of sweep results. ``configs`` and ``results`` pair up in order.

    >>> import dataclasses
    >>> from common.experiment import Config, param
    >>> @dataclasses.dataclass(frozen=True)
    ... class T(Config):
    ...     lr: float = param(0.1, gt=0)
    >>> runs_frame([T(lr=0.1), T(lr=1.0)], [{"loss": 0.5}, {"loss": 0.7}]).to_dict("list")
    {'lr': [0.1, 1.0], 'loss': [0.5, 0.7]}
    """
    import pandas as pd

    configs, results = list(configs), list(results)
    if len(configs) != len(results):
        raise ValueError(f"runs_frame: {len(configs)} configs but {len(results)} results; "
                         "they must pair up one to one")
    return pd.DataFrame([{**c.to_dict(), **r} for c, r in zip(configs, results)])


def best_configs(df, metric: str, config_type, group: tuple[str, ...] = ("method",),
                 lower: bool = True) -> dict:
    """The best config of each group, rebuilt as ``config_type`` (a
    :class:`~common.experiment.config.Config`) from the row
    :func:`best_by` selects: ``{group value: config}`` (a tuple key when ``group`` has several
    columns). The tuning step of a protocol: pick each method's best run, then re-run it."""
    names = [f.name for f in dataclasses.fields(config_type)]
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise KeyError(f"best_configs: {config_type.__name__} fields {missing} are not columns "
                       "of the table (build it with runs_frame)")
    best = best_by(df, metric, list(group), lower=lower)
    out = {}
    for _, row in best.iterrows():
        key = row[group[0]] if len(group) == 1 else tuple(row[g] for g in group)
        out[key] = config_type(**{n: row[n] for n in names})
    return out
