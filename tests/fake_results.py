"""Small synthetic results in pytest-benchmark's JSON format, for the report and compare tests: two machines (a CPU
laptop, and a GPU server with its CPU and CUDA), softmax variants, modes, dtypes and sizes, ceilings, raw rounds.

Times follow a simple model (a fixed launch cost plus bytes over a bandwidth, per device and variant) with
log-normal noise, so the plots and sentences have something real to show."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

from bench.rounds import median_rse

MACHINES = {
    "laptop": {"host": "laptop", "gpus": [], "cpu_model": "Test CPU 8-core", "devices": {"cpu": (2e-6, 20e9)}},
    "server": {
        "host": "server",
        "gpus": [{"name": "Test GPU 80GB", "capability": "9.0", "sm_count": 132, "memory_gib": 80.0}],
        "cpu_model": "Test Server CPU",
        "devices": {"cpu": (2e-6, 40e9), "cuda": (8e-6, 2500e9)},
    },
}
# relative cost per variant: (launch multiplier, bandwidth multiplier)
VARIANTS = {
    "lesson": (0, 3.0, 0.3),
    "eager": (1, 1.0, 1.0),
    "compiled": (2, 1.5, 1.1),
    "triton": (3, 1.2, 1.2),
    "triton_online": (3, 1.2, 0.8),
}
SHAPES = [(1024, 16), (1024, 256), (1024, 4096)]


def machine_info(name: str) -> dict:
    m = MACHINES[name]
    return {
        "node": m["host"],
        "dnnbench": {
            "host": m["host"],
            "gpus": m["gpus"],
            "cpu_model": m["cpu_model"],
            "torch": "2.14.1",
            "triton": "3.8.0",
        },
    }


def entry(
    name: str, group: str, extra: dict, median: float, rng: random.Random, rounds: int = 40, slowdown: float = 1.0
) -> dict:
    data = sorted(median * slowdown * math.exp(rng.gauss(0, 0.03)) for _ in range(rounds))
    q1, q3 = data[rounds // 4], data[3 * rounds // 4]
    med = data[rounds // 2]
    extra = {**extra, "rse": median_rse(data)}  # as the harness records it from its rounds
    return {
        "group": group,
        "name": name,
        "fullname": f"bench/test_ops.py::{name}",
        "params": {},
        "param": name,
        "extra_info": extra,
        "options": {},
        "stats": {
            "min": data[0],
            "max": data[-1],
            "mean": sum(data) / rounds,
            "stddev": 0.0,
            "rounds": rounds,
            "median": med,
            "iqr": q3 - q1,
            "q1": q1,
            "q3": q3,
            "iterations": 1,
            "data": data,
        },
    }


def benchmarks(machine: str, seed: int = 0, slowdown: dict | None = None) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for device, (latency, bandwidth) in MACHINES[machine]["devices"].items():
        copy_gbps = bandwidth * 1.1 / 1e9
        peak = 2e5 if device == "cuda" else 500.0
        ceilings = (("copy", "bytes", 1e9, "gbps", copy_gbps), ("matmul", "flops", 1e12, "gflops", peak))
        for kind, unit, work, rate_key, rate in ceilings:
            info = {"ceiling": kind, "device": device, "dtype": "fp32", unit: work, rate_key: rate}
            out.append(
                entry(f"test_ceiling[{kind}-{device}-fp32]", f"calibration {device}", info, work / (rate * 1e9), rng)
            )
        for dtype, size in (("fp32", 4), ("bf16", 2)):
            for mode in ("forward", "backward"):
                for shape in SHAPES:
                    elements = shape[0] * shape[1]
                    nbytes = (2 if mode == "forward" else 3) * elements * size
                    group = f"softmax {mode} {shape[0]}x{shape[1]} {dtype} {device}"
                    for variant, (rung, lat_x, bw_x) in VARIANTS.items():
                        if variant.startswith("triton") and device == "cpu":
                            continue
                        median = latency * lat_x + nbytes / (bandwidth * bw_x)
                        name = f"test_op[softmax-{mode}-{device}-{dtype}-{shape[0]}x{shape[1]}-{variant}]"
                        factor = (slowdown or {}).get(name, 1.0)
                        extra = {
                            "op": "softmax",
                            "variant": variant,
                            "rung": rung,
                            "baseline": variant == "eager",
                            "mode": mode,
                            "device": device,
                            "dtype": dtype,
                            "shape": list(shape),
                            "batch": shape[0],
                            "flops": 5.0 * elements,
                            "bytes": nbytes,
                            "gflops": 5.0 * elements / median / 1e9,
                            "gbps": nbytes / median / 1e9,
                            "rel_error": 1e-7 if dtype == "fp32" else 3e-3,
                            "tolerance": 1e-5,
                            "compile_s": 2.5 if variant == "compiled" else 0.01,
                            "noisy": variant == "lesson" and shape == SHAPES[0],
                        }
                        out.append(entry(name, group, extra, median, rng, slowdown=factor))
    return out


def write_run(path: Path, machine: str, seed: int = 0, slowdown: dict | None = None) -> Path:
    path.write_text(
        json.dumps({"machine_info": machine_info(machine), "benchmarks": benchmarks(machine, seed, slowdown)})
    )
    return path
