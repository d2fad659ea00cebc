"""A pytest plugin for the harness tests only: registers a softmax `triton_fused` variant that breaks when called,
raising (FAKE_VARIANT=raise) or killing the whole process (FAKE_VARIANT=kill), to show that the other benchmarks'
results survive. It runs on the CPU without the interpreter so that the benchmarks do call it."""

import os

from kernels.registry import variant


@variant("softmax", "triton_fused", devices=("cpu",))
def broken_softmax(x, dim=-1):
    """A deliberately broken variant (tests only)."""
    if os.environ.get("FAKE_VARIANT") == "kill":
        os._exit(9)
    raise RuntimeError("this variant is broken on purpose")
