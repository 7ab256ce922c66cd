r"""Jacobians of a network's outputs with respect to its parameters, with ``torch.func``.

For a model :math:`f_\theta: \mathbb{R}^{d} \to \mathbb{R}^{k}` with parameters :math:`\theta \in
\mathbb{R}^p` and inputs :math:`x_1, \dots, x_n`, both functions return the stacked Jacobian

.. math::  J = \begin{pmatrix} J_1 \\ \vdots \\ J_n \end{pmatrix} \in \mathbb{R}^{nk \times p},
           \qquad J_i = \frac{\partial f_\theta(x_i)}{\partial \theta} \in \mathbb{R}^{k\times p},

rows ordered sample-major (row ``i * k + c`` is output ``c`` of sample ``i``), columns in the
order of ``model.named_parameters()``, each parameter flattened row-major (``tensor.reshape(-1)``).

- :func:`per_sample_jacobian`: ``vmap(jacrev(f(x_i)))`` over the samples. Valid when the output
  of sample ``i`` depends on ``x_i`` only; a BatchNorm layer in training mode is refused.
- :func:`batch_jacobian`: ``jacrev`` of the *batch function* :math:`F(\theta) = (f_\theta(x_1),
  \dots, f_\theta(x_n))` as one map. This is the Jacobian of a network whose layers couple the
  samples (BatchNorm in training mode normalises with the batch's statistics, so
  :math:`\partial f(x_i)/\partial\theta` depends on every :math:`x_j`); for other networks it
  equals :func:`per_sample_jacobian` (tested).

Both work in the dtype of the parameters; use float64 for condition numbers (the Gauss-Newton
eigenvalues of a deep network span many decades). Neither modifies the model: BatchNorm's running
statistics are not updated (the batch function is evaluated with ``track_running_stats`` off on a
copy of the module tree's flags, restored afterwards).
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

__all__ = ["per_sample_jacobian", "batch_jacobian", "model_params", "flat_params",
           "num_params", "BatchCouplingError"]

_COUPLING = (nn.modules.batchnorm._BatchNorm,)


class BatchCouplingError(ValueError):
    """A per-sample Jacobian was asked of a model whose layers mix the samples of a batch."""


def model_params(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trainable parameters, detached, in ``named_parameters`` order (the column order)."""
    return {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}


def flat_params(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """The parameters as one vector, in the column order of the Jacobians."""
    return torch.cat([v.reshape(-1) for v in params.values()])


def num_params(model: nn.Module) -> int:
    """Number of trainable parameters ``p`` (the number of columns of the Jacobian)."""
    return sum(v.numel() for v in model.parameters() if v.requires_grad)


def _check_inputs(model: nn.Module, X: torch.Tensor) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(X, torch.Tensor) or X.ndim < 2 or X.shape[0] < 1:
        shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"X must be a tensor of shape (n, ...) with n >= 1 samples, got {shape}")


def _coupled_modules(model: nn.Module) -> list[str]:
    return [name or "<root>" for name, m in model.named_modules()
            if isinstance(m, _COUPLING) and m.training]


def _stack(jac: dict[str, torch.Tensor], n: int) -> torch.Tensor:
    """``{name: (n, k, *shape)}`` -> ``(n * k, p)``."""
    J = torch.cat([j.reshape(n, j.shape[1], -1) for j in jac.values()], dim=2)
    return J.reshape(n * J.shape[1], J.shape[2])


def per_sample_jacobian(model: nn.Module, X: torch.Tensor, *,
                        params: dict[str, torch.Tensor] | None = None,
                        chunk_size: int | None = None) -> torch.Tensor:
    """The ``(n k, p)`` Jacobian, one sample at a time (``vmap`` over ``jacrev``).

    Args:
        model: a module mapping a batch ``(b, ...)`` to outputs ``(b, k)`` (or ``(b, ...)``,
            flattened per sample); no BatchNorm in training mode (use :func:`batch_jacobian`).
        X: inputs ``(n, ...)``.
        params: the point to differentiate at (default: the model's trainable parameters).
        chunk_size: samples per vectorised chunk, to bound memory (None: all at once).
    """
    _check_inputs(model, X)
    coupled = _coupled_modules(model)
    if coupled:
        raise BatchCouplingError(
            f"module(s) {coupled} normalise with batch statistics in training mode, so the "
            "output of one sample depends on the others: use batch_jacobian (the Jacobian of "
            "the batch function), or put the model in eval mode")
    params = model_params(model) if params is None else params
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def f_one(p, x):
        return functional_call(model, (p, buffers), (x.unsqueeze(0),)).reshape(-1)

    jac = vmap(jacrev(f_one), in_dims=(None, 0), chunk_size=chunk_size)(params, X)
    return _stack(jac, X.shape[0])


@contextlib.contextmanager
def _frozen_running_stats(model: nn.Module):
    """Batch statistics without updating the running ones (flags restored on exit)."""
    saved = [(m, m.track_running_stats) for m in model.modules() if isinstance(m, _COUPLING)]
    try:
        for m, _ in saved:
            if m.training:
                m.track_running_stats = False
        yield
    finally:
        for m, flag in saved:
            m.track_running_stats = flag


def batch_jacobian(model: nn.Module, X: torch.Tensor, *,
                   params: dict[str, torch.Tensor] | None = None,
                   chunk_size: int | None = None) -> torch.Tensor:
    """The ``(n k, p)`` Jacobian of the batch function ``theta -> model(X)`` (one ``jacrev``).

    This is the Gauss-Newton Jacobian of a network with BatchNorm in training mode, whose
    outputs depend on the whole batch. Memory: the full ``n k x p`` matrix plus ``jacrev``'s
    ``n k`` vector-Jacobian products, vectorised (``chunk_size`` of them at a time, to bound
    memory; None: all at once).
    """
    _check_inputs(model, X)
    params = model_params(model) if params is None else params
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def F(p):
        return functional_call(model, (p, buffers), (X,)).reshape(X.shape[0], -1)

    with _frozen_running_stats(model):
        jac = jacrev(F, chunk_size=chunk_size)(params)
    return _stack(jac, X.shape[0])
