"""The benchmark harness end to end, as a user runs it: pytest --benchmark-only on a small selection, then the
JSON, the stream file and the machine info it leaves."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.rounds import MIN_ROUNDS, median_rse
from reports import schema

ROOT = Path(__file__).resolve().parents[1]
# the full profile: the quick one compiles softmax at its largest size only
SELECT = "softmax-forward-cpu-fp32-1024x16- or copy-cpu"


def run_bench(tmp_path: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "bench",
        "--benchmark-only",
        "--device",
        "cpu",
        "-k",
        SELECT,
        "-rs",
        "-p",
        "no:cacheprovider",
        "--benchmark-max-time",
        "0.02",
        "--seed",
        "7",
        "--profile",
        "full",
        "--benchmark-json",
        str(tmp_path / "out.json"),
        "--stream",
        str(tmp_path / "out.stream.jsonl"),
        *extra,
    ]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def stream_entries(path: Path) -> tuple[dict, list[dict]]:
    """(the machine line, the measured benchmarks) of a stream; the records of skipped, failed and left-out
    benchmarks are left out."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return lines[0], [e for e in lines[1:] if "stats" in e]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    proc = run_bench(tmp)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tmp, proc, json.loads((tmp / "out.json").read_text())


def test_each_variant_is_timed_and_triton_is_skipped_with_its_reason(run):
    _, proc, data = run
    ops = [b for b in data["benchmarks"] if "op" in b["extra_info"]]
    assert sorted(b["extra_info"]["variant"] for b in ops) == ["compiled", "eager", "lesson"]
    assert "interpreted, not a performance figure" in proc.stdout
    assert len({b["group"] for b in ops}) == 1, "variants of one case must share a group"


def test_extra_info_holds_every_field_and_consistent_figures(run):
    _, _, data = run
    for b in data["benchmarks"]:
        info = b["extra_info"]
        if "op" not in info:
            continue
        assert set(info) == set(schema.OP)
        assert info["shape"] == [1024, 16] and info["dtype"] == "fp32" and info["device"] == "cpu"
        assert info["gbps"] == pytest.approx(info["bytes"] / b["stats"]["median"] / 1e9)
        assert info["bytes"] == 2 * 1024 * 16 * 4
        assert 0 < info["rel_error"] <= info["tolerance"]
        assert info["cuda_matmul_allow_tf32"] is False and info["cudnn_allow_tf32"] is False
        # the suite's rounds, handed to pytest-benchmark through its timer: the stored rounds are the measured ones
        assert b["options"]["timer"].endswith("benchmark_clock")
        assert info["timer"] == "wall" and info["cache"] == "warm"  # the CPU's defaults
        assert b["stats"]["iterations"] == info["calls_per_round"] and b["stats"]["rounds"] >= MIN_ROUNDS
        assert info["rse"] == pytest.approx(median_rse(b["stats"]["data"]))
        assert info["energy_j_per_call"] is None and info["energy_skip"]
    compiled = next(b for b in data["benchmarks"] if b["extra_info"].get("variant") == "compiled")
    assert compiled["extra_info"]["first_call_s"] > compiled["stats"]["median"], "compilation was not paid apart"


def test_the_report_reads_every_field_the_harness_writes(run):
    from reports.load import COLUMNS, load

    tmp, _, _ = run
    df = load([tmp / "out.json"])
    ops, ceilings = df[df["kind"] == "op"], df[df["kind"] == "ceiling"]
    # CUDA only, lessons, calibration, backward rows only
    not_here = {"peak_memory_bytes", "samples_per_s", "op_shares", "ceiling", "saved_bytes"}
    not_here |= {"gpu", "gpu_uuid", "gpu_visible_as", "shard", "worker", "job_id"}  # GPU, sharded, xdist, batch job
    not_here |= {c for c in COLUMNS if c.startswith("gpu_")} | {"kernels_per_call"}  # GPU readings, kernel timer
    not_here |= {"energy_j_per_call", "gflop_per_j", "cpu_governor", "throttled"}  # CUDA energy; what the OS says
    not_here |= {"speedup", "speedup_lo", "speedup_hi"}  # the report pairs the rows (reports.summary.with_speedups)
    assert not [c for c in COLUMNS if c not in not_here and ops[c].isna().any()]
    assert ceilings["gbps"].notna().all() and (ceilings["ceiling"] == "copy").all()


def test_machine_info_and_the_calibration_are_stored(run):
    _, _, data = run
    info = data["machine_info"]["dnnbench"]
    for key in ("torch", "triton", "cpu_model", "cpu_count", "torch_threads", "cuda", "gpus"):
        assert key in info
    (copy,) = [b for b in data["benchmarks"] if b["extra_info"].get("ceiling") == "copy"]
    assert copy["extra_info"]["gbps"] > 0.1


def test_the_stream_has_every_finished_benchmark(run):
    tmp, _, data = run
    head, entries = stream_entries(tmp / "out.stream.jsonl")
    assert "torch" in head["machine_info"]["dnnbench"]
    assert head["dnnbench"]["profile"] == "full" and head["dnnbench"]["budget_s"] is None
    assert sorted(e["name"] for e in entries) == sorted(b["name"] for b in data["benchmarks"])
    assert all(e["wall_s"] > e["stats"]["total"] for e in entries)  # set-up to the end of the timed call
    records = [json.loads(line) for line in (tmp / "out.stream.jsonl").read_text().splitlines()]
    skipped = [r["skipped"] for r in records if "skipped" in r]
    # the Triton rungs, ours and the peers' (the interpreter's, or a library not installed), each skipped with a reason
    assert {s["param"].rsplit("-", 1)[1] for s in skipped} == {"triton_online", "triton_rowwise", "liger", "flaggems"}
    # what the peers are declared to get wrong travels in the header, for the report (which imports nothing of this)
    liger = head["dnnbench"]["peers"]["softmax"]["liger"]
    assert liger["library"] == "liger-kernel 0.8.5" and any("empty input" in d for d in liger["declared"])
    assert all(s["test"] == "test_op" for s in skipped)
    why = {s["param"].rsplit("-", 1)[1]: s["reason"] for s in skipped}
    assert why["triton_online"] == why["triton_rowwise"] == "interpreted, not a performance figure"
    assert why["flaggems"] == "softmax/flaggems does not run on cpu"  # a GPU-only peer


def test_a_failing_variant_loses_no_other_result(tmp_path):
    proc = run_bench(tmp_path, "-p", "tests.fake_variant", env={"FAKE_VARIANT": "raise"})
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "broken on purpose" in proc.stdout
    data = json.loads((tmp_path / "out.json").read_text())
    assert sorted(b["extra_info"].get("variant", "ceiling") for b in data["benchmarks"]) == [
        "ceiling",
        "compiled",
        "eager",
        "lesson",
    ]


def test_a_killed_run_keeps_what_finished_in_the_stream(tmp_path):
    proc = run_bench(tmp_path, "-p", "tests.fake_variant", env={"FAKE_VARIANT": "kill"})
    assert proc.returncode == 9
    assert not (tmp_path / "out.json").exists() or not (tmp_path / "out.json").read_text()
    _, entries = stream_entries(tmp_path / "out.stream.jsonl")
    # the copy ceiling comes first (test_calibration.py), then the ops in ladder order: triton_fused kills the run
    assert sorted(e["extra_info"].get("variant", "ceiling") for e in entries) == [
        "ceiling",
        "compiled",
        "eager",
        "lesson",
    ]


def test_cache_cold_flushes_before_every_timed_call_and_says_so(tmp_path):
    proc = run_bench(tmp_path, "-k", "softmax-forward-cpu-fp32-1024x16-eager", "--cache", "cold")
    assert proc.returncode == 0, proc.stdout[-2000:]
    (b,) = json.loads((tmp_path / "out.json").read_text())["benchmarks"]
    info = b["extra_info"]
    assert info["cache"] == "cold" and info["timer"] == "wall"
    assert info["calls_per_round"] == 1 == b["stats"]["iterations"]  # one call per flush


def test_a_cuda_timer_on_the_cpu_is_a_skip_with_its_reason_and_an_unknown_one_an_error(tmp_path):
    proc = run_bench(tmp_path, "-k", "softmax-forward-cpu-fp32-1024x16-eager", "--timer", "kernel")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "the kernel timer measures CUDA work: rows on cpu are timed with --timer wall" in proc.stdout
    bad = run_bench(tmp_path, "--timer", "stopwatch")
    assert bad.returncode == 4 and "--timer: unknown timer 'stopwatch'" in bad.stderr
    bad = run_bench(tmp_path, "--cache", "lukewarm")
    assert bad.returncode == 4 and "--cache: unknown cache state 'lukewarm'" in bad.stderr
