"""The lessons' benchmarks as a user runs them (pytest --benchmark-only on a selection), and their report section."""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from bench import lessons as lesson_bench
from bench.plugin import RunOptions
from models import LESSONS
from models.backends import BACKENDS
from reports.build import build_report

ROOT = Path(__file__).resolve().parents[1]
SELECT = (
    "lesson4.3 and b64 or lesson6.4 and train_step and b64 and eager or lesson5.5 and train_step and b1 "
    "or lesson1.4-lab-cpu-n100-"
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lessons")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "bench/test_lessons.py",
        "--benchmark-only",
        "--device",
        "cpu",
        "-rs",
        "-k",
        SELECT,
        "-p",
        "no:cacheprovider",
        "--benchmark-max-time",
        "0.02",
        "--profile",
        "full",
        "--batch-sizes",
        "1,64",
        "--benchmark-json",
        str(tmp / "out.json"),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads((tmp / "out.json").read_text())
    return tmp, proc.stdout, {b["name"]: b for b in data["benchmarks"]}


def test_every_training_lesson_has_a_workload_and_cases_per_backend_and_mode():
    options = RunOptions(("cpu",), (), (), "full", 0, None)
    cases = lesson_bench.lesson_cases(options)
    assert len({c.id for c in cases}) == len(cases)
    training = {k for k, lesson in LESSONS.items() if lesson.trains}
    assert {k for k, lesson in LESSONS.items() if lesson.workload} == training
    assert {c.lesson for c in cases} == training
    assert {(c.form, c.dtype) for c in cases if c.lesson == "6.5"} == {
        ("plain", "fp32"),
        ("channels_last", "fp32"),
        ("autocast", "fp32"),
    }
    assert {(c.backend, c.mode, c.batch) for c in cases if c.lesson == "6.4"} == {
        (b, m, n) for b in BACKENDS for m in ("forward", "train_step") for n in (1, 4, 16, 64, 256, 1024, 4096)
    }


def test_each_backend_is_timed_with_samples_per_s_and_the_models_flops(run):
    _, stdout, results = run
    forward = results["test_lesson[lesson4.3-forward-cpu-fp32-b64-eager]"]
    info, median = forward["extra_info"], forward["stats"]["median"]
    assert info["flops"] == 2 * 64 * 64 * 10  # Linear(64, 10) on 64 samples, two FLOPs per multiply-add
    assert info["samples_per_s"] == pytest.approx(64 / median)
    assert info["lesson"] == "4.3" and info["backend"] == "eager" and info["batch"] == 64
    step = results["test_lesson[lesson4.3-train_step-cpu-fp32-b64-compiled]"]["extra_info"]
    assert step["flops"] == 2 * info["flops"]  # backward: the weight gradient only (the input needs none)
    assert step["compile_s"] > 0
    assert "interpreted, not a performance figure" in stdout  # triton on the CPU is skipped with its reason


def test_hot_op_shares_say_where_a_cnn_training_step_goes(run):
    _, _, results = run
    shares = results["test_lesson[lesson6.4-train_step-cpu-fp32-b64-eager]"]["extra_info"]["op_shares"]
    assert sum(shares.values()) == pytest.approx(1.0)
    assert {"conv2d", "max_pool2d", "matmul"} <= set(shares)
    assert max(shares, key=shares.get) == "conv2d"


def test_a_batch_the_model_cannot_train_on_is_skipped_with_torchs_reason(run):
    _, stdout, results = run
    assert "test_lesson[lesson5.5-train_step-cpu-fp32-b1-eager]" not in results
    assert "Expected more than 1 value per channel when training" in stdout


def test_out_of_memory_is_recorded_and_the_sweep_goes_on(monkeypatch):
    recorded = []

    def out_of_memory(*args):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(lesson_bench, "_time_lesson", out_of_memory)
    case = lesson_bench.LessonCase("6.5", "eager", "train_step", "cpu", "fp32", 4096)

    class Benchmark:
        group = None
        extra_info = {}

    with pytest.raises(pytest.skip.Exception, match="out of memory at batch 4096"):
        lesson_bench.run_lesson_case(Benchmark(), case, SimpleNamespace(seed=0), recorded.append)
    assert recorded == [
        {
            "lesson": "6.5",
            "backend": "eager",
            "mode": "train_step",
            "device": "cpu",
            "dtype": "fp32",
            "batch": 4096,
            "status": "out of memory",
        }
    ]


def test_the_report_shows_throughput_per_backend_and_the_hot_op_shares(run):
    tmp, _, results = run
    build_report([tmp / "out.json"], tmp / "report")
    text = (tmp / "report" / "report.md").read_text()
    assert (
        "## Lessons: throughput against batch size" in text and "## Lessons: where a training step's time goes" in text
    )
    assert (tmp / "report" / "lesson_6_4_throughput.png").exists()
    eager = results["test_lesson[lesson4.3-forward-cpu-fp32-b64-eager]"]["extra_info"]["samples_per_s"]
    assert f"lesson 4.3 forward on cpu fp32: eager {eager:,.0f} samples/s at batch 64" in text
    shares = results["test_lesson[lesson6.4-train_step-cpu-fp32-b64-eager]"]["extra_info"]["op_shares"]
    top = max((op for op in shares if op != "other"), key=shares.get)  # the report names the hottest op
    assert f"{top} takes {100 * shares[top]:.0f}% of the profiled time" in text


def test_a_lab_without_training_is_timed_per_setting(run):
    tmp, _, results = run
    per_sample = results["test_lesson_lab[lesson1.4-lab-cpu-n100-per_sample]"]
    batched = results["test_lesson_lab[lesson1.4-lab-cpu-n100-batched]"]
    assert per_sample["group"] == batched["group"] == "lesson 1.4 lab n 100 cpu"
    assert per_sample["extra_info"]["mode"] == "lab" and per_sample["extra_info"]["batch"] == 100
    build_report([tmp / "out.json"], tmp / "report-lab")
    text = (tmp / "report-lab" / "report.md").read_text()
    fast = min((per_sample, batched), key=lambda b: b["stats"]["median"])["extra_info"]["backend"]
    assert f"lesson 1.4 on cpu at size 100: {fast} is fastest" in text


def test_the_gpu_crossover_is_found_for_a_lessons_sweep(tmp_path):
    """Lesson 1.1's behaviour on a machine with both devices: below some size the CPU wins (overhead), above it the
    GPU; the report names the size where the GPU overtakes."""
    times = {"cpu": {100: 1e-5, 10_000: 1e-4, 1_000_000: 1e-2}, "cuda": {100: 5e-5, 10_000: 5e-5, 1_000_000: 1e-4}}
    entries = [
        {
            "name": f"lab-{device}-{n}",
            "group": f"lesson 1.1 lab n {n} {device}",
            "stats": {"median": t, "iqr": t / 100, "q1": t, "q3": t, "rounds": 10},
            "extra_info": {
                "lesson": "1.1",
                "backend": "torch",
                "mode": "lab",
                "device": device,
                "dtype": "fp32",
                "batch": n,
                "samples_per_s": n / t,
                "noisy": False,
            },
        }
        for device, sizes in times.items()
        for n, t in sizes.items()
    ]
    machine = {"node": "box", "dnnbench": {"host": "box", "gpus": [{"name": "Test GPU"}]}}
    path = tmp_path / "both.json"
    path.write_text(json.dumps({"machine_info": machine, "benchmarks": entries}))
    build_report([path], tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| lesson 1.1 | torch | fp32 | lab | from b10000 (10,000 elements) |" in text


def test_the_stream_lands_beside_the_benchmark_json_when_not_named(run):
    # the run fixture passes --benchmark-json tmp/out.json and no --stream
    tmp, _, benchmarks = run
    records = [json.loads(line) for line in (tmp / "out.stream.jsonl").read_text().splitlines()]
    assert "machine_info" in records[0]  # the header, then one line per finished benchmark and per skipped one
    assert sorted(r["name"] for r in records if "stats" in r) == sorted(benchmarks)
    skipped = {r["skipped"]["param"] for r in records if "skipped" in r}
    assert "lesson5.5-train_step-cpu-fp32-b1-eager" in skipped and len(records) == 1 + len(benchmarks) + len(skipped)
