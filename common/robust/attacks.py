r"""Byzantine attacks: what the ``f`` Byzantine clients send, given everything the honest ones send.

The adversary is omniscient (as in Byz-Clip21-SGD2M, arXiv 2603.23472, and the works it follows):
an attack is a pure function ``attack(honest, own, *, generator) -> (f, d)`` of the honest
messages ``honest`` (h, d) and of the messages ``own`` (f, d) the Byzantine clients would have sent
had they been honest. Label flipping is a *data* attack and lives in :func:`flip_labels`: the
Byzantine clients train on flipped labels and otherwise follow the protocol.

- **IPM** (inner-product manipulation; Xie, Koyejo, Gupta, UAI 2019, arXiv 1903.03936):
  every Byzantine client sends ``-eps * mean(honest)``. The Byz-Clip21-SGD2M paper uses eps = 10;
  its code's ``BitFlippingAttack`` uses eps = 1.
- **ALIE** ("a little is enough"; Baruch, Baruch, Goldberg, NeurIPS 2019, arXiv 1902.06156):
  ``mean(honest) - z * std(honest)`` coordinate-wise, with the paper's default
  ``z = Phi^{-1}((n - s) / n)``, ``s = floor(n/2 + 1) - f`` (:func:`alie_z`).
- **sign flip**: each Byzantine client sends ``-scale * own``.
- **Gaussian**: i.i.d. ``N(0, sigma^2)`` coordinates.
- **mimic** (Karimireddy, He, Jaggi, ICLR 2022, arXiv 2006.09365): every Byzantine client copies
  the honest message with index ``target``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from common.robust._checks import check_rows

__all__ = ["IPM", "ALIE", "SignFlip", "GaussianAttack", "Mimic", "alie_z", "flip_labels",
           "ATTACKS"]


def _validate(honest: torch.Tensor, own: torch.Tensor) -> int:
    check_rows(honest, "honest")
    if not isinstance(own, torch.Tensor) or own.ndim != 2 or own.shape[1] != honest.shape[1]:
        raise ValueError(f"own must have shape (f, {honest.shape[1]}) like the honest messages; "
                         f"got {tuple(getattr(own, 'shape', ()))}")
    return own.shape[0]


@dataclass(frozen=True)
class IPM:
    """Inner-product manipulation: ``-eps * mean(honest)`` from every Byzantine client."""

    eps: float = 10.0

    def __call__(self, honest, own, *, generator=None):
        f = _validate(honest, own)
        return (-self.eps * honest.mean(dim=0)).expand(f, -1).clone()


def alie_z(n: int, f: int) -> float:
    """Baruch et al.'s default ``z = Phi^{-1}((n - s)/n)`` with ``s = floor(n/2 + 1) - f``."""
    from statistics import NormalDist

    if not 0 <= f < n:
        raise ValueError(f"f={f}: must satisfy 0 <= f < n={n}")
    s = math.floor(n / 2 + 1) - f
    p = (n - s) / n
    if not 0 < p < 1:
        raise ValueError(f"ALIE's default z is undefined for n={n}, f={f} (p={p}); pass z")
    return NormalDist().inv_cdf(p)


@dataclass(frozen=True)
class ALIE:
    """A little is enough: ``mean - z * std`` of the honest messages (z: :func:`alie_z` if None)."""

    z: float | None = None

    def __call__(self, honest, own, *, generator=None):
        f = _validate(honest, own)
        z = self.z if self.z is not None else alie_z(honest.shape[0] + f, f)
        std = honest.std(dim=0, unbiased=True) if honest.shape[0] > 1 else torch.zeros_like(
            honest[0])
        return (honest.mean(dim=0) - z * std).expand(f, -1).clone()


@dataclass(frozen=True)
class SignFlip:
    """Each Byzantine client sends ``-scale`` times its own honest message."""

    scale: float = 1.0

    def __call__(self, honest, own, *, generator=None):
        _validate(honest, own)
        return -self.scale * own


@dataclass(frozen=True)
class GaussianAttack:
    """I.i.d. ``N(0, sigma^2)`` coordinates."""

    sigma: float = 1.0

    def __call__(self, honest, own, *, generator=None):
        f = _validate(honest, own)
        if self.sigma < 0:
            raise ValueError(f"sigma={self.sigma}: must be >= 0")
        noise = torch.randn(f, honest.shape[1], generator=generator, dtype=honest.dtype,
                            device="cpu").to(honest.device)
        return self.sigma * noise


@dataclass(frozen=True)
class Mimic:
    """Every Byzantine client copies honest message number ``target``."""

    target: int = 0

    def __call__(self, honest, own, *, generator=None):
        f = _validate(honest, own)
        if not 0 <= self.target < honest.shape[0]:
            raise ValueError(f"target={self.target}: must index one of the {honest.shape[0]} "
                             "honest messages")
        return honest[self.target].expand(f, -1).clone()


def flip_labels(y: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """The label-flipping data attack: ``y -> num_classes - 1 - y`` (for MNIST: ``9 - y``)."""
    if y.dtype.is_floating_point or (y.numel() and (y.min() < 0 or y.max() >= num_classes)):
        raise ValueError(f"y must hold integer labels in [0, {num_classes})")
    return num_classes - 1 - y


#: name -> attack factory (call it with the attack's parameters).
ATTACKS = {"ipm": IPM, "alie": ALIE, "sign_flip": SignFlip, "gaussian": GaussianAttack,
           "mimic": Mimic}
