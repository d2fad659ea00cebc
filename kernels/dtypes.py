"""The suite's one dtype table: the names results and options use (fp32, fp16, bf16, fp64), the dtypes every op
accepts, and the conversions between names and torch dtypes. A leaf: it imports torch only."""

from __future__ import annotations

import torch

FP32, FP16, BF16, FP64 = torch.float32, torch.float16, torch.bfloat16, torch.float64
DTYPES = {"fp32": FP32, "fp16": FP16, "bf16": BF16, "fp64": FP64}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
FLOAT_DTYPES = (FP32, FP16, BF16, FP64)  # what every op accepts (fp64: the reference's precision)


def dtype_name(dtype: torch.dtype) -> str:
    return DTYPE_NAMES.get(dtype, str(dtype).replace("torch.", ""))


def parse_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; known: {', '.join(DTYPES)}")
    return DTYPES[name]
