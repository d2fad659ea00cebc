"""The suite's clocks, the one way everything is timed: the benchmark timer pytest-benchmark reads
(synced_perf_counter), and timed_call for a single call (first calls, warm-up checks, the systems studies' steps).

Work queued on the GPU is asynchronous, so a bare host clock would measure the launches, not the kernels: both
synchronize CUDA before reading the clock. pytest-benchmark reads its timer at the start and at the end of each round,
so synchronizing inside the timer costs one sync per round (not per call), and nothing when CUDA was never
initialized (CPU-only runs).
"""

import time

import torch


def synced_perf_counter() -> float:
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()


def sync(device: str) -> None:
    """Wait for the work queued on `device` (nothing to wait for on the CPU)."""
    if device == "cuda":
        torch.cuda.synchronize()


def timed_call(call, device: str) -> float:
    """Seconds of one call of `call` on `device`, from a synchronized start to its synchronized end."""
    sync(device)
    start = time.perf_counter()
    call()
    sync(device)
    return time.perf_counter() - start
