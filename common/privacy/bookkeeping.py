r"""Per-sample clipping without materialising per-sample gradients ("book-keeping").

For a linear layer ``z = a W^T + b`` applied to ``T`` positions of sample ``b`` (T = 1 for an
MLP, T = output pixels for a convolution after unfolding its input), the per-sample gradient is
``G_b^T A_b`` where ``A_b`` (T, in) are the layer's inputs and ``G_b`` (T, out) the gradients of
sample b's loss with respect to the layer's outputs. Two facts make DP-SGD cheap:

1. **Norms without the gradient** ("ghost norm", Goodfellow 2015; Li et al. 2021,
   arXiv 2110.05679): ``||G_b^T A_b||_F^2 = sum_{t,s} (A_b A_b^T)_{ts} (G_b G_b^T)_{ts}``, which
   for T = 1 is ``||g_b||^2 ||a_b||^2``. When ``T^2 (in + out)`` exceeds ``T in out`` the
   per-sample gradient is cheaper to form directly, and that is done instead (per layer).
2. **The clipped sum is one matrix product** (book-keeping, Bu et al. 2022, arXiv 2210.00038):
   ``sum_b c_b G_b^T A_b = (c * G)^T A`` with the clip factors ``c_b`` folded into ``G``.

One forward pass stores every layer's input ``A``; one backward pass
(``torch.autograd.grad`` of the summed per-sample losses with respect to the layers' outputs,
which computes no weight gradients) gives every ``G``; norms, clip factors and the clipped sums
follow without a second backward pass. Supported: ``nn.Linear`` (any number of leading
dimensions) and ``nn.Conv2d`` (``groups = 1``, zero padding). A model with other trainable
parameters is rejected with :class:`~common.privacy.validate.UnsupportedModuleError`; use the
``torch.func`` path (:mod:`common.privacy.per_sample`) for it. The tests check this path against
``torch.func`` per-sample gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from common.privacy.clipping import check_max_norm, clip_factors
from common.privacy.per_sample import check_per_sample_loss
from common.privacy.validate import UnsupportedModuleError, check_no_batch_coupling

__all__ = ["BookKeeping"]


def _row_sq_norms(x: torch.Tensor) -> torch.Tensor:
    """``||x_b||^2`` of each row of a (B, n) matrix, by ``vector_norm`` (no (B, n) temporary)."""
    return torch.linalg.vector_norm(x, dim=1).square()


def _feature_major(module: nn.Module, a: torch.Tensor, g: torch.Tensor):
    """(A, G) as (B, in, T) and (B, out, T): inputs and output gradients at T positions.

    For a convolution, ``F.unfold`` gives the (B, C*kh*kw, L) patches directly in this layout;
    a Linear layer's (B, ..., in) input is viewed as (B, T, in) and transposed (no copy).
    """
    if isinstance(module, nn.Linear):
        B = a.shape[0]
        return (a.reshape(B, -1, a.shape[-1]).transpose(1, 2),
                g.reshape(B, -1, g.shape[-1]).transpose(1, 2))
    u = F.unfold(a, module.kernel_size, dilation=module.dilation, padding=module.padding,
                 stride=module.stride)  # (B, C*kh*kw, L)
    return u, g.flatten(2)


def _weight_norms_and_sum(A: torch.Tensor, G: torch.Tensor):
    """Per-sample ``||G_b A_b^T||_F^2`` and, given the clip factors, ``sum_b c_b G_b A_b^T``.

    Returns ``(sq_norms, clipped_sum_fn, g_sq)``: the sum needs the clip factors, which depend on
    every layer's norms, so it is returned as a function ``fn(c, out)`` of ``c`` that writes
    the (out, in) sum into ``out``. Three regimes:
    T = 1 (rank one: ``||g||^2 ||a||^2``, sum by one matrix product; ``g_sq = ||g_b||^2`` is
    returned, it is also the bias's squared norm); the Gram ("ghost") trick when
    ``T^2 (in + out) <= T in out``; otherwise the per-sample gradients are formed once and
    reused for both the norms and the weighted sum (``g_sq`` is None for both).
    """
    T, n_in, n_out = A.shape[2], A.shape[1], G.shape[1]
    if T == 1:
        a, g = A[:, :, 0], G[:, :, 0]
        g_sq = g.pow(2).sum(1)

        def rank_one(c, out):
            torch.mm((g * c[:, None]).T, a, out=out)

        return _row_sq_norms(a) * g_sq, rank_one, g_sq
    if T * T * (n_in + n_out) <= T * n_in * n_out:
        At, Gt = A.transpose(1, 2), G.transpose(1, 2)
        sq = (torch.bmm(At, A) * torch.bmm(Gt, G)).sum((1, 2))
        return sq, lambda c, out: out.copy_(
            torch.einsum("bot,bit->oi", G * c[:, None, None], A)), None
    W = torch.bmm(G, A.transpose(1, 2))  # (B, out, in): per-sample weight gradients
    return (W.pow(2).sum((1, 2)), lambda c, out: out.copy_(torch.tensordot(c, W, dims=1)),
            None)


def _linear_group_grads(a: torch.Tensor, g: torch.Tensor, n: int):
    """Per-group sums of a Linear layer's weight and bias gradients: (n, out, in), (n, out)."""
    A = a.reshape(n, -1, a.shape[-1])  # each group's positions stacked: (n, b T, in)
    G = g.reshape(n, -1, g.shape[-1])
    return torch.bmm(G.transpose(1, 2), A), G.sum(1)


def _conv_group_grads(module: nn.Conv2d, a: torch.Tensor, g: torch.Tensor, n: int):
    """Per-group sums of a Conv2d's weight and bias gradients, by one grouped convolution.

    Groups are moved into the channel dimension, (n b, C, H, W) -> (b, n C, H, W), so that
    ``torch.nn.grad.conv2d_weight`` with ``groups = n`` computes every group's weight gradient
    with the library's convolution kernels (no unfolded patches in memory).
    """
    b = a.shape[0] // n
    a_g = a.reshape(n, b, *a.shape[1:]).transpose(0, 1).reshape(b, -1, *a.shape[2:])
    g_g = g.reshape(n, b, *g.shape[1:]).transpose(0, 1).reshape(b, -1, *g.shape[2:])
    out_c = module.out_channels
    w = torch.nn.grad.conv2d_weight(a_g, (n * out_c, *module.weight.shape[1:]), g_g,
                                    stride=module.stride, padding=module.padding,
                                    dilation=module.dilation, groups=n)
    return w, g.reshape(n, b, out_c, -1).sum((1, 3))


class BookKeeping:
    """Per-sample norms and clipped gradient sums for models of Linear and Conv2d layers.

    ``BookKeeping(model).clipped_sum(loss_fn, X, y, max_norm)`` returns
    ``(grads, losses, norms)``: ``grads`` maps each trainable parameter name to
    ``sum_b min(1, C/||g_b||) g_b`` (no noise), ``losses`` are the per-sample losses and ``norms``
    the per-sample global gradient norms.
    """

    def __init__(self, model: nn.Module):
        check_no_batch_coupling(model)
        self.model = model
        self.layers: list[tuple[str, nn.Module]] = []
        covered = set()
        for name, module in model.named_modules():
            own = [p for p in module.parameters(recurse=False) if p.requires_grad]
            if not own:
                continue
            if self._supported(module):
                self.layers.append((name, module))
                covered.update(id(p) for p in own)
        missing = [n for n, p in model.named_parameters()
                   if p.requires_grad and id(p) not in covered]
        if missing:
            raise UnsupportedModuleError(
                f"parameters {missing} belong to layers the book-keeping path does not support "
                "(it handles nn.Linear and nn.Conv2d with groups=1 and zero padding); use the "
                "torch.func path (method='functorch')")
        self._named = list(model.named_parameters())
        self._names = {id(p): n for n, p in self._named}

    @staticmethod
    def _supported(module: nn.Module) -> bool:
        if isinstance(module, nn.Linear):
            return True
        return (isinstance(module, nn.Conv2d) and module.groups == 1
                and module.padding_mode == "zeros" and not isinstance(module.padding, str))

    @classmethod
    def supports(cls, model: nn.Module) -> bool:
        try:
            cls(model)
        except UnsupportedModuleError:
            return False
        return True

    def _capture(self, loss_fn, X: torch.Tensor, y: torch.Tensor, weights=None):
        """Forward and backward once: ``([(module, A, G)], per-sample losses)``.

        ``A`` is each layer's input and ``G`` the gradient of ``sum_b w_b loss_b`` (``w = 1`` by
        default) with respect to its output, both in the layer's own layout. Only
        activation gradients are computed: ``torch.autograd.grad`` with respect to the layers'
        outputs skips every weight gradient.
        """
        inputs, outputs = {}, {}

        def hook(module, args, output):
            inputs[module] = args[0].detach()
            outputs[module] = output

        handles = [m.register_forward_hook(hook) for _, m in self.layers]
        try:
            with torch.enable_grad():
                losses = loss_fn(self.model(X), y)
                check_per_sample_loss(losses, X.shape[0])
                total = losses.sum() if weights is None else (losses * weights).sum()
                grads_out = torch.autograd.grad(total, [outputs[m] for _, m in self.layers])
        finally:
            for h in handles:
                h.remove()
        captured = [(m, inputs[m], g.detach()) for (_, m), g in zip(self.layers, grads_out)]
        return captured, losses.detach()

    def clipped_sum(self, loss_fn, X: torch.Tensor, y: torch.Tensor, max_norm: float):
        """``({name: sum_b clip_C(g_b)}, per-sample losses, per-sample norms)``.

        The sums are views of one contiguous buffer (:meth:`clipped_sum_flat`)."""
        grads, _, losses, norms = self.clipped_sum_flat(loss_fn, X, y, max_norm)
        return grads, losses, norms

    def clipped_sum_flat(self, loss_fn, X: torch.Tensor, y: torch.Tensor, max_norm: float):
        """``(grads, flat, losses, norms)``: as :meth:`clipped_sum`, with ``flat`` the one
        contiguous buffer that holds every sum, the parameters in ``named_parameters`` order
        (``grads[name]`` is a view of it; ``flat`` is None when the parameters have several
        dtypes). One buffer lets the caller add the noise and
        normalise with one operation each instead of one per parameter tensor."""
        check_max_norm(max_norm)
        captured, losses = self._capture(loss_fn, X, y)
        sums = {}  # id(parameter) -> function of (clip factors, out) writing its clipped sum
        sq = None  # the per-sample squared norms, summed layer by layer (weight, then bias)

        def add(term):
            nonlocal sq
            sq = term if sq is None else sq + term  # (0 + x = x for the first term)

        for module, a, g in captured:
            w, b = module.weight.requires_grad, module.bias is not None and \
                module.bias.requires_grad
            if a.ndim == 2 and isinstance(module, nn.Linear):
                # one position per sample (the common MLP case), straight from the (B, in) and
                # (B, out) tensors: ||a_b||^2 ||g_b||^2 for the weight, ||g_b||^2 for the bias;
                # ||a_b||^2 by one fused reduction (``vector_norm``), not ``a.pow(2).sum(1)``,
                # whose (B, in) temporary of squares cost ~300 us of a ~2.3 ms MLP step (B = 256,
                # in = 784; equal to float rounding, not bit for bit)
                g_sq = g.pow(2).sum(1)
                if w:
                    add(_row_sq_norms(a) * g_sq)
                    sums[id(module.weight)] = lambda c, out, a=a, g=g: torch.mm(
                        (g * c[:, None]).T, a, out=out)
                if b:
                    add(g_sq)
                    sums[id(module.bias)] = lambda c, out, g=g: torch.mv(g.T, c, out=out)
                continue
            A, G = _feature_major(module, a, g)
            g_sq = None
            if w:
                w_sq, w_sum, g_sq = _weight_norms_and_sum(A, G)
                add(w_sq)
                sums[id(module.weight)] = w_sum
            if b:
                if A.shape[2] == 1:  # one position: the bias gradient is g itself
                    gb = G[:, :, 0]
                    b_sq = gb.pow(2).sum(1) if g_sq is None else g_sq
                else:
                    gb = G.sum(2)  # (B, out): per-sample bias gradients
                    b_sq = gb.pow(2).sum(1)
                add(b_sq)
                sums[id(module.bias)] = lambda c, out, gb=gb: torch.mv(gb.T, c, out=out)
        if sq is None:  # no trainable parameter
            sq = torch.zeros(X.shape[0], dtype=losses.dtype, device=X.device)
        norms = sq.sqrt()
        c = clip_factors(norms, max_norm)
        params = [(n, p) for n, p in self._named if id(p) in sums]
        dtypes = {p.dtype for _, p in params}
        flat = None
        if len(dtypes) == 1:
            flat = torch.empty(sum(p.numel() for _, p in params), dtype=dtypes.pop(),
                               device=c.device)
        grads, start = {}, 0
        for name, p in params:
            if flat is None:  # parameters of several dtypes: one buffer each
                view = torch.empty(p.numel(), dtype=p.dtype, device=c.device)
            else:
                view = flat[start:start + p.numel()]
                start += p.numel()
            sums[id(p)](c.to(p.dtype), view.view(p.shape[0], -1) if p.ndim > 1 else view)
            grads[name] = view.view(p.shape)
        return grads, flat, losses, norms

    def group_means(self, loss_fn, X: torch.Tensor, y: torch.Tensor, num_groups: int):
        """Gradients of each group's *mean* loss, for ``num_groups`` equal consecutive groups.

        With ``X`` the concatenation of n clients' batches of b samples, this is every client's
        mini-batch gradient from one forward and one backward pass over all n b samples (the
        per-group sums are batched matrix products): ``({name: (n, *shape)}, losses (n,))``.
        """
        B = X.shape[0]
        if num_groups < 1 or B % num_groups:
            raise ValueError(f"num_groups={num_groups} must divide the batch size {B}")
        b = B // num_groups
        weights = torch.full((B,), 1.0 / b, dtype=X.dtype if X.is_floating_point()
                             else torch.get_default_dtype(), device=X.device)
        captured, losses = self._capture(loss_fn, X, y, weights)
        grads = {}
        for module, a, g in captured:
            weight, bias = module.weight, module.bias
            if isinstance(module, nn.Conv2d):
                w, gb = _conv_group_grads(module, a, g, num_groups)
            else:
                w, gb = _linear_group_grads(a, g, num_groups)
            if weight.requires_grad:
                grads[self._names[id(weight)]] = w.reshape(num_groups, *weight.shape)
            if bias is not None and bias.requires_grad:
                grads[self._names[id(bias)]] = gb
        return grads, losses.reshape(num_groups, b).mean(1)
