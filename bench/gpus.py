"""Every GPU of a node: one pytest-xdist worker per visible GPU, each pinned to its own device.

`pytest bench --benchmark-only --device cuda -n auto` starts one worker per GPU this process may use. Before a worker
starts, the plugin (bench/plugin.py) gives it CUDA_VISIBLE_DEVICES naming one GPU, so CUDA initializes in that
worker seeing only its own device (as `cuda:0`): two workers never time on one GPU. Each worker writes its own
stream and pytest-benchmark JSON (results.stream.gw0.jsonl, results.gw0.json), and `dnnbench report` merges them.

On the CPU parallel workers share the cores, so their timings are not performance figures: timed benchmarks with -n
on the CPU are refused unless --allow-shared-cores is given (for checking the pipeline, not for measuring).

The mapping is pure (no CUDA call): the tests give it a fake device list.
"""

from __future__ import annotations

import re
from pathlib import Path


def visible_gpus(env_value: str | None, count: int) -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES names them: the variable's entries (indices, UUIDs or
    MIG names) when it is set, else the indices 0..count-1. An entry that is empty or -1 hides itself and every later
    one, as CUDA reads the variable."""
    if env_value is None:
        return [str(i) for i in range(count)]
    out = []
    for entry in (e.strip() for e in env_value.split(",")):
        if not entry or entry == "-1":
            break
        out.append(entry)
    return out


def process_gpus() -> list[str]:
    """visible_gpus for this process: its CUDA_VISIBLE_DEVICES, or every GPU torch counts (which, before CUDA
    initializes, asks NVML without creating a context)."""
    import os

    import torch

    return visible_gpus(os.environ.get("CUDA_VISIBLE_DEVICES"), torch.cuda.device_count())


def worker_number(worker_id: str) -> int:
    """pytest-xdist's worker id 'gw3' -> 3."""
    match = re.fullmatch(r"gw(\d+)", worker_id)
    if match is None:
        raise ValueError(f"not a pytest-xdist worker id: {worker_id!r} (expected gw0, gw1, ...)")
    return int(match.group(1))


def pin_workers(n_workers: int, gpus: list[str]) -> list[str]:
    """Worker i -> the CUDA_VISIBLE_DEVICES value of its own GPU (worker i gets the i-th visible GPU). More workers
    than GPUs is an error: two workers timing on one GPU would slow each other down."""
    if n_workers < 1:
        raise ValueError(f"{n_workers} workers: at least one is needed")
    if not gpus:
        raise ValueError("no GPU is visible to this process (CUDA_VISIBLE_DEVICES hides them all, or none exists)")
    if n_workers > len(gpus):
        raise ValueError(
            f"-n {n_workers} with {len(gpus)} visible GPU(s) ({','.join(gpus)}): timings would share a GPU; "
            f"use at most -n {len(gpus)} (or -n auto: one worker per GPU)"
        )
    return gpus[:n_workers]


def worker_path(path: Path, worker_id: str) -> Path:
    """A worker's own output file beside the run's: results.json -> results.gw0.json, results.stream.jsonl ->
    results.stream.gw0.jsonl."""
    return path.with_name(f"{path.stem}.{worker_id}{path.suffix}")
