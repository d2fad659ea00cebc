"""What the one-launch optimizer kernels share: a table of chunks, each row the addresses of one chunk's tensors.

A model's parameters are many tensors of very different sizes (ResNet-18: 62, from 10 to 2.4M elements; the lesson
MLPs: 4 to 8 of 10 to 20,000). A loop over them issues a few kernels per tensor, and on a GPU each launch costs more
than a small tensor's update. A multi-tensor kernel instead reads a table with one row per chunk of CHUNK elements:
the addresses of the chunk's tensors (parameter, gradient, optimizer state), the tensor's size, the chunk's start,
and flags of the kernel's own. Program c reads row c, turns the addresses into typed pointers
(`tl.load(row).to(like_ptr.dtype)`) and updates its chunk: one launch, a grid balanced by elements however the sizes
are spread.

The table is rebuilt only when an address changes (optimizer.zero_grad(set_to_none=True) hands out new gradients at
each step; parameters and state stay where they are): then it is one small host-to-device copy.
"""

from __future__ import annotations

import torch

from kernels.triton_support import check_triton_tensor

CHUNK = 1 << 16  # elements per program: long enough to stream, short enough to spread a big tensor over the GPU
BLOCK = 1024  # elements per iteration inside a chunk
# PyTorch operators a launcher runs to make and move the table (declared by each Triton optimizer rung)
TABLE_OPS = {
    "lift_fresh": "the chunk table (addresses, sizes) made a tensor on the host",
    "clone": "the chunk table made a tensor on the host",
    "_to_copy": "the chunk table copied to the GPU when an address changed (one small copy)",
}


def chunk_rows(lists: list[list], extra: list[list[int]] | None = None) -> list[list[int]]:
    """One row per CHUNK elements of each non-empty tensor of lists[0]: the address of the tensor at that position in
    each list (0 for a None entry or an empty list), the tensor's size, the chunk's start, then extra[i]'s ints."""
    params = lists[0]
    rows = []
    for i, p in enumerate(params):
        addresses = [0 if not seq or seq[i] is None else seq[i].data_ptr() for seq in lists]
        flags = extra[i] if extra else []
        rows += [[*addresses, p.numel(), start, *flags] for start in range(0, p.numel(), CHUNK)]
    return rows


_tables: dict[tuple, torch.Tensor] = {}
MAX_TABLES = 8  # a few live tables (one per parameter group or step count); older ones are dropped


def device_table(rows: list[list[int]], device: torch.device) -> torch.Tensor:
    """The rows as an int64 tensor on `device`, reused while the same rows come back."""
    key = (str(device), tuple(map(tuple, rows)))
    table = _tables.get(key)
    if table is None:
        if len(_tables) >= MAX_TABLES:
            _tables.pop(next(iter(_tables)))
        table = _tables[key] = torch.tensor(rows, dtype=torch.int64).to(device)
    return table


def check_triton_lists(params, grads, what: str) -> None:
    """One dtype and device for every parameter (torch.optim's foreach path groups them instead), each Triton's to
    take, contiguous with its gradient."""
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        check_triton_tensor(p, f"{what}: params[{i}]")
        if p.dtype != params[0].dtype or p.device != params[0].device:
            raise TypeError(
                f"{what}: every parameter must have one dtype and device (params[0] {params[0].dtype} on "
                f"{params[0].device}, params[{i}] {p.dtype} on {p.device})"
            )
        if not (p.is_contiguous() and g.is_contiguous()):
            raise ValueError(f"{what}: params[{i}] and grads[{i}] must be contiguous (a parameter is)")
