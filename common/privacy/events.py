r"""Differential-privacy events: immutable records of which mechanisms a run performed.

Following dp-accounting's ``DpEvent`` design, a run *describes* its privacy mechanisms as data and
any accountant scores the description afterwards, so a notebook can print the epsilon of several
accountants (or of a nominal formula) side by side for one and the same run.

- :class:`GaussianEvent` ``(noise_multiplier)``: the Gaussian mechanism on a query of L2
  sensitivity 1 (noise std = ``noise_multiplier`` x sensitivity).
- :class:`PoissonSampledEvent` ``(sampling_probability, event)``: ``event`` run on a Poisson
  subsample (each record included independently with probability q).
- :class:`SelfComposedEvent` ``(event, count)``: ``event`` repeated ``count`` times (adaptively).
- :class:`ComposedEvent` ``(events)``: a sequence of different events.

:func:`to_dp_accounting` converts any event to the matching ``dp_accounting.DpEvent``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["DpEvent", "GaussianEvent", "PoissonSampledEvent", "SelfComposedEvent",
           "ComposedEvent", "to_dp_accounting", "dp_sgd_event"]


class DpEvent:
    """Base class of the event records (frozen dataclasses below)."""


@dataclass(frozen=True)
class GaussianEvent(DpEvent):
    noise_multiplier: float

    def __post_init__(self):
        if not (self.noise_multiplier > 0 and math.isfinite(self.noise_multiplier)):
            raise ValueError(f"noise_multiplier={self.noise_multiplier}: must be finite and > 0")


@dataclass(frozen=True)
class PoissonSampledEvent(DpEvent):
    sampling_probability: float
    event: DpEvent

    def __post_init__(self):
        if not 0 < self.sampling_probability <= 1:
            raise ValueError(f"sampling_probability={self.sampling_probability}: must be in (0, 1]")
        if not isinstance(self.event, DpEvent):
            raise TypeError("event must be a DpEvent")


@dataclass(frozen=True)
class SelfComposedEvent(DpEvent):
    event: DpEvent
    count: int

    def __post_init__(self):
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"count={self.count!r}: must be an integer >= 1")
        if not isinstance(self.event, DpEvent):
            raise TypeError("event must be a DpEvent")


@dataclass(frozen=True)
class ComposedEvent(DpEvent):
    events: tuple[DpEvent, ...]

    def __post_init__(self):
        object.__setattr__(self, "events", tuple(self.events))
        if not self.events or not all(isinstance(e, DpEvent) for e in self.events):
            raise ValueError("events must be a non-empty sequence of DpEvent")


def dp_sgd_event(noise_multiplier: float, sampling_probability: float, steps: int) -> DpEvent:
    """DP-SGD's event: ``steps`` Poisson-subsampled Gaussian mechanisms (Abadi et al. 2016)."""
    inner = GaussianEvent(noise_multiplier)
    if sampling_probability < 1:
        inner = PoissonSampledEvent(sampling_probability, inner)
    return SelfComposedEvent(inner, steps)


def to_dp_accounting(event: DpEvent):
    """The equivalent ``dp_accounting.DpEvent`` (imported lazily)."""
    import dp_accounting

    if isinstance(event, GaussianEvent):
        return dp_accounting.GaussianDpEvent(event.noise_multiplier)
    if isinstance(event, PoissonSampledEvent):
        return dp_accounting.PoissonSampledDpEvent(event.sampling_probability,
                                                   to_dp_accounting(event.event))
    if isinstance(event, SelfComposedEvent):
        return dp_accounting.SelfComposedDpEvent(to_dp_accounting(event.event), event.count)
    if isinstance(event, ComposedEvent):
        return dp_accounting.ComposedDpEvent([to_dp_accounting(e) for e in event.events])
    raise TypeError(f"cannot convert {type(event).__name__} to a dp_accounting event")
