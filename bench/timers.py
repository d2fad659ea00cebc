"""The benchmark timer: synchronize CUDA, then read the host clock.

pytest-benchmark reads its timer at the start and at the end of each round; work queued on the GPU is asynchronous,
so a bare host clock would measure the launches, not the kernels. Synchronizing inside the timer costs one sync per
round (not per call), and does nothing when CUDA was never initialized (CPU-only runs).
"""

import time

import torch


def synced_perf_counter() -> float:
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()
