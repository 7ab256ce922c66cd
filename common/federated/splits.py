r"""Federated data splits: which examples each client holds. Every split returns a list of
``num_clients`` index arrays (disjoint, drawn from ``range(len(labels))``) and is seeded.

- :func:`iid_split`: a random permutation cut into equal parts ("distribute the dataset among
  them equally", Byz-Clip21-SGD2M, arXiv 2603.23472).
- :func:`dirichlet_split`: label skew; for each class, the shares of the clients are drawn from
  ``Dirichlet(alpha)`` (Hsu, Qi, Brown 2019, arXiv 1909.06335). Small alpha: clients hold few
  classes; alpha -> infinity: iid.
- :func:`sorted_split`: sort by label and cut into ``num_clients`` contiguous shards (the
  "extreme heterogeneity" split of the EF21 line of work).
- :func:`half_iid_half_class`: the rule of the Clip21 group's code (``homogenity_coef=2``, read in
  the authors' code by our notes): the first half of a shuffled dataset is split equally and iid;
  in the second half, an example of class c goes alternately to client ``c mod n`` and client
  ``c mod n + 10``; finally every client is truncated to the shortest client's length. It is meant
  for 20 clients and 10 classes (other settings are accepted but skew differently).
"""

from __future__ import annotations

import numpy as np

__all__ = ["iid_split", "dirichlet_split", "sorted_split", "half_iid_half_class",
           "equalize", "SPLITS"]


def _check(labels, num_clients: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if isinstance(num_clients, bool) or not isinstance(num_clients, (int, np.integer)) or \
            not 1 <= num_clients <= len(labels):
        raise ValueError(f"num_clients={num_clients!r}: must be an integer in [1, "
                         f"{len(labels)}] (the number of examples)")
    return labels


def iid_split(labels, num_clients: int, *, seed: int = 0) -> list[np.ndarray]:
    """Equal iid shards (the remainder ``len % num_clients`` is dropped)."""
    labels = _check(labels, num_clients)
    perm = np.random.default_rng(seed).permutation(len(labels))
    per = len(labels) // num_clients
    return [np.sort(perm[i * per:(i + 1) * per]) for i in range(num_clients)]


def dirichlet_split(labels, num_clients: int, *, alpha: float, seed: int = 0,
                    min_size: int = 1, max_tries: int = 100) -> list[np.ndarray]:
    """Label skew with Dirichlet(alpha) class shares; redraws until every client has min_size."""
    labels = _check(labels, num_clients)
    if not alpha > 0:
        raise ValueError(f"alpha={alpha}: must be > 0")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    for _ in range(max_tries):
        shards: list[list[int]] = [[] for _ in range(num_clients)]
        for c in classes:
            idx = rng.permutation(np.flatnonzero(labels == c))
            shares = rng.dirichlet(np.full(num_clients, alpha))
            cuts = (np.cumsum(shares)[:-1] * len(idx)).astype(int)
            for client, part in enumerate(np.split(idx, cuts)):
                shards[client].extend(part.tolist())
        if min(len(s) for s in shards) >= min_size:
            return [np.sort(np.asarray(s, dtype=np.int64)) for s in shards]
    raise ValueError(f"no Dirichlet({alpha}) split gave every client >= {min_size} examples in "
                     f"{max_tries} draws; increase alpha or lower min_size")


def sorted_split(labels, num_clients: int) -> list[np.ndarray]:
    """Sort by label (stable), cut into ``num_clients`` contiguous equal shards."""
    labels = _check(labels, num_clients)
    order = np.argsort(labels, kind="stable")
    per = len(labels) // num_clients
    return [np.sort(order[i * per:(i + 1) * per]) for i in range(num_clients)]


def half_iid_half_class(labels, num_clients: int, *, seed: int = 0) -> list[np.ndarray]:
    """The Clip21 code's half-iid / half-class-sorted split (see the module docstring)."""
    labels = _check(labels, num_clients)
    perm = np.random.default_rng(seed).permutation(len(labels))
    half = len(perm) // 2
    shards: list[list[int]] = [list(perm[:half][i::num_clients]) for i in range(num_clients)]
    turn: dict[int, int] = {}
    for i in perm[half:]:
        c = int(labels[i])
        base = c % num_clients
        target = base if turn.get(c, 0) % 2 == 0 else (base + 10) % num_clients
        turn[c] = turn.get(c, 0) + 1
        shards[target].append(int(i))
    return equalize([np.asarray(s, dtype=np.int64) for s in shards])


def equalize(shards: list[np.ndarray]) -> list[np.ndarray]:
    """Truncate every shard to the shortest one's length (sorted indices), for stacked tensors."""
    m = min(len(s) for s in shards)
    if m == 0:
        raise ValueError("a client holds no example; cannot equalize")
    return [np.sort(np.asarray(s)[:m]) for s in shards]


SPLITS = {"iid": iid_split, "dirichlet": dirichlet_split, "sorted": sorted_split,
          "half_iid_half_class": half_iid_half_class}
