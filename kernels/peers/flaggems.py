"""FlagGems (FlagOpen/FlagGems) on the Triton rung: softmax, matmul (mm/bmm), batch norm, conv2d, max pooling,
dropout and cross-entropy, on CUDA only.

FlagGems replaces aten's kernels (`flag_gems.enable()` swaps them in for every op of the process); here each variant
calls the library's forward and backward functions directly instead, inside an autograd Function that pairs them the
way aten's derivative formulas do (softmax's `_softmax_backward_data` is FlagGems' `softmax_backward`), so that the
other rungs of the same run keep torch's own kernels. conv2d and cross-entropy are FlagGems' own autograd Functions.

FlagGems' import asks the driver for the device vendor and raises RuntimeError where there is none: the variants are
GPU-only, and any failure to import is the skip reason (kernels/peers/library.py). What this suite's fused rungs add
(bias, activation, batch-norm epilogues; dropout in place) FlagGems' functions do not take: such calls are refused
and such cases declared unsupported.
"""

from __future__ import annotations

import torch

from kernels.peers.library import Library
from kernels.registry import variant

FLAGGEMS = Library(dist="flag-gems", module="flag_gems", pin="5.0.0")


def _gems():
    """The FlagGems package (its `ops` and `fused` functions); tests/test_peers.py stands a torch-backed one in for
    it to check this glue on the CPU."""
    return FLAGGEMS.load()


EPILOGUE = "FlagGems' {op} has no fused {what} (this suite's fused rung has): refused, not composed from torch ops"
EXTRAS = ("bias", "activation", "bn", "inplace")


def _no_epilogue(op: str):
    def limit(case, device: str) -> str | None:
        given = [k for k, v in case.params if k in EXTRAS and v not in (None, False)]
        return EPILOGUE.format(op=op, what=" and ".join(given)) if given else None

    return limit


def _refuse(op: str, **given) -> None:
    extra = [k for k, v in given.items() if v not in (None, False)]
    if extra:
        raise ValueError(EPILOGUE.format(op=op, what=" and ".join(extra)) + f": pass {', '.join(extra)} unset")


PEER = dict(
    rung="triton", library=FLAGGEMS.label, requires=FLAGGEMS.missing, devices=("cuda",), interpreted_on_cpu=True
)
COPIES = {"clone": "FlagGems makes a non-contiguous input contiguous first"}


class _Softmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, dim):
        y = _gems().ops.softmax(x, dim)
        ctx.save_for_backward(y)
        ctx.dim, ctx.dtype = dim, x.dtype
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        return _gems().ops.softmax_backward(dy, y, ctx.dim, ctx.dtype), None


@variant("softmax", "flaggems", **PEER, torch_ops={**COPIES, "zero_": "an empty input: its (empty) output zeroed"})
def flaggems_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """FlagGems' softmax and softmax_backward (inner and non-inner dim kernels)."""
    from kernels.softmax.spec import check_args

    dim = check_args(x, dim, "softmax 'flaggems'")
    return _Softmax.apply(x, dim)


class _Matmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _gems().ops.mm(a, b) if a.dim() == 2 else _gems().ops.bmm(a, b)

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved_tensors
        mm = _gems().ops.mm if a.dim() == 2 else _gems().ops.bmm
        da = mm(dy, b.transpose(-1, -2)) if ctx.needs_input_grad[0] else None
        db = mm(a.transpose(-1, -2), dy) if ctx.needs_input_grad[1] else None
        return da, db


def _matmul_limit(case, device: str) -> str | None:
    if dict(case.params).get("activation"):
        return EPILOGUE.format(op="mm", what="activation")
    if case.layout in ("broadcast", "vector"):
        return "FlagGems' mm and bmm take [M, K] @ [K, N] or [B, M, K] @ [B, K, N] only: no broadcast, no vector"
    return None


@variant(
    "matmul",
    "flaggems",
    **PEER,
    limit=_matmul_limit,
    torch_ops={**COPIES, "add": "the bias, added after FlagGems' mm", "sum": "the bias gradient: dy summed over rows"},
)
def flaggems_matmul(a: torch.Tensor, b: torch.Tensor, bias=None, activation=None) -> torch.Tensor:
    """FlagGems' mm (2-D) and bmm (3-D), forward and both gradients; a bias added after."""
    _refuse("mm", activation=activation)
    if a.dim() != b.dim() or a.dim() not in (2, 3) or (a.dim() == 3 and a.shape[0] != b.shape[0]):
        raise ValueError(
            f"matmul 'flaggems': FlagGems' mm and bmm take [M, K] @ [K, N] or [B, M, K] @ [B, K, N], "
            f"got {list(a.shape)} @ {list(b.shape)}"
        )
    out = _Matmul.apply(a, b)
    return out if bias is None else out + bias


class _BatchNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        y, mean, invstd = _gems().ops.batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps)
        ctx.save_for_backward(x, weight, running_mean, running_var, mean, invstd)
        ctx.training, ctx.eps = training, eps
        ctx.has_weight, ctx.has_bias = weight is not None, bias is not None
        return y

    @staticmethod
    def backward(ctx, dy):
        x, weight, running_mean, running_var, mean, invstd = ctx.saved_tensors
        mask = [True, ctx.has_weight, ctx.has_bias]  # FlagGems' kernel skips the gradients the mask leaves out
        dx, dw, db = _gems().ops.batch_norm_backward(
            dy, x, weight, running_mean, running_var, mean, invstd, ctx.training, ctx.eps, mask
        )
        return dx, dw, db, None, None, None, None, None


@variant("batchnorm", "flaggems", **PEER, limit=_no_epilogue("batch_norm"), torch_ops=COPIES)
def flaggems_batchnorm(
    x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5, activation=None
) -> torch.Tensor:
    """FlagGems' batch_norm and batch_norm_backward (one program per channel)."""
    _refuse("batch_norm", activation=activation)
    return _BatchNorm.apply(x, weight, bias, running_mean, running_var, training, momentum, eps)


@variant("conv2d", "flaggems", **PEER, limit=_no_epilogue("conv2d"), torch_ops=COPIES)
def flaggems_conv2d(
    x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, bn=None, bn_eps=1e-5, activation=None
) -> torch.Tensor:
    """FlagGems' conv2d: its own autograd Function (implicit-GEMM forward and weight gradient)."""
    _refuse("conv2d", bn=bn, activation=activation)
    return _gems().ops.conv2d(x, weight, bias, stride, padding, dilation, groups)


class _MaxPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation, ceil_mode):
        out, indices = _gems().ops.max_pool2d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode)
        ctx.save_for_backward(x, indices)
        ctx.geometry = (kernel_size, stride, padding, dilation, ceil_mode)
        ctx.mark_non_differentiable(indices)
        return out, indices

    @staticmethod
    def backward(ctx, dy, _):
        x, indices = ctx.saved_tensors
        return _gems().ops.max_pool2d_backward(dy, x, indices, *ctx.geometry), None, None, None, None, None


@variant("max_pool2d", "flaggems", **PEER, limit=_no_epilogue("max_pool2d"), torch_ops=COPIES)
def flaggems_max_pool2d(
    x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, activation=None
):
    """FlagGems' max_pool2d_with_indices and max_pool2d_backward."""
    _refuse("max_pool2d", activation=activation)
    out, indices = _MaxPool.apply(
        x, kernel_size, stride if stride is not None else kernel_size, padding, dilation, ceil_mode
    )
    return (out, indices) if return_indices else out


class _Dropout(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p, training):
        out, mask = _gems().ops.dropout(x, p, training)
        ctx.save_for_backward(mask)
        ctx.scale = 1.0 / (1.0 - p) if training and p < 1 else (0.0 if training else 1.0)
        return out

    @staticmethod
    def backward(ctx, dy):
        (mask,) = ctx.saved_tensors
        return _gems().ops.dropout_backward(dy, mask, ctx.scale), None, None


@variant(
    "dropout",
    "flaggems",
    **PEER,
    limit=_no_epilogue("dropout"),
    torch_ops={**COPIES, "ones_like": "eval or p = 0: a mask of ones", "zeros_like": "p = 1: zeros and a mask of them"},
)
def flaggems_dropout(x: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, activation=None):
    """FlagGems' dropout (Philox, a bool mask kept for the backward) and dropout_backward."""
    from kernels.dropout.spec import check_args

    check_args(x, p, training, inplace, activation)
    _refuse("dropout", inplace=inplace, activation=activation)
    return _Dropout.apply(x, p, training)


@variant(
    "cross_entropy",
    "flaggems",
    **PEER,
    torch_ops={
        **COPIES,
        "sum": "the reduction's final sum",
        "div": "the mean over the summed weights",
        "_to_copy": "the loss cast to x's dtype",
        "ne": "the CPU-side check of the targets' range (ours)",
        "index": "the CPU-side check of the targets' range (ours)",
        "min": "the CPU-side check of the targets' range (ours)",
        "max": "the CPU-side check of the targets' range (ours)",
        "_local_scalar_dense": "the CPU-side check of the targets' range (ours)",
    },
)
def flaggems_cross_entropy(
    x: torch.Tensor, target: torch.Tensor, weight=None, ignore_index: int = -100, reduction="mean", label_smoothing=0.0
) -> torch.Tensor:
    """FlagGems' fused cross_entropy_loss: its own autograd Function, with weights and label smoothing."""
    from kernels.cross_entropy.spec import check_args

    check_args(x, target, weight, ignore_index, reduction, label_smoothing, op="cross_entropy 'flaggems'")
    return _gems().fused.cross_entropy_loss(x, target, weight, reduction, ignore_index, label_smoothing)
