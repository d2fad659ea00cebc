"""torch's own sample inputs for each op's torch counterpart (the OpInfo database of torch.testing), for the OpInfo
test (tests/test_opinfo.py) and `dnnbench judge`. They need expecttest (the dev extra): `load()` says so when it is
missing."""

from __future__ import annotations

import torch

# op -> the name of its torch counterpart in torch's OpInfo database
OPINFO = {
    "softmax": "softmax",
    "matmul": "matmul",
    "conv2d": "nn.functional.conv2d",
    "batchnorm": "nn.functional.batch_norm",
    "max_pool2d": "nn.functional.max_pool2d",
    "cross_entropy": "nn.functional.cross_entropy",
    "dropout": "nn.functional.dropout",
}


def load():
    """torch's OpInfo module; raises ImportError (naming expecttest) where torch's test utilities cannot load."""
    try:
        from torch.testing._internal import common_methods_invocations
    except ImportError as e:
        raise ImportError(f"torch's OpInfo samples need expecttest (pip install expecttest): {e}") from None
    # Importing torch's test utilities freezes the global backend flags (torch.backends.disable_global_flags): every
    # later TF32 setting of the process (the checks set it per case) would raise. Give them back.
    torch.backends.flags_frozen.__globals__["__allow_nonbracketed_mutation_flag"] = True
    return common_methods_invocations


def samples(op: str, dtype: torch.dtype, stride: int = 1):
    """torch's op and its samples on the CPU (fresh leaves that require gradients), every `stride`-th."""
    info = next(o for o in load().op_db if o.name == OPINFO[op] and o.variant_test_name == "")
    return info.op, list(info.sample_inputs("cpu", dtype, requires_grad=True))[::stride]
