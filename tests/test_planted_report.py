"""Planted truths: a results file built by hand, without noise, whose answers are known (triton 2.00x eager,
50% of the copy bandwidth, the GPU overtaking the CPU at batch 64, a compile paid back after 1,000,000 calls):
the report must say exactly those figures, not merely figures that occur somewhere in the data."""

import json

import pytest

from reports.build import build_report

COPY_GBPS = {"cpu": 100.0, "cuda": 1000.0}
PEAK_GFLOPS = {"cpu": 1000.0, "cuda": 50000.0}
BATCHES = (16, 32, 64, 128)
WIDTH = 4096


def exact(name: str, group: str, extra: dict, median: float) -> dict:
    data = [median] * 20
    stats = {
        "min": median,
        "max": median,
        "mean": median,
        "stddev": 0.0,
        "rounds": 20,
        "median": median,
        "iqr": 0.0,
        "q1": median,
        "q3": median,
        "iterations": 1,
        "data": data,
    }
    return {
        "group": group,
        "name": name,
        "fullname": f"bench/test_ops.py::{name}",
        "params": {},
        "param": name,
        "extra_info": extra,
        "options": {},
        "stats": stats,
    }


def softmax_times(device: str, batch: int) -> dict[str, float]:
    """Medians in seconds, planted. CUDA: triton moves 500 GB/s at batch 128 (50% of the copy ceiling) and is 2.00x
    eager there, 1.25x below; compiled saves exactly 1 us a call at batch 128 and is 0.50x eager at batch 16. CPU:
    eager is faster than CUDA eager below batch 64 and slower from it."""
    nbytes = 2 * batch * WIDTH * 4
    if device == "cuda":
        triton = nbytes / 500e9 if batch == 128 else nbytes / 400e9
        eager = triton * (2.0 if batch == 128 else 1.25)
        compiled = eager - 1e-6 if batch == 128 else eager * (2.0 if batch == 16 else 1.0)
        return {"eager": eager, "compiled": compiled, "triton": triton}
    cuda_eager = softmax_times("cuda", batch)["eager"]
    eager = cuda_eager * (0.5 if batch < 64 else 3.0)
    return {"eager": eager, "compiled": eager * 1.5}


def planted_results(path):
    benchmarks = []
    for device in ("cpu", "cuda"):
        for kind, unit, work, key, rate in (
            ("copy", "bytes", 1e9, "gbps", COPY_GBPS[device]),
            ("matmul", "flops", 1e12, "gflops", PEAK_GFLOPS[device]),
        ):
            info = {"ceiling": kind, "device": device, "dtype": "fp32", unit: work, key: rate}
            benchmarks.append(
                exact(f"test_ceiling[{kind}-{device}-fp32]", f"calibration {device}", info, work / rate / 1e9)
            )
        for batch in BATCHES:
            nbytes, flops = 2 * batch * WIDTH * 4, 5.0 * batch * WIDTH
            group = f"softmax forward {batch}x{WIDTH} fp32 {device}"
            for variant, median in softmax_times(device, batch).items():
                extra = {
                    "op": "softmax",
                    "variant": variant,
                    "rung": {"eager": 1, "compiled": 2, "triton": 3}[variant],
                    "baseline": variant == "eager",
                    "mode": "forward",
                    "device": device,
                    "dtype": "fp32",
                    "shape": [batch, WIDTH],
                    "batch": batch,
                    "flops": flops,
                    "bytes": nbytes,
                    "gflops": flops / median / 1e9,
                    "gbps": nbytes / median / 1e9,
                    "rel_error": 1e-7,
                    "tolerance": 1e-5,
                    "compile_s": 1.0 if variant == "compiled" else None,
                    "rse": 0.0,  # noise-free rounds: the interval is the speedup itself
                }
                name = f"test_op[softmax-forward-{device}-fp32-{batch}x{WIDTH}-{variant}]"
                benchmarks.append(exact(name, group, extra, median))
    machine = {
        "node": "rig",
        "dnnbench": {"host": "rig", "cpu_model": "Planted CPU", "gpus": [{"name": "Planted GPU", "sm_count": 132}]},
    }
    path.write_text(json.dumps({"machine_info": machine, "benchmarks": benchmarks}))
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planted")
    out = tmp / "report"
    build_report([planted_results(tmp / "planted.json")], out)
    return (out / "report.md").read_text()


def test_the_speedup_and_the_slowest_variant_are_the_planted_ones(report):
    section = report.split("## Op: softmax")[1].split("![")[0]
    assert (
        "On cuda, the fastest variant is triton in 4 (up to 2.00x eager, 95% interval 2.00-2.00, at forward fp32 "
        "128x4096) of 4 cases" in section
    )
    assert "the slowest is compiled at 0.50x eager (95% interval 0.50-0.50, forward fp32 16x4096)" in section


def test_the_share_of_the_copy_ceiling_is_the_planted_50_percent(report):
    section = report.split("## Op: softmax")[1].split("![")[0]
    assert (
        "on cuda the best softmax case moves 500 GB/s (triton, forward fp32 128x4096), 50% of the measured copy "
        "bandwidth (1,000 GB/s)"
    ) in section
    assert "memory-bound on cuda (balance point 50 FLOP/byte: 50,000 GFLOP/s fp32 over 1,000 GB/s, measured)" in section
    assert "does 0.625 FLOP/byte" in section  # 5 FLOPs per element over 8 bytes (read + write, fp32)


def test_the_gpu_overtakes_the_cpu_at_the_planted_batch(report):
    section = report.split("## CPU against GPU")[1].split("\n## ")[0]
    assert "the GPU overtakes the CPU from 64x4096 (262,144 elements)." in section
    assert "| softmax | eager | fp32 | forward | from 64x4096 (262,144 elements) |" in section


def test_the_compile_break_even_is_the_planted_million_calls(report):
    section = report.split("## torch.compile")[1].split("\n## ")[0]
    assert "took 1.00 to 1.00 s per case" in section
    assert "the quickest to pay back is softmax forward cuda fp32 128x4096, after 1,000,000 calls" in section
