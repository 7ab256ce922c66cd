"""A thin ``torch.optim.Optimizer`` around a pure functional update (``init`` / ``update``).

The pattern of optax's ``init``/``update`` pairs: the math lives in a pure function that never
modifies its inputs; this class only moves tensors between ``torch.optim``'s per-parameter state
and the functional state, and applies the updates in place.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from common.optim._tree import tree_sq_norm

__all__ = ["FunctionalOptimizer"]


class FunctionalOptimizer(torch.optim.Optimizer):
    """Base of the thin ``torch.optim`` adapters: applies a pure update to the parameters.

    Subclasses set ``init`` and ``update`` (the functional pair) and ``hyperparameters`` (the
    group keys passed to ``update``). The functional state is stored the torch way, so
    ``state_dict()`` / ``load_state_dict()`` work: tuple fields of the state (one tensor per
    parameter) under each parameter, scalar fields (the step count) under the group's first
    parameter. ``step(closure)`` needs the closure (zero the grads, compute the loss, call
    ``backward()``, return the loss): NGN-type steps use the mini-batch loss value. The squared
    gradient norm is global over every parameter of every group and passed to ``update`` as
    ``grad_sq_norm``; each group uses its own hyperparameters.

    The adapter adds no arithmetic of its own: tests check that it reproduces the functional
    update exactly.

    **foreach fast path.** A subclass that defines ``_foreach_group(params, grads, loss, hyper)``
    also has an in-place multi-tensor path (``torch._foreach_*`` kernels: one call per operation
    over all tensors of a group, the buffers updated in place instead of rebuilt), the same
    arithmetic in the same order as the functional update (equal to it to float rounding; tests
    compare both over several steps). ``foreach=None`` (the default) takes it when every parameter
    of the group is a dense tensor and all share one device and dtype, the condition under which
    ``torch.optim`` groups tensors for its foreach kernels (torch itself turns foreach on by
    default on accelerators only; on a CPU its kernels are a C++ loop that still saves the Python
    dispatch per tensor, which is what an optimizer step of small tensors pays for).
    ``foreach=False`` forces the functional path, ``foreach=True`` the fast one (a clear error when
    the parameters are on several devices or dtypes). Both paths store the same state, so a
    ``state_dict`` saved by one loads into the other.
    """

    init: Callable = None  # type: ignore[assignment]  (set by subclasses, as staticmethod)
    update: Callable = None  # type: ignore[assignment]
    state_class: type = None  # type: ignore[assignment]  (a NamedTuple with a `count` field)
    per_param: tuple[str, ...] = ()
    hyperparameters: tuple[str, ...] = ()
    #: True when the update's global scalar is not the plain gradient norm (NGN-MD's
    #: preconditioned norm): then all parameters must be in one group, updated in one call.
    single_group: bool = False
    #: True (the NGN family): ``update(grads, state, loss, ..., grad_sq_norm=)`` with the
    #: closure's loss and the global squared gradient norm; False (SignSGD, Adam):
    #: ``update(grads, state, params, ...)``, and the closure is optional, as in ``torch.optim``.
    needs_loss: bool = True

    def __init__(self, params, foreach: bool | None = None, **defaults):
        if foreach not in (None, True, False):
            raise ValueError(f"foreach={foreach!r}: allowed values are None (automatic), True "
                             "and False")
        if foreach and not hasattr(self, "_foreach_group"):
            raise ValueError(f"foreach=True: {type(self).__name__} has no foreach path; use "
                             "foreach=None or False")
        if hasattr(self, "_foreach_group"):
            defaults["foreach"] = foreach
        super().__init__(params, defaults)
        if self.single_group and len(self.param_groups) != 1:
            raise ValueError(f"{type(self).__name__} takes one parameter group (its step size "
                             f"uses a norm over all parameters); got {len(self.param_groups)}")
        self.last_step_size: float | None = None

    def _uses_foreach(self, group, params) -> bool:
        """Whether ``step`` takes the foreach path for this group (see the class docstring)."""
        if not hasattr(self, "_foreach_group") or group.get("foreach") is False:
            return False
        uniform = (all(p.layout == torch.strided and not p.grad.is_sparse for p in params)
                   and len({(p.device, p.dtype) for p in params}) == 1)
        if group.get("foreach") and not uniform:
            raise ValueError("foreach=True needs every parameter of a group dense, on one device "
                             "and of one dtype; got " + ", ".join(sorted(
                                 {f"{p.device}/{p.dtype}" for p in params})))
        return uniform

    def _load(self, params):
        """The functional state of one group, rebuilt from ``self.state``."""
        key = params[0]
        if "count" not in self.state[key]:
            return type(self).init(tuple(params))
        cls = self.state_class
        return cls(**{
            name: (tuple(self.state[p][name] for p in params) if name in self.per_param
                   else self.state[key][name])
            for name in cls._fields})

    def _save(self, params, fstate) -> None:
        key = params[0]
        for name, value in zip(fstate._fields, fstate, strict=True):
            if name in self.per_param:
                for p, v in zip(params, value, strict=True):
                    self.state[p][name] = v
            else:
                self.state[key][name] = value

    @torch.no_grad()
    def step(self, closure=None):
        if closure is None and self.needs_loss:
            raise ValueError(f"{type(self).__name__}.step needs a closure returning the loss "
                             "(NGN-type step sizes use the mini-batch loss value)")
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
            if loss is None and self.needs_loss:
                raise ValueError("the closure must return the loss")
        groups = [[p for p in g["params"] if p.grad is not None] for g in self.param_groups]
        sq_norm = None
        if self.needs_loss and not self.single_group and any(groups):
            sq_norm = tree_sq_norm([p.grad for ps in groups for p in ps])
        for group, params in zip(self.param_groups, groups):
            if not params:
                continue
            hyper = {h: group[h] for h in self.hyperparameters}
            if sq_norm is not None:
                hyper["grad_sq_norm"] = sq_norm
            if self._uses_foreach(group, params):
                step_size = self._foreach_group(params, [p.grad for p in params],
                                                loss.detach() if self.needs_loss else None, hyper)
                self.last_step_size = float(step_size)
                continue
            third = loss.detach() if self.needs_loss else tuple(p.detach() for p in params)
            updates, new_state, info = type(self).update(
                tuple(p.grad for p in params), self._load(params), third, **hyper)
            for p, u in zip(params, updates, strict=True):
                p.add_(u)
            self._save(params, new_state)
            self.last_step_size = float(info["step_size"])
        return loss

    def _foreach_state(self, params):
        """The per-parameter buffers (lists, one per ``per_param`` field, updated in place) and
        the step count; the state is initialised by ``init`` as on the functional path."""
        key = params[0]
        if "count" not in self.state[key]:
            self._save(params, type(self).init(tuple(params)))
        return ([[self.state[p][name] for p in params] for name in self.per_param],
                self.state[key]["count"])
