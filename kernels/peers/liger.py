"""Liger-Kernel (linkedin/Liger-Kernel) on the Triton rung: softmax, cross-entropy and fused linear cross-entropy.

Each variant wraps the library's functional API (liger_kernel.transformers.functional) to the signature of the op's
torch.nn.functional counterpart, checks the arguments the way this project's own rungs do, and leaves everything
else to the library: what it computes, copies or gets wrong is its own, and shows in the checks. What it runs
besides its kernels is declared in `torch_ops` like ours; what it cannot do is declared in `unsupported` with the
reason.

Liger runs on the CPU only through the Triton interpreter, like our Triton rungs (checked, never timed there).
"""

from __future__ import annotations

import torch

from kernels.cross_entropy.spec import as_rows
from kernels.cross_entropy.spec import check_args as check_ce_args
from kernels.linear_cross_entropy.spec import check_args as check_lce_args
from kernels.peers.library import Library
from kernels.registry import variant
from kernels.softmax.spec import check_args as check_softmax_args

LIGER = Library(dist="liger-kernel", module="liger_kernel", pin="0.8.5")


def _functional():
    LIGER.load()
    from liger_kernel.transformers import functional

    return functional


PEER = dict(rung="triton", library=LIGER.label, requires=LIGER.missing, interpreted_on_cpu=True)

# Where the Triton interpreter, not the library, is the cause: shown on the CPU only; make gpu-check checks it compiled.
INTERPRETER_BF16 = (
    "the Triton interpreter, not Liger: Liger's backward computes in bf16 (ours in fp32), and the interpreter's numpy "
    "emulation of bf16 arithmetic garbles it (gradients of 1e29 from inputs below 4); compiled on a GPU it is checked"
)
INTERPRETER_FLOAT_ARG = (
    "the Triton interpreter, not Liger: its kernel calls .to() on a float argument (the summed class weights), "
    "which compiled Triton passes as an fp32 scalar and the interpreter as a Python float (AttributeError)"
)


def _interpreted(args) -> bool:
    return args[0].device.type == "cpu"  # Triton runs on the CPU only through its interpreter


def _interpreted_bf16(args, kwargs) -> bool:
    return _interpreted(args) and args[0].dtype == torch.bfloat16


def _interpreted_weight(args, kwargs) -> bool:
    return _interpreted(args) and kwargs.get("weight") is not None


SOFTMAX_TORCH_OPS = {
    "clone": "Liger's ensure_contiguous copies an input that is not contiguous (a softmax over another dim than the "
    "last is one: that dim is moved last)",
}
# what both losses run on the targets besides their kernels
TARGET_OPS = {
    "ne": "target != ignore_index; the CPU-side check of the targets' range (ours)",
    "sum": "the count of targets not ignored (.item()); the reduction of the per-row losses",
    "equal": "the backward's torch.equal(grad_output, 1.0): one more host sync",
    "index": "the CPU-side check of the targets' range (ours)",
}
CE_TORCH_OPS = {
    **TARGET_OPS,
    "_local_scalar_dense": ".item() of that count and of the targets' range asserts: the host waits for the device "
    "on every call",
    "mul": "the targets' range assert (target * mask); the backward's upstream gradient when it is not 1",
    "max": "the targets' range assert: (target * mask).max() < C",
    "min": "the targets' range assert: (target * mask).min() >= 0",
    "lt": "the targets' range assert",
    "ge": "the targets' range assert",
    "zeros": "the per-row loss buffer (N floats)",
    "clone": "an [N, C, d1, ...] input moved to [rows, C] (the wrapper's one copy); Liger's copy of logits not "
    "contiguous in the class dim",
    "gather": "class weights: the weight of each target, summed on the host (.item())",
    "masked_select": "class weights: the targets not ignored",
}
LCE_TORCH_OPS = {
    "mm": "the logits, chunk by chunk, and the input gradient: torch.mm (cuBLAS), not Triton",
    "addmm": "the weight gradient accumulated over chunks: torch.addmm (cuBLAS)",
    "add": "the bias gradient accumulated over chunks",
    "add_": "the bias added to each chunk's logits; the weight gradient accumulated over chunks",
    "copy_": "each chunk's input gradient written into the whole one",
    "zeros": "the per-row loss buffer",
    "zeros_like": "the gradient buffers (x's, W's and b's sizes)",
    **TARGET_OPS,
    "_local_scalar_dense": ".item() of that count: the host waits for the device on every call",
    "mul": "reduction 'none': the upstream gradient applied per row",
    "_to_copy": "fp16/bf16: the fp32 loss cast to x's dtype, the chunk cast to the accumulation dtype",
    "min": "the CPU-side check of the targets' range (ours)",
    "max": "the CPU-side check of the targets' range (ours)",
}

CE_OVERWRITES = (
    "Liger stores the gradient in the logits' own memory during the forward (to save a logits-sized buffer): after "
    "a call with gradients, the caller's logits hold dL/dx"
)

# What Liger gets wrong, against torch, on inputs of any case (each shown by tests/test_peers.py)
ALL_IGNORED = "a mean over no targets (every one ignore_index) is 0, where F.cross_entropy gives NaN (0 / 0)"
CLASS_STRIDED = (
    "wrong gradient: [N, C] logits not contiguous in the class dim are copied inside Liger's autograd Function, "
    "where grad mode is off, so its kernel is told HAS_GRADIENTS=False and the backward returns the logits themselves"
)
EMPTY = "an empty input raises RuntimeError (Liger reshapes it to [-1, 0]); F.softmax returns it empty"


def _all_ignored(target_at: int):
    def applies(args, kwargs) -> bool:
        target, ignore = args[target_at], kwargs.get("ignore_index", -100)
        return kwargs.get("reduction", "mean") == "mean" and bool((target == ignore).all())

    return applies


def _class_strided(args, kwargs) -> bool:
    x = args[0]
    return x.dim() == 2 and x.shape[1] > 1 and x.stride(1) != 1


def _empty(args, kwargs) -> bool:
    return args[0].numel() == 0


@variant(
    "softmax",
    "liger",
    **PEER,
    torch_ops=SOFTMAX_TORCH_OPS,
    wrong_on={EMPTY: _empty, INTERPRETER_BF16: _interpreted_bf16},
)
def liger_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Liger-Kernel's softmax (LigerSoftmaxFunction): rows along the last dim, one or several column blocks each."""
    check_softmax_args(x, dim, "softmax 'liger'")
    if x.dim() == 0:
        return _functional().liger_softmax(x.reshape(1)).reshape(())
    # Liger softmaxes the last dim only: another dim is moved last (a view) and back.
    return _functional().liger_softmax(x.movedim(dim, -1)).movedim(-1, dim)


@variant(
    "cross_entropy",
    "liger",
    **PEER,
    torch_ops=CE_TORCH_OPS,
    overwrites_inputs=CE_OVERWRITES,
    wrong_on={
        ALL_IGNORED: _all_ignored(1),
        CLASS_STRIDED: _class_strided,
        INTERPRETER_BF16: _interpreted_bf16,
        INTERPRETER_FLOAT_ARG: _interpreted_weight,
    },
)
def liger_cross_entropy(
    x: torch.Tensor, target: torch.Tensor, weight=None, ignore_index: int = -100, reduction="mean", label_smoothing=0.0
) -> torch.Tensor:
    """Liger-Kernel's cross-entropy (LigerCrossEntropyFunction): loss and gradient in one pass over the logits.

    Liger computes the gradient during the forward and stores it in the logits' memory (CE_OVERWRITES)."""
    check_ce_args(x, target, weight, ignore_index, reduction, label_smoothing, op="cross_entropy 'liger'")
    rows, targets = as_rows(x, target)  # Liger takes [rows, C] logits and [rows] targets only
    if x.dim() > 2:  # the class dim moved last: copied here, where autograd sees the copy (see CLASS_STRIDED)
        rows = rows.contiguous()
    loss = _functional().liger_cross_entropy(
        rows, targets, weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing
    )
    if reduction == "none":
        return loss.reshape(target.shape)
    return loss


@variant("linear_cross_entropy", "liger", **PEER, torch_ops=LCE_TORCH_OPS, wrong_on={ALL_IGNORED: _all_ignored(2)})
def liger_linear_cross_entropy(
    x: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    bias=None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    """Liger-Kernel's fused linear cross-entropy: logits made and consumed chunk by chunk, gradients in the forward.

    The chunks' GEMMs are torch.mm/addmm; dx, dW and db are kept from the forward for the backward."""
    check_lce_args(x, weight, target, bias, ignore_index, reduction, "linear_cross_entropy 'liger'")
    return _functional().liger_fused_linear_cross_entropy(
        x, weight, target, bias, ignore_index=ignore_index, reduction=reduction
    )
