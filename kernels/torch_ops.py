"""Which PyTorch operators a variant runs: the check that a Triton rung does its op's work in Triton.

`AtenRecorder` is a TorchDispatchMode that records every aten operator called while it is active (a variant's
forward, or the backward of its output). Allocation and views are always allowed; anything else that a variant on a
Triton rung runs (ours or a peer library's: the guard goes by rung, not by name) must be declared in its registration
(`torch_ops={"sum": "the bias gradient ..."}`), so a Triton rung that quietly calls torch.softmax, F.conv2d or
torch.mm, or copies its input, fails the correctness test.

Under the Triton interpreter the launcher copies each tensor argument to and from host buffers with torch ops of
its own; calls made from inside the interpreter are not the variant's and are not recorded.
"""

from __future__ import annotations

import sys
from collections import Counter

from torch.utils._python_dispatch import TorchDispatchMode

# Allocation, views, metadata: moving no data and computing nothing.
ALLOWED = frozenset(
    {
        "empty",
        "empty_like",
        "empty_strided",
        "new_empty",
        "new_empty_strided",
        "view",
        "_unsafe_view",
        "reshape",
        "as_strided",
        "alias",
        "detach",
        "permute",
        "transpose",
        "t",
        "unsqueeze",
        "squeeze",
        "select",
        "slice",
        "expand",
        "unbind",
        "split",
        "chunk",
        "narrow",
        "lift_fresh",
        "promote_types",  # a dtype computation
    }
)

_INTERPRETER = ("triton/runtime/interpreter.py", "triton\\runtime\\interpreter.py")


def _called_by_interpreter() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.endswith(_INTERPRETER):
            return True
        frame = frame.f_back
    return False


class AtenRecorder(TorchDispatchMode):
    """Records the names of the aten operators called while active (e.g. 'sum', 'mm', '_softmax'), with how often
    each was called; may be entered several times (a forward, then a backward)."""

    def __init__(self):
        super().__init__()
        self.counts: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not _called_by_interpreter():
            self.counts[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))

    @property
    def ops(self) -> set[str]:
        return set(self.counts)

    def computing(self) -> set[str]:
        """The recorded operators that are not allocation or views."""
        return self.ops - ALLOWED


def undeclared_ops(variant, recorder: AtenRecorder) -> list[str]:
    """The compute operators `recorder` saw that `variant` (a registry.Variant) does not declare."""
    return sorted(recorder.computing() - set(variant.torch_ops))


def torch_ops_markdown() -> str:
    """The README's table of what each Triton rung leaves to PyTorch, made from the registry's declarations
    (`python -m kernels.torch_ops` prints it; a test keeps the README equal to it)."""
    from kernels import registry

    lines = ["| op | variant | PyTorch operators besides its Triton kernels |", "|---|---|---|"]
    for op in registry.ops():
        for v in registry.variants(op):
            if v.rung >= registry.RUNGS["triton"]:
                parts = "; ".join(f"`{name}`: {why}" for name, why in sorted(v.torch_ops.items())) or "none"
                lines.append(f"| {op} | `{v.name}` | {parts} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(torch_ops_markdown())
