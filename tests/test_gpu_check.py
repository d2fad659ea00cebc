"""The GPU check's summary (dnnbench/gpu_check.py), written from the folder a run left: its steps, the ceilings and
speedups of the benchmark results, and each study's generated conclusion read from the study file's own header."""

import json
from pathlib import Path

from dnnbench.gpu_check import write_summary
from tests.test_planted_report import planted_results


def test_the_summary_has_the_steps_the_figures_and_each_study_s_conclusion(tmp_path):
    planted_results(tmp_path / "results.json")
    header = {
        "study": "toy",
        "kind": "systems",
        "question": "?",
        "metric": "val_accuracy",
        "executions": [{"label": "NCHW"}, {"label": "channels_last"}],
        "figure": "largest_batch",
        "about": None,
    }
    rows = [
        {
            "study": "toy",
            "kind": "timing",
            "lesson": "6.4",
            "batch": 16,
            "setting": s,
            "device": "cpu",
            "seed": r,
            "step_s": t,
            "compile_s": 0.0,
            "version": "quick",
        }
        for s, t in (("NCHW", 2.0), ("channels_last", 1.0))
        for r in (0, 1)
    ]
    (tmp_path / "study-toy.jsonl").write_text("\n".join(json.dumps(r) for r in [{"header": header}, *rows]) + "\n")
    steps = [
        {"step": "tests", "exit": 0, "summary": "3 passed", "seconds": 1.0},
        {"step": "bench", "exit": "timeout", "summary": "(no summary)", "seconds": 240.0},
    ]
    text = write_summary(tmp_path, "cpu", steps).read_text()
    assert "- tests: exit 0, 3 passed, 1.0 s" in text and "- bench: exit timeout, (no summary), 240.0 s" in text
    assert "## Ceilings (measured in this run)" in text and "## Variants against eager" in text
    assert (
        "- toy: channels_last is faster than NCHW beyond the spread in 1 of 1 case and slower in 0, from 2.00x "
        "to 2.00x (best: lesson 6.4, batch 16). At the largest batch, channels_last against NCHW: 2.00x on 6.4 "
        "at batch 16 (faster beyond the spread)."
    ) in text


def test_the_device_selections_come_from_each_op_s_spec():
    from dnnbench.gpu_check import compiled_cases, target_benchmarks
    from kernels import registry

    for op in registry.ops():
        spec = registry.spec(op)
        assert spec.smoke_case in {c.name for c in spec.test_cases()}, f"{op}: smoke_case names no test case"
        assert spec.smoke_case in compiled_cases()
        assert (f"({op} and {spec.target_benchmarks})" in target_benchmarks()) == bool(spec.target_benchmarks)
    assert (
        compiled_cases()
        == "not compiled or pow2 or small or nchw or pad0 or k2_stride1 or digits or head or hidden or momentum or adam"
    )
    assert target_benchmarks().startswith("test_ceiling or (matmul and 4096x4096x4096) or ")


def test_the_benchmark_step_shards_over_every_visible_gpu(monkeypatch):
    import pytest
    import torch

    from dnnbench.gpu_check import bench_gpus

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert bench_gpus("cuda", None) == ["0", "1", "2", "3"]
    assert bench_gpus("cuda", 2) == ["0", "1"]
    assert bench_gpus("cpu", None) == []
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "6,7")
    assert bench_gpus("cuda", None) == ["6", "7"]
    with pytest.raises(SystemExit, match="--gpus 3: between 1 and the 2 visible"):
        bench_gpus("cuda", 3)


def test_shards_run_at_once_one_per_gpu_and_the_summary_merges_them(tmp_path):
    """The multi-GPU path on the CPU: two shard processes (each told its own 'GPU', which the CPU run ignores), whose
    streams together hold every selected benchmark once."""
    import subprocess
    import sys

    from dnnbench.gpu_check import run_shards

    select = "test_op and softmax and 1024x16 and (eager or lesson)"
    args = ["bench", "--device", "cpu", "-p", "no:cacheprovider", "-q", "-k", select, "--benchmark-only"]
    steps = run_shards("bench", [*args, "--benchmark-max-time", "0.01"], ["0", "1"], tmp_path, 300)
    assert [s["step"] for s in steps] == ["bench 1/2 (GPU 0)", "bench 2/2 (GPU 1)"]
    assert all(s["exit"] == 0 for s in steps), [(tmp_path / f"bench-{i}.log").read_text()[-1500:] for i in (1, 2)]
    assert (tmp_path / "bench-1.log").read_text().startswith("$ CUDA_VISIBLE_DEVICES=0 ")
    cases = []
    for i in (1, 2):
        records = [json.loads(x) for x in (tmp_path / f"results.stream.shard-{i}.jsonl").read_text().splitlines()]
        assert records[0]["dnnbench"]["shard"] == f"{i}/2"
        assert records[0]["machine_info"]["dnnbench"]["cuda_visible_devices"] == str(i - 1)  # its own GPU
        cases += [r["name"][r["name"].index("[") + 1 : -1] for r in records if "stats" in r]
        cases += [r["skipped"]["param"] for r in records if "skipped" in r]
    collect = [sys.executable, "-m", "pytest", *args[:-1], "--collect-only"]
    listed = subprocess.run(collect, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1]).stdout
    ids = [line[line.index("[") + 1 : -1] for line in listed.splitlines() if "::" in line]
    assert len(ids) >= 4 and sorted(cases) == sorted(ids)
    text = write_summary(tmp_path, "cpu", steps).read_text()
    assert "- bench 2/2 (GPU 1): exit 0" in text and "## Variants against eager" in text


def test_the_lesson_targets_are_4_3_and_5_4_on_every_backend_and_4_4_on_triton_mlp_at_two_batches():
    import subprocess
    import sys

    from dnnbench.gpu_check import LESSON_BATCHES, LESSON_TARGETS
    from models.backends import BACKENDS

    args = ["bench", "--collect-only", "-q", "--profile", "full", "--dtypes", "fp32", "--device", "cpu"]
    args += ["--batch-sizes", LESSON_BATCHES, "-k", LESSON_TARGETS]
    root = Path(__file__).resolve().parents[1]
    listed = subprocess.run([sys.executable, "-m", "pytest", *args], capture_output=True, text=True, cwd=root).stdout
    ids = sorted(line[line.index("[") + 1 : -1] for line in listed.splitlines() if "::" in line)
    assert ids == sorted(
        f"lesson{lesson}-train_step-cpu-fp32-b{batch}-{backend}"
        for lesson in ("4.3", "5.4", "4.4")
        for batch in (64, 1024)
        for backend in (BACKENDS if lesson != "4.4" else ("eager", "triton_mlp"))
    )


def test_the_launch_bound_backends_tests_are_a_step_of_their_own(tmp_path, monkeypatch):
    """The CUDA graph and triton_mlp tests (skipped or interpreted on the CPU) run on the device as one step, with
    its own time limit, beside the correctness tests."""
    import dnnbench.gpu_check as gpu_check

    ran = {}

    def fake_step(name, args, out, timeout, env=None, module="pytest"):
        ran[name] = (args, timeout)
        return {"step": name, "exit": 0, "summary": "1 passed", "seconds": 0.1}

    monkeypatch.setattr(gpu_check, "run_step", fake_step)
    assert gpu_check.main(["--device", "cpu", "--out", str(tmp_path), "--launch-timeout", "77"]) == 0
    args, timeout = ran["launch"]
    assert list(gpu_check.LAUNCH_TESTS) == args[: len(gpu_check.LAUNCH_TESTS)] and timeout == 77
    assert args[args.index("--device") + 1] == "cpu" and "-k" not in args
    root = Path(__file__).resolve().parents[1]
    assert all((root / f).exists() for f in gpu_check.LAUNCH_TESTS)
    assert list(ran) == ["tests", "launch", "bench"]
