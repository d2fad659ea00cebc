"""CUDA graphs: a call captured once and replayed, for the lessons whose steps are launch-bound.

The course's networks are tiny: an eager training step of a lesson MLP is 20 to 60 kernel launches of a few
microseconds each, so its time is launch overhead and framework dispatch. A CUDA graph records those launches once
and replays them with one launch from the host. `GraphedCall` follows PyTorch's whole-network capture: a warm-up on a
side stream (lazy state such as optimizer buffers, cuBLAS workspaces and autograd's streams is created there, not
inside the capture), then the capture, then replays. Everything the call reads or writes must stay at the same
address between replays: the model's parameters and the optimizer's state do, and the step's inputs are static
tensors the caller copies each batch into (models/train.py's `stepper`).

The warm-up call is the first real call (on a training step: the first optimizer step), and the capture itself runs
nothing, so every call of a GraphedCall is one call of `fn`: a graphed training loop takes the same steps as the
eager one. The first call pays the warm-up and the capture: the `cudagraphs` backend's counterpart of compile time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


class GraphedCall:
    """`fn` (no arguments; CUDA tensors that stay put) run once on a side stream, captured into a CUDA graph, and
    replayed on every later call. Returns what `fn` returned at capture (the same tensors, refreshed by each replay).
    `GraphedCall.captures` counts the captures made in this process (a lesson on cudagraphs checks it made one)."""

    captures = 0

    def __init__(self, fn: Callable[[], torch.Tensor]):
        self.fn = fn
        self.graph: torch.cuda.CUDAGraph | None = None
        self.out = None
        self.capture_s: float | None = None  # the warm-up call and the capture, seconds

    def __call__(self):
        if self.graph is None:
            return self._warm_up_and_capture()
        self.graph.replay()
        return self.out

    def _warm_up_and_capture(self):
        start = time.perf_counter()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            out = self.fn()  # the first call, for real: lazy state is made here, outside the capture
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):  # records the launches; runs nothing
            self.out = self.fn()
        torch.cuda.synchronize()
        self.graph, self.capture_s = graph, time.perf_counter() - start
        GraphedCall.captures += 1
        return out


def make_capturable(optimizer: torch.optim.Optimizer) -> None:
    """Let an optimizer's step be captured: Adam and its kind keep their step count on the host unless `capturable`
    (then on the device, read by the kernels); SGD has nothing to change. Set before the first step, so that the
    state is made where the captured step reads it."""
    for group in optimizer.param_groups:
        if "capturable" in group:
            group["capturable"] = True
