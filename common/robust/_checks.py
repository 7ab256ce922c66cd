r"""Input validation shared by the aggregators and attacks, and the one rule for non-finite rows.

**Non-finite rows are Byzantine.** An honest client computes finite vectors; a row with a NaN or an
infinite coordinate is an attack (or a client whose computation broke, which a robust rule must
survive in the same way). Every aggregator applies the rule below, written once here
(:func:`byzantine_rows`), before its own arithmetic, so that no rule can be poisoned by
``0 x inf`` or ``inf - inf`` and none has to handle non-finite numbers itself:

- with ``k <= f`` non-finite rows, they are removed and the rule runs on the ``n - k`` finite
  rows with ``f - k`` Byzantine rows left. Every tolerance here (``f < n/2``, ``n > 2f + 2``,
  ``f < n``) still holds after the removal, and removing known-bad rows never helps the adversary:
  on the finite rows the rule's guarantee holds with the smaller ``f - k``;
- with ``k > f``, some honest rows are non-finite (the honest computation diverged): no rule can
  tell which rows to trust, and the aggregate is NaN in every coordinate, so that the caller's
  divergence check sees it (as the mean of such rows would be).

``f`` is validated against the full ``n`` first, with the aggregator's own tolerance, so a
removal cannot make an invalid ``f`` pass.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import torch

__all__ = ["check_rows", "check_byzantine", "byzantine_rows", "finite_rows"]


def check_rows(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """``x`` must be a floating (n, d) tensor with n >= 1 and d >= 1."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (n_clients, d), got "
                        f"{type(x).__name__}")
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n_clients, d) with n_clients, d >= 1; got "
                         f"{tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
    return x


def check_byzantine(f: int, n: int, *, max_f: int, rule: str) -> int:
    """``f`` must be an integer with 0 <= f <= max_f (the aggregator's tolerance, ``rule``)."""
    if isinstance(f, bool) or not isinstance(f, int):
        raise TypeError(f"f (number of Byzantine clients) must be an int, got {f!r}")
    if f < 0 or f > max_f:
        raise ValueError(f"f={f} Byzantine clients out of n={n}: this aggregator tolerates "
                         f"0 <= f <= {max_f} ({rule})")
    return f


def finite_rows(x: torch.Tensor) -> torch.Tensor | None:
    """Boolean mask of the rows of ``x`` whose coordinates are all finite; None when all are
    (the common case, decided with one reduction).

    A row with a NaN or infinite coordinate has a NaN or infinite sum, so a finite row sum
    proves the row finite: one pass (``x.sum(dim=1)``) decides the common case, and only rows
    whose sum is not finite (a non-finite entry, or finite entries whose sum overflows) are
    checked entry by entry. ``torch.isfinite(x)`` on the whole matrix would write n d booleans
    through several temporaries, which cost about ten passes over the data.
    """
    finite = torch.isfinite(x.sum(dim=1))
    if bool(finite.all()):
        return None
    suspect = (~finite).nonzero().squeeze(1)
    finite[suspect] = torch.isfinite(x[suspect]).all(dim=1)
    return None if bool(finite.all()) else finite


def byzantine_rows(max_f: Callable[[int], int], rule: str, *, per_row: bool = False):
    """Decorator: validate ``x`` and ``f`` (tolerance ``max_f(n)``, described by ``rule``), then
    apply the non-finite-row rule of the module docstring around ``agg(x, *, f, **kwargs)``.

    ``per_row``: ``agg`` is a pre-aggregation returning one row per input row (NNM); it then
    returns the rows of the finite inputs only (or ``n`` NaN rows when ``k > f``). The wrapped
    function keeps its name and docstring, exposes ``max_f`` and ``rule``, and the undecorated
    function is its ``__wrapped__``.
    """

    def decorate(agg: Callable) -> Callable:
        default_f = inspect.signature(agg).parameters["f"].default

        @functools.wraps(agg)
        def aggregate(x: torch.Tensor, *, f: int = default_f, **kwargs) -> torch.Tensor:
            if f is inspect.Parameter.empty:
                raise TypeError(f"{agg.__name__}() needs the keyword argument f (the number of "
                                "Byzantine clients)")
            x = check_rows(x)
            n = x.shape[0]
            check_byzantine(f, n, max_f=max_f(n), rule=rule)
            keep = finite_rows(x)
            if keep is None:
                return agg(x, f=f, **kwargs)
            k = n - int(keep.sum())
            if k > f:
                shape = x.shape if per_row else x.shape[1:]
                return torch.full(shape, float("nan"), dtype=x.dtype, device=x.device)
            return agg(x[keep], f=f - k, **kwargs)

        aggregate.max_f = max_f
        aggregate.rule = rule
        return aggregate

    return decorate
