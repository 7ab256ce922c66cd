"""Pick the torch device a run uses, with a clear error when it is not available."""

from __future__ import annotations

__all__ = ["resolve_device", "DEVICE_CHOICES"]

#: Values a notebook's ``device`` parameter accepts ("cuda:N" is accepted too).
DEVICE_CHOICES = ("cpu", "cuda", "auto")


def resolve_device(name: str):
    """``"cpu"``, ``"cuda"`` / ``"cuda:N"``, or ``"auto"`` (CUDA when available, else CPU).

    cpu-scale notebooks default to ``"cpu"`` so their committed outputs are reproducible on any
    machine; the paper-scale settings use ``"auto"``.
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ValueError(f"device={name!r}: CUDA is not available on this machine; use "
                             "'cpu' or 'auto'")
        return torch.device(name)
    raise ValueError(f"device={name!r}: allowed values are 'cpu', 'cuda', 'cuda:N' and 'auto'")
