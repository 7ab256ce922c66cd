r"""One federated training loop: rounds of a step function, with the aggregator as an argument.

Every federated method here is a *step function* ``step(state, grad_fn, **hyper) -> (state,
info)`` on a :class:`~common.federated.FedState` (the Clip21 family of
:mod:`common.federated.clip21`, the compressed and sign methods of
:mod:`common.federated.compressed`), and every problem gives the clients' stochastic gradients
as ``grad_fn(x) -> (n_clients, d)`` (:class:`~common.federated.FederatedClassification`, or
any function). :func:`run_rounds` runs the rounds; the aggregator, the Byzantine clients, the DP
noise and the compressor are arguments of the step (compose, don't flag). A run stops early once
the model is not finite (a diverged run), and ``callback(round, state)`` sees every finished
round (evaluations along the way).

:class:`StepRule` is one line of a method registry: which step function a method name runs,
with which fixed hyperparameters, and which ones it reads from a run's config. A paper's table
of methods is then data, ``{"Clip21-SGD": StepRule(clip21_sgd2m_step, {"beta": 1.0,
"beta_hat": 1.0})}``, and no training loop branches on a method's name.

:func:`with_injected_noise` adds noise to every client's gradient (compressed-sde's injected
Gaussian or Student-t noise, :data:`~common.federated.noise.NOISES`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch

from common.federated.clip21 import FedState, fed_init

__all__ = ["run_rounds", "StepRule", "with_injected_noise"]


@dataclass(frozen=True)
class StepRule:
    """A method as data: ``step`` with the ``fixed`` hyperparameters and those named in
    ``from_config`` read from a run's config (:meth:`hyper`)."""

    step: Callable
    fixed: Mapping = field(default_factory=dict)
    from_config: tuple[str, ...] = ()

    def hyper(self, config) -> dict:
        """The step's hyperparameters for ``config``: the fixed ones, then the config's."""
        return {**self.fixed, **{name: getattr(config, name) for name in self.from_config}}


def run_rounds(step: Callable, x0: torch.Tensor, grad_fn: Callable, *, num_clients: int,
               num_rounds: int, callback: Callable | None = None, **hyper) -> FedState:
    """``num_rounds`` rounds of ``step(state, grad_fn, **hyper)`` from ``x0`` (zero client
    states, :func:`~common.federated.fed_init`); stops after the first round whose model is not
    finite. Returns the last state; ``state.t`` is the number of rounds run."""
    if num_rounds < 0:
        raise ValueError(f"num_rounds={num_rounds}: must be >= 0")
    state = fed_init(x0, num_clients)
    for k in range(1, num_rounds + 1):
        state, _ = step(state, grad_fn, **hyper)
        if not torch.isfinite(state.x).all():
            break
        if callback is not None:
            callback(k, state)
    return state


def with_injected_noise(grad_fn: Callable, std: float, sample: Callable, *,
                        generator: torch.Generator) -> Callable:
    """``x -> grad_fn(x) + std * sample(shape, generator)``: every client's gradient plus fresh
    noise drawn after it (``sample(shape, generator) -> tensor``, e.g.
    :data:`common.federated.noise.NOISES` entries)."""
    if not std >= 0:
        raise ValueError(f"std={std}: must be >= 0")

    def noisy(x: torch.Tensor) -> torch.Tensor:
        g = grad_fn(x)
        return g + std * sample(g.shape, generator)

    return noisy
