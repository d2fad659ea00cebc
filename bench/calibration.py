"""Ceilings of this machine: copy bandwidth and matmul throughput per dtype, measured, not taken from datasheets.

- copy: `dst.copy_(src)` into an existing buffer well above the last-level cache (at least twice the size the device
  or the OS reports for it, bench/cache.py); bytes = read + write.
- matmul: `torch.mm(a, b, out=c)` on square random matrices through the vendor library (cuBLAS, MKL/oneDNN);
  flops = 2 n^3. On CUDA fp32 is timed twice: strict fp32 and TF32 (a separate, named precision).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from bench.cache import last_level_cache_bytes
from bench.machine import precision_flags
from bench.measure import measure, skip_reason
from kernels.dtypes import parse_dtype
from reports import schema

COPY_ELEMENTS = {"cpu": 1 << 25, "cuda": 1 << 28}  # at least 128 MiB / 1 GiB of fp32
# Square matmul size: large enough to reach the library's peak; on the CPU, reduced precisions run far slower.
MATMUL_N = {("cpu", "fp32"): 2048, "cpu": 1024, "cuda": 8192}


@dataclass(frozen=True)
class Ceiling:
    kind: str  # "copy" or "matmul"
    device: str
    precision: str  # fp32, tf32, fp16, bf16

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.device}-{self.precision}"


def ceiling_cases(options) -> list[Ceiling]:
    cases = []
    for device in options.devices:
        cases.append(Ceiling("copy", device, "fp32"))
        dtypes = options.dtypes or (("fp32", "fp16", "bf16") if device == "cuda" else ("fp32",))
        for d in dtypes:
            if d == "fp64":
                continue
            cases.append(Ceiling("matmul", device, d))
            if d == "fp32" and device == "cuda":
                cases.append(Ceiling("matmul", device, "tf32"))
    return cases


def copy_elements(device: str) -> int:
    """fp32 elements of each copy buffer: COPY_ELEMENTS, or twice the last-level cache where that is more (the CPUs
    of this project's machines report 480 MB of L3: a 128 MiB copy would stay in it)."""
    return max(COPY_ELEMENTS[device], 2 * last_level_cache_bytes(device)[0] // 4)


def ceiling_call(c: Ceiling):
    """The call to time and the work it does: (call, work, unit) with unit 'bytes' or 'flops'."""
    g = torch.Generator().manual_seed(0)
    if c.kind == "copy":
        n = copy_elements(c.device)
        src = torch.randn(n, generator=g).to(c.device)
        dst = torch.empty_like(src)
        return (lambda: dst.copy_(src)), 2 * n * src.element_size(), "bytes"
    dtype = torch.float32 if c.precision == "tf32" else parse_dtype(c.precision)
    n = MATMUL_N.get((c.device, c.precision), MATMUL_N[c.device])
    a = torch.randn(n, n, generator=g).to(c.device, dtype)
    b = torch.randn(n, n, generator=g).to(c.device, dtype)
    out = torch.empty(n, n, dtype=dtype, device=c.device)
    return (lambda: torch.mm(a, b, out=out)), 2 * n**3, "flops"


def run_ceiling(benchmark, c: Ceiling, options) -> None:
    reason = skip_reason(options, "ceiling", c.device)
    if reason:
        pytest.skip(reason)
    call, work, unit = ceiling_call(c)
    tf32 = c.precision == "tf32"
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        for _ in range(3):
            call()
        benchmark.group = f"calibration {c.device}"
        benchmark.extra_info.update(
            {"ceiling": c.kind, "device": c.device, "dtype": c.precision, unit: work, **precision_flags()}
        )
        benchmark.extra_info.update(measure(benchmark, call, c.device, "ceiling", options))
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    median = benchmark.stats.stats.median
    key = "gbps" if unit == "bytes" else "gflops"
    benchmark.extra_info[key] = work / median / 1e9
    schema.check("ceiling", benchmark.extra_info)
