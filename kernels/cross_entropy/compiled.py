"""Rung 2: torch.compile of the eager rung's function. Inductor fuses log_softmax and the NLL gather into its own
kernels (a C++ loop on the CPU, Triton on CUDA) for each shape; the compile is paid once per shape and recorded
apart by the benchmarks."""

import torch

from kernels.compile import compile_static
from kernels.cross_entropy.eager import FP16_LOG_PROBS, eager_cross_entropy
from kernels.cross_entropy.spec import check_args
from kernels.registry import variant

_compiled = compile_static(eager_cross_entropy)


@variant("cross_entropy", "compiled", unsupported={"large_logits/fp16": FP16_LOG_PROBS})
def compiled_cross_entropy(
    x: torch.Tensor, target: torch.Tensor, weight=None, ignore_index: int = -100, reduction="mean", label_smoothing=0.0
) -> torch.Tensor:
    """torch.compile(F.cross_entropy, dynamic=False); an empty batch runs eager (Inductor need not see it)."""
    check_args(x, target, weight, ignore_index, reduction, label_smoothing)
    if x.numel() == 0:
        return eager_cross_entropy(x, target, weight, ignore_index, reduction, label_smoothing)
    return _compiled(x, target, weight, ignore_index, reduction, label_smoothing)
