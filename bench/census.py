"""Whose kernels run a training step: the suite's own Triton kernels against PyTorch's operators.

`step_census(step, device)` calls the step once to warm it up (an optimizer's state is made on its first step),
then counts, over one more call, every launch of a Triton kernel defined in this suite's `kernels` package and every
PyTorch compute operator (aten operators other than allocation, views and profiler labels, including those a Triton
variant declares, such as a bias gradient's sum, and the host reads of its argument checks). On CUDA it also
profiles the call and gives the suite's kernels' share of the device's kernel time; on the CPU (Triton's
interpreter) only the counts mean anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import contextmanager

import torch

from kernels.torch_ops import AtenRecorder

SUITE_PACKAGE = "kernels."
# profiler labels torch.optim issues (Optimizer.step, zero_grad): they move no data and compute nothing
LABELS = frozenset({"_record_function_enter_new", "_record_function_exit"})


def kernel_name(launched) -> tuple[str, str]:
    """(module, name) of the Python function behind a launched Triton object (a JIT function, the interpreter's
    wrapper of one, an autotuner or heuristics around one)."""
    fn = launched
    while hasattr(fn, "fn"):
        fn = fn.fn
    return getattr(fn, "__module__", "") or "", getattr(fn, "__name__", repr(fn))


@contextmanager
def counting_launches():
    """Counts launches (`kernel[grid](...)`) of every Triton kernel while active: a Counter of kernel name ->
    launches, the suite's own kernels only. An autotuner's trial runs are not launches through [grid]."""
    from triton.runtime.jit import KernelInterface

    launches: Counter = Counter()
    original = KernelInterface.__getitem__

    def getitem(self, grid):
        module, name = kernel_name(self)
        if module.startswith(SUITE_PACKAGE):
            launches[name] += 1
        return original(self, grid)

    KernelInterface.__getitem__ = getitem
    try:
        yield launches
    finally:
        KernelInterface.__getitem__ = original


def kernel_time_share(kernels: Iterable[tuple[str, float]], suite: set[str]) -> float | None:
    """The share of the kernel time (name, device time) spent in kernels named in `suite`; None without kernels."""
    total = mine = 0.0
    for name, t in kernels:
        total += t
        mine += t if name in suite else 0.0
    return mine / total if total > 0 else None


def _profiled_kernels(step: Callable[[], object]) -> list[tuple[str, float]]:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    out = []
    for e in prof.events():
        t = getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0)
        if t > 0 and str(getattr(e, "device_type", "")).endswith("CUDA"):
            out.append((e.name, float(t)))
    return out


def step_census(step: Callable[[], object], device: str) -> dict:
    """One warmed-up call of `step`: suite_launches (Triton launches of the suite's kernels), torch_ops (PyTorch
    compute operators), suite_share (launches over launches + operators) and, on CUDA, suite_time_share (the suite's
    kernels' share of kernel time), with the kernels and operators by name."""
    step()
    recorder = AtenRecorder()
    with counting_launches() as launches, recorder:
        step()
    computing = recorder.computing() - LABELS
    ops = {op: n for op, n in recorder.counts.items() if op in computing}
    n_launch, n_ops = sum(launches.values()), sum(ops.values())
    time_share = None
    if device == "cuda":
        time_share = kernel_time_share(_profiled_kernels(step), set(launches))
    return {
        "suite_launches": n_launch,
        "torch_ops": n_ops,
        "suite_share": n_launch / (n_launch + n_ops) if n_launch + n_ops else None,
        "suite_time_share": time_share,
        "kernels": dict(sorted(launches.items())),
        "operators": dict(sorted(ops.items())),
    }
