r"""Low-rank adapters (LoRA) with a chosen frozen factor: the asymmetric LoRA of Zhu et al.

A linear layer ``y = W_0 x + b`` (``W_0`` in R^{d_out x d_in}, frozen) is adapted as

.. math::  y = W_0 x + b + \frac{\alpha}{r} B A x,\qquad A\in\mathbb R^{r\times d_in},\;
           B\in\mathbb R^{d_out\times r},

(Hu et al. 2021, arXiv 2106.09685, eq. (3)). ``B`` starts at zero, so the adapted layer equals the
base layer at initialisation; ``A`` is drawn from one of :data:`A_INITS`. ``freeze`` names the
factor that is *not* trained:

- ``"A"``: the asymmetric recipe ``A_rand_hB_zero`` of Zhu et al. (ICML 2024, arXiv 2402.16842):
  ``A`` random and frozen, ``B`` trained from zero, the setting of Kratsios, Cheng, Lucchi and
  Sáez de Ocáriz Borde (arXiv 2506.14530) whose generalisation bound is ``Õ(sqrt(r/N))``;
- ``"B"``: ``B`` frozen (the contrast arm of Zhu et al.; with ``B = 0`` frozen the adapter is
  inert, so this arm draws ``B`` from the same initialiser instead, see :class:`LoRALinear`);
- ``"none"``: the symmetric LoRA of Hu et al., both factors trained.

The function computed is the one of ``peft``'s ``lora.Linear`` (``lora_A`` holds ``A`` as an
``nn.Linear(d_in, r)`` weight, ``lora_B`` holds ``B``, scaling ``lora_alpha / r``, no dropout):
``tests/models/test_lora.py`` checks it against peft with the same factors. Where we depart from
peft: peft's ``init_lora_weights="gaussian"`` draws ``A ~ N(0, 1/r^2)``; our ``"gauss"`` draws
``A ~ N(0, 1/d_in)`` (the scale of the notes of arXiv 2506.14530, reconstructed; the paper's
distribution of ``A`` is not confirmed), so ``||A x||`` is of the order of ``sqrt(r/d_in)||x||``
independently of the rank. ``"kaiming"`` is peft's and ``nn.Linear``'s default
(Kaiming-uniform with ``a = sqrt(5)``: ``U(-1/sqrt(d_in), 1/sqrt(d_in))``) and ``"orth"`` the random
orthonormal rows of Zhu et al.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

__all__ = ["A_INITS", "FREEZE", "init_lora_A", "LoRALinear", "apply_lora", "lora_parameters"]

#: which factor is frozen (not trained); see the module docstring
FREEZE = ("A", "B", "none")


def _gauss(r: int, d_in: int, g: torch.Generator) -> torch.Tensor:
    return torch.randn(r, d_in, generator=g, dtype=torch.float64) / math.sqrt(d_in)


def _orth(r: int, d_in: int, g: torch.Generator) -> torch.Tensor:
    if r > d_in:
        raise ValueError(f"init='orth' needs r <= d_in, got r={r}, d_in={d_in}")
    q, rr = torch.linalg.qr(torch.randn(d_in, r, generator=g, dtype=torch.float64))
    # sign fix so that Q is Haar-distributed (Mezzadri 2007, arXiv math-ph/0609050)
    return (q * torch.sign(torch.diagonal(rr))).T.contiguous()


def _kaiming(r: int, d_in: int, g: torch.Generator) -> torch.Tensor:
    # kaiming_uniform_(a=sqrt(5)): gain sqrt(1/3), bound sqrt(3) * gain / sqrt(d_in)
    bound = 1.0 / math.sqrt(d_in)
    return (torch.rand(r, d_in, generator=g, dtype=torch.float64) * 2.0 - 1.0) * bound


#: initialisers of the input-side factor ``A`` (r x d_in), name -> ``f(r, d_in, generator)``
A_INITS: dict[str, Callable[[int, int, torch.Generator], torch.Tensor]] = {
    "gauss": _gauss,      # N(0, 1/d_in) entries
    "orth": _orth,        # orthonormal rows, Haar-random (Zhu et al.)
    "kaiming": _kaiming,  # U(-1/sqrt(d_in), 1/sqrt(d_in)), peft's and nn.Linear's default
}


def init_lora_A(r: int, d_in: int, init: str = "gauss", *, seed: int = 0,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Draw the factor ``A`` (``r x d_in``) from the initialiser ``init`` of :data:`A_INITS`.

    Parameters
    ----------
    r, d_in : int
        Rank and input dimension (positive).
    init : str
        ``"gauss"``, ``"orth"`` or ``"kaiming"``.
    seed : int
        Seed of the draw (one seed = one draw of the frozen random factor).
    dtype : torch.dtype
        Returned dtype (drawn in float64, then cast).

    Returns
    -------
    torch.Tensor
        ``(r, d_in)``.
    """
    if init not in A_INITS:
        raise ValueError(f"init={init!r}: allowed are {sorted(A_INITS)}")
    for name, v in (("r", r), ("d_in", d_in)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name}={v!r}: a positive integer")
    g = torch.Generator().manual_seed(int(seed))
    return A_INITS[init](r, d_in, g).to(dtype)


class LoRALinear(nn.Module):
    r"""``base(x) + (alpha / r) * (x A^T) B^T`` around a frozen ``nn.Linear`` ``base``.

    Parameters
    ----------
    base : nn.Linear
        The pretrained layer; its weight and bias are frozen (``requires_grad=False``).
    r : int
        Rank.
    alpha : float, optional
        LoRA's ``alpha``; default ``r`` (``alpha / r = 1``, the scaling kept fixed across ranks).
    freeze : str
        ``"A"`` (default, asymmetric: A random frozen, B trained from zero), ``"B"`` or ``"none"``.
    init : str
        Initialiser of ``A`` (:data:`A_INITS`).
    seed : int
        Seed of the draw of ``A`` (and of ``B`` when ``freeze="B"``).

    Notes
    -----
    With ``freeze="B"`` a zero ``B`` would keep the adapter at zero for ever, so ``B`` is drawn
    from ``init`` (as ``B^T``, shape ``r x d_out``, seed ``seed + 1``) and ``A`` starts at zero,
    the mirror image of the asymmetric recipe (the adapted layer is again the base layer at
    initialisation).
    """

    def __init__(self, base: nn.Linear, r: int, *, alpha: float | None = None, freeze: str = "A",
                 init: str = "gauss", seed: int = 0):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base: an nn.Linear, got {type(base).__name__}")
        if freeze not in FREEZE:
            raise ValueError(f"freeze={freeze!r}: allowed are {list(FREEZE)}")
        alpha = float(r if alpha is None else alpha)
        if not alpha > 0:
            raise ValueError(f"alpha={alpha!r}: positive")
        d_out, d_in = base.weight.shape
        dtype = base.weight.dtype
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha, self.freeze, self.init = r, alpha, freeze, init
        if freeze == "B":
            A = torch.zeros(r, d_in, dtype=dtype)
            B = init_lora_A(r, d_out, init, seed=seed + 1, dtype=dtype).T.contiguous()
        else:
            A = init_lora_A(r, d_in, init, seed=seed, dtype=dtype)
            B = torch.zeros(d_out, r, dtype=dtype)
        self.A = nn.Parameter(A, requires_grad=freeze not in ("A",))
        self.B = nn.Parameter(B, requires_grad=freeze not in ("B",))

    @property
    def scaling(self) -> float:
        """``alpha / r``."""
        return self.alpha / self.r

    def delta_weight(self) -> torch.Tensor:
        """The low-rank update ``(alpha / r) B A`` (``d_out x d_in``)."""
        return self.scaling * (self.B @ self.A)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Adapted layer on ``x`` (``(..., d_in)``)."""
        return self.base(x) + self.scaling * ((x @ self.A.T) @ self.B.T)

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}, freeze={self.freeze!r}, init={self.init!r}"


def apply_lora(model: nn.Module, targets: Sequence[str], r: int, *, alpha: float | None = None,
               freeze: str = "A", init: str = "gauss", seed: int = 0) -> nn.Module:
    """Replace the ``nn.Linear`` submodules named in ``targets`` by :class:`LoRALinear` in place.

    Every other parameter of ``model`` is frozen, so the trainable parameters are exactly the
    non-frozen LoRA factors (:func:`lora_parameters`). Target ``i`` draws its factors with seed
    ``seed + 1000 * i`` (independent draws per layer, reproducible from one seed).

    Parameters
    ----------
    model : nn.Module
        The pretrained model (modified in place and returned).
    targets : sequence of str
        Qualified names (``model.named_modules()``) of ``nn.Linear`` layers, e.g. ``["0", "2"]``
        for the hidden layers of :class:`common.models.MLP`.
    r, alpha, freeze, init, seed
        As in :class:`LoRALinear`.

    Returns
    -------
    nn.Module
        ``model``.
    """
    modules = dict(model.named_modules())
    if not targets:
        raise ValueError("targets: name at least one nn.Linear")
    for name in targets:
        if name not in modules or not isinstance(modules[name], nn.Linear):
            linear = [n for n, m in modules.items() if isinstance(m, nn.Linear)]
            raise ValueError(f"targets: {name!r} is not an nn.Linear of the model; these are "
                             f"{linear}")
    for p in model.parameters():
        p.requires_grad_(False)
    for i, name in enumerate(targets):
        parent_name, _, child = name.rpartition(".")
        parent = modules[parent_name] if parent_name else model
        setattr(parent, child, LoRALinear(modules[name], r, alpha=alpha, freeze=freeze,
                                          init=init, seed=seed + 1000 * i))
    return model


def lora_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The trainable LoRA factors of ``model`` (after :func:`apply_lora`)."""
    return [p for m in model.modules() if isinstance(m, LoRALinear)
            for p in (m.A, m.B) if p.requires_grad]
