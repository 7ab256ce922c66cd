r"""Linear minimisation oracles (LMOs) of the layer-wise norms used by Scion.

For a norm ``||.||`` on a parameter tensor and a radius ``r > 0``, the LMO of a gradient ``G`` is

.. math::  \mathrm{lmo}_r(G) = \arg\min_{\|D\| \le r} \langle G, D \rangle,
           \qquad \langle G, \mathrm{lmo}_r(G) \rangle = -r \|G\|_*,
           \qquad \|\mathrm{lmo}_r(G)\| = r \ (G \ne 0),

with ``||.||_*`` the dual norm. **Sign convention:** these functions return the *minimiser*, the
descent direction (e.g. ``-U V^T``). The Scion reference code (``LIONS-EPFL/scion``, ``scion.py``)
returns the positive orientation (``+U V^T``) and subtracts it; the step is the same.

Each norm is a small frozen dataclass with ``lmo(G, radius)``, ``norm(W)``, ``dual_norm(G)`` and
``init(shape)`` (a point on the unit sphere, the reference's ``init``). The dimensions of a
parameter are read as the reference reads them, ``(d_out, d_in, ...)`` (``torch.nn.Linear``'s
weight layout); the leading ``batch_dims`` dimensions of every tensor index independent problems
(a batched sweep) and are never reduced over.

Per norm, on a ``(d_out, d_in)`` weight (``s``, ``c``: the norm's scale factors):

- ``Spectral``: ``||W|| = ||W||_op / s``, ``s = sqrt(d_out/d_in)``; LMO ``-s U V^T``;
  dual ``s ||G||_nuclear``.
- ``Sign``: ``||W|| = d_in max |W_ij|``; LMO ``-sign(G) / d_in``; dual ``||G||_1 / d_in``.
- ``ColNorm``: ``||W|| = c max_j ||W_:j||_2``, ``c = 1/sqrt(d_out)``; LMO column
  ``-G_:j / (c ||G_:j||_2)``; dual ``(1/c) sum_j ||G_:j||_2``.
- ``RowNorm``: ``||W|| = c max_i ||W_i:||_2``, ``c = sqrt(d_in)``; LMO row
  ``-G_i: / (c ||G_i:||_2)``; dual ``(1/c) sum_i ||G_i:||_2``.
- ``BiasRMS``: ``||w|| = ||w||_2 / sqrt(n)`` (RMS); LMO ``-sqrt(n) g / ||g||_2``;
  dual ``sqrt(n) ||g||_2``.

Options as in the reference: ``Spectral(max=True)`` uses ``s = max(1, sqrt(d_out/d_in))`` (input
layers), ``normalized=False`` uses ``s = sqrt(d_out)``; ``Sign(normalized=False)`` drops the
``1/d_in``; ``ColNorm(normalized=True)`` multiplies ``c`` by ``d_in``; ``RowNorm(normalized=False)``
uses ``c = 1``; ``transpose=True`` (ColNorm, RowNorm) reads a ``(vocab, d)`` embedding as
``(d, vocab)``. :class:`SpectralConv` is the spectral norm of a convolution kernel reshaped to
``(d_out, d_in k^2)`` with the reference's extra ``1/k^2``; :class:`Auto` picks by dimension
(conv kernels, matrices, vectors). :data:`LMOS` names them for configs.

The spectral LMO is computed by ``method="newton_schulz"`` (NS5, float32 or the input's wider
precision, :func:`common.optim.newton_schulz.newton_schulz`; what the paper and the reference use)
or ``method="svd"`` (the exact polar factor). NS5 only approximates the polar factor, so with it
the two identities above hold approximately (``<G, lmo(G)>`` within a few percent of
``-r ||G||_*`` and ``||lmo(G)||`` in about [0.68, 1.2] r for well-conditioned ``G``); with
``"svd"`` they hold to rounding. ``dual_norm`` is always exact (singular values from
``torch.linalg.svdvals``).

Where we depart from the reference: a zero column / row / vector has LMO 0 (the reference divides
by ``rms + 1e-8``, which moves every other entry by a relative 1e-8); the spectral LMO works on
any batch of matrices.

Reference: Pethick, Xie, Antonakopoulos, Zhu, Silveti-Falls, Cevher, "Training Deep Learning
Models with Norm-Constrained LMOs", arXiv 2502.07529 (Table 2 and section 3.1); the norms as used
by Islamov et al., arXiv 2603.21191 (eq. 14: ``||x|| = max_l ||x_l||_l``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from common.optim.newton_schulz import newton_schulz, polar_svd

__all__ = ["Spectral", "SpectralConv", "Sign", "ColNorm", "RowNorm", "BiasRMS", "Auto", "LMOS",
           "get_lmo"]

_METHODS = ("newton_schulz", "svd")


def _core(G: torch.Tensor, batch_dims: int, name: str, ndims: tuple[int, ...]):
    """The non-batch shape of ``G``, checked against the dimensions the norm accepts."""
    if not isinstance(batch_dims, int) or batch_dims < 0 or batch_dims > G.ndim:
        raise ValueError(f"batch_dims={batch_dims!r}: an integer in [0, {G.ndim}]")
    core = tuple(G.shape[batch_dims:])
    if len(core) not in ndims:
        raise ValueError(f"{name} applies to {' or '.join(map(str, ndims))}-D parameters; got "
                         f"shape {tuple(G.shape)} with batch_dims={batch_dims}")
    return core


def _check_radius(radius) -> None:
    r = torch.as_tensor(radius)
    if torch.any(~(r > 0)):
        raise ValueError(f"radius={radius}: must be > 0")


def _radius(radius, G: torch.Tensor, batch_dims: int):
    """A scalar radius, or one per problem of the batch, broadcast against ``G``."""
    _check_radius(radius)
    if isinstance(radius, torch.Tensor) and radius.ndim > 0:
        return radius.reshape(radius.shape + (1,) * (G.ndim - radius.ndim)).to(G.dtype)
    return float(radius)


def _safe_div(x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """``x / d`` with 0 where ``d == 0`` (then ``x`` is 0 too)."""
    return torch.where(d > 0, x / torch.where(d > 0, d, torch.ones_like(d)), torch.zeros_like(x))


def _reduce(x: torch.Tensor, batch_dims: int, op) -> torch.Tensor:
    """Reduce every dimension after the batch dimensions."""
    flat = x.reshape(*x.shape[:batch_dims], -1)
    return op(flat, dim=-1)


@dataclass(frozen=True)
class _Polar:
    """Shared by the spectral norms: how the polar factor is computed."""

    steps: int = 5
    method: str = "newton_schulz"

    def __post_init__(self):
        if self.method not in _METHODS:
            raise ValueError(f"method={self.method!r}: allowed are {_METHODS}")
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps={self.steps!r}: a positive integer")

    def polar(self, M: torch.Tensor) -> torch.Tensor:
        """The (approximate) polar factor of a batch of matrices by this norm's ``method``."""
        if self.method == "svd":
            return polar_svd(M)
        return newton_schulz(M, steps=self.steps)

    def _matrix(self, G: torch.Tensor, batch_dims: int):  # -> (matrix view, factor s)
        raise NotImplementedError

    def lmo(self, G: torch.Tensor, radius=1.0, batch_dims: int = 0) -> torch.Tensor:
        M, s = self._matrix(G, batch_dims)
        return (-s * _radius(radius, M, batch_dims) * self.polar(M)).reshape(G.shape)

    def norm(self, W: torch.Tensor, batch_dims: int = 0) -> torch.Tensor:
        M, s = self._matrix(W, batch_dims)
        wide = M.to(torch.promote_types(M.dtype, torch.float32))
        return torch.linalg.matrix_norm(wide, ord=2).to(W.dtype) / s

    def dual_norm(self, G: torch.Tensor, batch_dims: int = 0) -> torch.Tensor:
        M, s = self._matrix(G, batch_dims)
        sv = torch.linalg.svdvals(M.to(torch.promote_types(M.dtype, torch.float32)))
        return s * sv.sum(-1).to(G.dtype)

    def init(self, shape, generator: torch.Generator | None = None,
             dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """A random point on the unit sphere: ``s Q`` with ``Q`` orthogonal (float64), the
        reference's orthogonal init times its scale."""
        shape = tuple(shape)
        W = torch.empty(shape[0], math.prod(shape[1:]), dtype=torch.float64)
        _, s = self._matrix(torch.empty(shape, device="meta"), 0)
        torch.nn.init.orthogonal_(W, generator=generator)
        return (W * s).reshape(shape).to(dtype)


@dataclass(frozen=True)
class Spectral(_Polar):
    """Scaled spectral norm ``||W||_op / s`` of a matrix (``Spectral`` in the reference).

    ``s = sqrt(d_out/d_in)`` (``normalized=True``, the RMS->RMS operator norm), ``sqrt(d_out)``
    (``normalized=False``), floored at 1 with ``max=True``. Tensors with more than two dimensions
    are read as ``(d_out, prod(rest))``, like the reference's ``g.reshape(len(g), -1)``.
    """

    max: bool = False
    normalized: bool = True

    def factor(self, d_out: int, d_in: int) -> float:
        """``s``: the LMO's scale, ``||s U V^T|| = 1``."""
        s = math.sqrt(d_out / d_in) if self.normalized else math.sqrt(d_out)
        return max(1.0, s) if self.max else s

    def _matrix(self, G: torch.Tensor, batch_dims: int):
        core = _core(G, batch_dims, "Spectral", (2, 3, 4))
        M = G.reshape(*G.shape[:batch_dims], core[0], -1)
        return M, self.factor(M.shape[-2], M.shape[-1])


@dataclass(frozen=True)
class SpectralConv(_Polar):
    """Spectral norm of a conv kernel ``(d_out, d_in, k[, k])`` read as ``(d_out, d_in k^m)``, with
    the reference's factor ``s = sqrt(d_out/d_in) / k^m`` (m = 1 for Conv1d, 2 for Conv2d)."""

    def _matrix(self, G: torch.Tensor, batch_dims: int):
        core = _core(G, batch_dims, "SpectralConv", (3, 4))
        M = G.reshape(*G.shape[:batch_dims], core[0], -1)
        k = core[2] ** (len(core) - 2)
        return M, math.sqrt(core[0] / core[1]) / k


@dataclass(frozen=True)
class Sign:
    """Scaled max-norm ``d_in max |W_ij|`` (the l1 -> RMS-type norm of the reference's ``Sign``).

    ``d_in`` is the last dimension (the second of a ``(d_out, d_in)`` weight; for a tied
    ``(vocab, d)`` embedding that is ``d``, so radius 3000 at d = 768 moves every entry by
    ``3000/768`` times the step). ``normalized=False`` drops the ``d_in``.
    """

    normalized: bool = True
    zero_init: bool = False

    def _d_in(self, G: torch.Tensor, batch_dims: int) -> float:
        core = _core(G, batch_dims, "Sign", (1, 2))
        return float(core[-1]) if self.normalized else 1.0

    def lmo(self, G, radius=1.0, batch_dims: int = 0):
        return -_radius(radius, G, batch_dims) * torch.sign(G) / self._d_in(G, batch_dims)

    def norm(self, W, batch_dims: int = 0):
        return self._d_in(W, batch_dims) * _reduce(W.abs(), batch_dims, torch.amax)

    def dual_norm(self, G, batch_dims: int = 0):
        return _reduce(G.abs(), batch_dims, torch.sum) / self._d_in(G, batch_dims)

    def init(self, shape, generator=None, dtype=torch.float32):
        """Random ``+-1/d_in`` (the reference's init), or zeros with ``zero_init=True``."""
        shape = tuple(shape)
        d_in = self._d_in(torch.empty(shape, device="meta"), 0)
        if self.zero_init:
            return torch.zeros(shape, dtype=dtype)
        bits = torch.randint(0, 2, shape, generator=generator)
        return ((2 * bits - 1).to(dtype)) / d_in


@dataclass(frozen=True)
class ColNorm:
    """Max over columns of the scaled column norm ``c ||W_:j||_2``, ``c = 1/sqrt(d_out)``
    (times ``d_in`` with ``normalized=True``); ``transpose=True`` for ``(vocab, d)`` embeddings."""

    normalized: bool = False
    transpose: bool = False

    def _view(self, G, batch_dims):
        _core(G, batch_dims, "ColNorm", (2,))
        M = G.transpose(-1, -2) if self.transpose else G
        d_out, d_in = M.shape[-2:]
        c = 1.0 / math.sqrt(d_out) * (d_in if self.normalized else 1.0)
        return M, c

    def lmo(self, G, radius=1.0, batch_dims: int = 0):
        M, c = self._view(G, batch_dims)
        cols = torch.linalg.vector_norm(M, dim=-2, keepdim=True)
        D = -_radius(radius, G, batch_dims) * _safe_div(M, c * cols)
        return D.transpose(-1, -2) if self.transpose else D

    def norm(self, W, batch_dims: int = 0):
        M, c = self._view(W, batch_dims)
        return c * _reduce(torch.linalg.vector_norm(M, dim=-2), batch_dims, torch.amax)

    def dual_norm(self, G, batch_dims: int = 0):
        M, c = self._view(G, batch_dims)
        return _reduce(torch.linalg.vector_norm(M, dim=-2), batch_dims, torch.sum) / c

    def init(self, shape, generator=None, dtype=torch.float32):
        M = torch.randn(shape, generator=generator, dtype=torch.float64)
        M = M.transpose(-1, -2) if self.transpose else M
        _, c = self._view(M, 0)
        M = M / (c * torch.linalg.vector_norm(M, dim=-2, keepdim=True))
        return (M.transpose(-1, -2) if self.transpose else M).contiguous().to(dtype)


@dataclass(frozen=True)
class RowNorm:
    """Max over rows of the scaled row norm ``c ||W_i:||_2``, ``c = sqrt(d_in)``
    (``normalized=True``, the reference's default) or 1; ``transpose=True`` for embeddings."""

    normalized: bool = True
    transpose: bool = False

    def _view(self, G, batch_dims):
        _core(G, batch_dims, "RowNorm", (2,))
        M = G.transpose(-1, -2) if self.transpose else G
        c = math.sqrt(M.shape[-1]) if self.normalized else 1.0
        return M, c

    def lmo(self, G, radius=1.0, batch_dims: int = 0):
        M, c = self._view(G, batch_dims)
        rows = torch.linalg.vector_norm(M, dim=-1, keepdim=True)
        D = -_radius(radius, G, batch_dims) * _safe_div(M, c * rows)
        return D.transpose(-1, -2) if self.transpose else D

    def norm(self, W, batch_dims: int = 0):
        M, c = self._view(W, batch_dims)
        return c * _reduce(torch.linalg.vector_norm(M, dim=-1), batch_dims, torch.amax)

    def dual_norm(self, G, batch_dims: int = 0):
        M, c = self._view(G, batch_dims)
        return _reduce(torch.linalg.vector_norm(M, dim=-1), batch_dims, torch.sum) / c

    def init(self, shape, generator=None, dtype=torch.float32):
        M = torch.randn(shape, generator=generator, dtype=torch.float64)
        M = M.transpose(-1, -2) if self.transpose else M
        _, c = self._view(M, 0)
        M = M / (c * torch.linalg.vector_norm(M, dim=-1, keepdim=True))
        return (M.transpose(-1, -2) if self.transpose else M).contiguous().to(dtype)


@dataclass(frozen=True)
class BiasRMS:
    """RMS norm ``||w||_2 / sqrt(n)`` of a vector (biases, gains); init 0 as in the reference."""

    def _n(self, G, batch_dims):
        core = _core(G, batch_dims, "BiasRMS", (0, 1))
        return float(math.prod(core))

    def lmo(self, G, radius=1.0, batch_dims: int = 0):
        n = self._n(G, batch_dims)
        norm = _reduce(G, batch_dims, torch.linalg.vector_norm)
        norm = norm.reshape(norm.shape + (1,) * (G.ndim - norm.ndim))
        return -_radius(radius, G, batch_dims) * math.sqrt(n) * _safe_div(G, norm)

    def norm(self, W, batch_dims: int = 0):
        return _reduce(W, batch_dims, torch.linalg.vector_norm) / math.sqrt(self._n(W, batch_dims))

    def dual_norm(self, G, batch_dims: int = 0):
        return math.sqrt(self._n(G, batch_dims)) * _reduce(G, batch_dims, torch.linalg.vector_norm)

    def init(self, shape, generator=None, dtype=torch.float32):
        self._n(torch.empty(tuple(shape), device="meta"), 0)
        return torch.zeros(tuple(shape), dtype=dtype)


@dataclass(frozen=True)
class Auto:
    """The reference's ``Auto``: :class:`SpectralConv` for 3-4-D kernels, :class:`Spectral` for
    matrices, :class:`BiasRMS` for vectors and scalars."""

    steps: int = 5
    method: str = "newton_schulz"

    def pick(self, ndim: int):
        if ndim in (3, 4):
            return SpectralConv(steps=self.steps, method=self.method)
        if ndim == 2:
            return Spectral(steps=self.steps, method=self.method)
        if ndim in (0, 1):
            return BiasRMS()
        raise ValueError(f"Auto has no norm for {ndim}-D parameters (0-4-D are supported)")

    def lmo(self, G, radius=1.0, batch_dims: int = 0):
        return self.pick(G.ndim - batch_dims).lmo(G, radius, batch_dims)

    def norm(self, W, batch_dims: int = 0):
        return self.pick(W.ndim - batch_dims).norm(W, batch_dims)

    def dual_norm(self, G, batch_dims: int = 0):
        return self.pick(G.ndim - batch_dims).dual_norm(G, batch_dims)

    def init(self, shape, generator=None, dtype=torch.float32):
        return self.pick(len(tuple(shape))).init(shape, generator, dtype)


#: name -> the norm with the reference's default options, one line per norm.
LMOS = {
    "Spectral": Spectral(),
    "SpectralConv": SpectralConv(),
    "Sign": Sign(),
    "ColNorm": ColNorm(),
    "RowNorm": RowNorm(),
    "BiasRMS": BiasRMS(),
    "Auto": Auto(),
}


def get_lmo(norm):
    """A norm object from a name of :data:`LMOS` or an object with ``lmo``/``dual_norm``."""
    if isinstance(norm, str):
        if norm not in LMOS:
            raise ValueError(f"norm={norm!r}: allowed names are {sorted(LMOS)} "
                             "(or pass a norm object such as Spectral(max=True))")
        return LMOS[norm]
    if not (hasattr(norm, "lmo") and hasattr(norm, "dual_norm")):
        raise ValueError(f"norm={norm!r}: a name of {sorted(LMOS)} or an object with "
                         "lmo() and dual_norm()")
    return norm
