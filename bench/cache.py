"""Cache state of a timed call: `warm` (the same inputs every call: they stay in cache when they fit) or `cold` (an
untimed flush before every timed call).

The flush evicts the cache by touching a buffer larger than it: on CUDA a buffer twice the L2 size from the device's
properties, written (`zero_`, as triton.testing.do_bench does; 50 MB of L2 on an H100, so 100 MB a flush); on the
CPU a buffer twice the last-level cache that the OS reports, read and written (`add_`: plain stores of a large
buffer may go around the cache as streaming stores, a read-modify-write cannot). After a flush a memory-bound call
reads its inputs from memory, so its GB/s cannot pass the memory's bandwidth.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import torch

CACHE_STATES = ("warm", "cold")
FALLBACK_BYTES = 64 << 20  # when neither the device nor the OS says


def _size_bytes(text: str) -> int:
    """'491520K', '2048K', '32M' (sysfs cache sizes) -> bytes."""
    text = text.strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * scale


def last_level_cache_bytes(device: str) -> tuple[int, str]:
    """(bytes, where the figure came from) of the cache a flush must evict on `device`: the GPU's L2 (torch's device
    properties), the CPU's last-level cache (sysfs, else sysconf)."""
    if device == "cuda":
        size = getattr(torch.cuda.get_device_properties(torch.cuda.current_device()), "L2_cache_size", 0)
        return (int(size), "device properties") if size else (FALLBACK_BYTES, "fallback (the device gave none)")
    levels = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            if (index / "type").read_text().strip() in ("Unified", "Data"):
                levels.append((int((index / "level").read_text()), _size_bytes((index / "size").read_text())))
        except (OSError, ValueError):
            continue
    if levels:
        return max(levels)[1], "sysfs"
    for name in ("SC_LEVEL3_CACHE_SIZE", "SC_LEVEL2_CACHE_SIZE"):
        try:
            size = os.sysconf(name)
        except (ValueError, OSError):
            continue
        if size and size > 0:
            return int(size), "sysconf"
    return FALLBACK_BYTES, "fallback (the OS gave none)"


class Flush:
    """Evicts `device`'s last-level cache when called (the caller keeps it out of the timing)."""

    def __init__(self, device: str):
        self.device = device
        cache_bytes, self.source = last_level_cache_bytes(device)
        self.nbytes = 2 * cache_bytes
        self._buffer = torch.zeros(self.nbytes, dtype=torch.uint8, device=device)

    def __call__(self) -> None:
        if self.device == "cuda":
            self._buffer.zero_()
        else:
            self._buffer.add_(1)


@cache
def flush_for(device: str) -> Flush:
    """One flush buffer per device and process (allocated once: 960 MB on a CPU with a 480 MB last-level cache)."""
    return Flush(device)


def check_cache(name: str) -> str:
    if name not in CACHE_STATES:
        raise ValueError(f"--cache: unknown cache state {name!r}; use warm or cold")
    return name
