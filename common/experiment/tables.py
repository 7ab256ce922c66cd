"""Selecting from tables of sweep results (``pandas.DataFrame``, one row per run)."""

from __future__ import annotations

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
