"""Numeric precisions a lesson can train in, as context managers around its run or its training step.

- fp32: fp32 throughout; on CUDA TF32 is switched off for matmuls and cuDNN convolutions (cuDNN's default is on), so
  fp32 means fp32.
- tf32: fp32 tensors whose matmuls and convolutions round their inputs to TF32 on the tensor cores (CUDA only).
- bf16-autocast, fp16-autocast: an fp32 model under torch.autocast; the ops autocast lists run in the low precision,
  the weights and the optimizer stay fp32. fp16's narrow exponent needs loss scaling: models.train.fit uses a
  GradScaler under fp16 autocast, as torch's AMP recipe does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

PRECISIONS = ("fp32", "tf32", "bf16-autocast", "fp16-autocast")


def precision_skip_reason(name: str, device: str) -> str | None:
    """Why `name` cannot run on `device`, or None."""
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; use one of {', '.join(PRECISIONS)}")
    if name == "tf32" and device != "cuda":
        return "TF32 is a CUDA tensor-core format: the CPU has no TF32 mode"
    if name == "fp16-autocast" and device != "cuda":
        return "fp16 autocast with loss scaling is the CUDA recipe; the CPU's low precision is bf16"
    return None


@contextmanager
def precision(name: str, device: str) -> Iterator[None]:
    """Run the body in precision `name` on `device`; TF32 flags are restored afterwards."""
    reason = precision_skip_reason(name, device)
    if reason:
        raise RuntimeError(f"precision {name!r} on {device}: {reason}")
    flags = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    tf32 = name == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    low = {"bf16-autocast": torch.bfloat16, "fp16-autocast": torch.float16}.get(name)
    try:
        # cache_enabled=False: autocast caches each weight's low-precision copy until its outermost context exits;
        # a body that trains (optimizer steps inside the context) would keep running on the stale first copies
        with torch.autocast(device, dtype=low or torch.bfloat16, enabled=low is not None, cache_enabled=False):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags


def loss_scaler(device: str) -> torch.amp.GradScaler | None:
    """A GradScaler when the caller runs under fp16 autocast on `device` (gradients below fp16's range would
    flush to zero without it), else None."""
    if torch.is_autocast_enabled(device) and torch.get_autocast_dtype(device) == torch.float16:
        return torch.amp.GradScaler(device)
    return None
