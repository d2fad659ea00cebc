"""The GPU check's summary (dnnbench/gpu_check.py), written from the folder a run left: its steps, the ceilings and
speedups of the benchmark results, and each study's generated conclusion read from the study file's own header."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
    # the planted compiled rows paid 1.0 s each at their first call: 8 of them (2 devices x 4 batches)
    assert "| results.json | 8 | 8.0 | 1.0 | test_op[softmax-forward-" in text
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
    assert target_benchmarks().startswith("test_ceiling or (softmax and forward and (eager or triton_ or ")
    assert " or (matmul and 4096x4096x4096) or " in target_benchmarks()


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


def plan_of(*argv: str, out: Path = Path("out")):
    import dnnbench.gpu_check as gpu_check

    parser_args = ["--device", "cpu", *argv]
    captured = {}

    def fake_run_plan(steps, budget_s, out, device, gpus, started, notes=()):
        captured.update(steps=steps, budget_s=budget_s)
        return []

    import pytest

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gpu_check, "run_plan", fake_run_plan)
        mp.setattr(gpu_check, "write_summary", lambda *a, **k: None)
        (out / "summary.md").write_text("")
        gpu_check.main([*parser_args, "--out", str(out)])
    return captured["steps"], captured["budget_s"]


def test_the_plan_puts_the_most_informative_steps_first(tmp_path):
    """Ceilings, the ops' targets, the lessons' targets, the launch-bound backends' and timers' tests (skipped or
    interpreted on the CPU), the correctness tests, then the rest of the sweep; 8 minutes unless told."""
    from dnnbench.gpu_check import LAUNCH_TESTS, TIMING_TESTS

    steps, budget_s = plan_of(out=tmp_path)
    assert [s.name for s in steps] == ["ceilings", "targets", "lessons", "launch", "tests", "sweep"]
    assert budget_s == 480
    launch = next(s for s in steps if s.name == "launch")
    assert launch.args[: len(LAUNCH_TESTS) + 1] == [*LAUNCH_TESTS, TIMING_TESTS]
    assert launch.args[launch.args.index("--device") + 1] == "cpu" and "-k" not in launch.args
    root = Path(__file__).resolve().parents[1]
    assert all((root / f).exists() for f in [*LAUNCH_TESTS, TIMING_TESTS])
    assert "test_ceiling" in steps[0].args and not steps[0].budgeted and steps[1].budgeted
    targets, _ = plan_of("--targets", "--studies", "device", "--budget", "5m", out=tmp_path)
    assert [s.name for s in targets] == ["ceilings", "targets", "lessons", "launch", "tests", "studies"]


def test_each_step_gets_its_share_of_what_is_left_and_the_summary_is_rewritten_after_it(tmp_path, monkeypatch):
    """Steps that end early leave their time to the ones after; summary.md holds every finished step before the
    next one starts (a run cut off at any moment leaves a report); with too little left, a step is not run."""
    import dnnbench.gpu_check as gpu_check

    steps, _ = plan_of(out=tmp_path)
    given, seen = {}, {}

    def fake_step(name, args, out, timeout, env=None, module="pytest"):
        given[name] = timeout
        seen[name] = (out / "summary.md").read_text()
        if name == "lessons":  # a step that uses its whole time
            time.sleep(timeout)
        return {"step": name, "exit": 0, "summary": "1 passed", "seconds": 0.0}

    monkeypatch.setattr(gpu_check, "run_step", fake_step)
    monkeypatch.setattr(gpu_check, "MIN_STEP_S", 0.05)
    monkeypatch.setattr(gpu_check, "write_summary", lambda out, device, records, intro: _summary(out, records))
    records = gpu_check.run_plan(steps, 1.0, tmp_path, "cpu", [], time.time())
    total = sum(s.share for s in steps)
    assert given["ceilings"] == pytest.approx(steps[0].share / total, rel=0.05)
    # targets: its share of what was left, against the shares of the steps after it
    assert given["targets"] == pytest.approx((1 - 0) * steps[1].share / (total - steps[0].share), rel=0.05)
    assert "targets" not in seen["targets"] and "- ceilings" in seen["targets"]
    assert all(f"- {s.name}" in seen["sweep"] for s in steps[:-1])
    assert [r["step"] for r in records] == [s.name for s in steps]
    monkeypatch.setattr(gpu_check, "MIN_STEP_S", 10.0)
    late = gpu_check.run_plan(steps, 5.0, tmp_path, "cpu", [], time.time())
    assert [r["exit"] for r in late] == ["not run"] * len(steps)


def _summary(out: Path, records: list[dict]) -> Path:
    path = out / "summary.md"
    path.write_text("".join(f"- {r['step']}\n" for r in records))
    return path


def test_a_step_past_its_time_is_killed_with_its_children(tmp_path):
    """A step that hangs ends at its time, and what it started goes with it (its process group)."""

    from dnnbench.gpu_check import run_step

    pid_file = tmp_path / "child.pid"
    (tmp_path / "test_hang.py").write_text(
        "import subprocess, time\n"
        "def test_hang():\n"
        f"    child = subprocess.Popen(['sleep', '60'])\n"
        f"    open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "    time.sleep(60)\n"
    )
    start = time.time()
    record = run_step("hang", [str(tmp_path / "test_hang.py"), "-p", "no:cacheprovider", "-q"], tmp_path, 8.0)
    assert record["exit"] == "timeout" and time.time() - start < 12
    child = int(pid_file.read_text())
    time.sleep(0.2)
    assert not _alive(child), "the step's child process outlived it"


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is dead, only not yet reaped
        return f.read().split()[2] != "Z"


def test_the_cpu_check_runs_the_whole_plan_within_its_budget(tmp_path):
    """`--device cpu --budget 2m`: every step ran or was cut at its time, the ceilings were measured, the summary
    is there, and the command ended within its budget plus 30 s."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    start = time.time()
    cmd = [sys.executable, "-m", "dnnbench.gpu_check", "--device", "cpu", "--budget", "2m", "--out", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=300)
    took = time.time() - start
    assert took < 120 + 30, took
    text = (tmp_path / "summary.md").read_text()
    names = ["ceilings", "targets", "lessons", "launch", "tests", "sweep"]
    lines = [line for line in text.splitlines() if line.startswith("- ") and line[2:].split(":")[0] in names]
    assert [line[2:].split(":")[0] for line in lines] == names, text
    used = [float(line.split(", ")[-1].split(" s of ")[0]) for line in lines]
    given = [float(line.split(" of ")[-1].split(" s given")[0]) for line in lines]
    assert all(u <= g + 3 for u, g in zip(used, given, strict=True)), lines  # a step ends at its time
    assert sum(used) < 120 + 5, lines
    assert "| cpu | copy | fp32 |" in text, text  # the ceilings were measured
    assert "Budget: 2 min" in text and proc.stdout.count("[gpu-check]") >= len(names)


def tiny_wheel(folder, name: str = "peerlib", version: str = "1.0"):
    """A minimal pure-Python wheel: one module and its dist-info."""
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": "VALUE = 42\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    with zipfile.ZipFile(path, "w") as z:
        for arcname, text in files.items():
            z.writestr(arcname, text)
        z.writestr(f"{info}/RECORD", "".join(f"{a},,\n" for a in files) + f"{info}/RECORD,,\n")
    return path


def test_the_check_installs_the_peers_wheels_offline_into_a_folder_of_its_own(tmp_path, monkeypatch):
    from dnnbench.gpu_check import install_peers

    monkeypatch.setenv("PYTHONPATH", "")
    monkeypatch.setattr(sys, "path", list(sys.path))
    site = tmp_path / "site"
    assert "no wheels in" in install_peers(tmp_path / "none", site)
    line = install_peers(tiny_wheel(tmp_path / "wheels").parent, site)
    assert line == f"Peers: installed peerlib-1.0 from {tmp_path / 'wheels'}/ into {site}/."
    assert (site / "peerlib.py").exists()
    assert os.environ["PYTHONPATH"].split(os.pathsep)[0] == str(site.resolve())  # the steps see it
    code = "import importlib.metadata, peerlib; print(importlib.metadata.version('peerlib'), peerlib.VALUE)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "1.0 42"


def test_the_targets_time_every_op_s_peers():
    from dnnbench.gpu_check import target_benchmarks

    k = target_benchmarks()
    assert "(softmax and forward and (eager or triton_ or flaggems or liger))" in k
    assert "(linear_cross_entropy and forward and (eager or triton_ or liger))" in k
    assert "(matmul and 4096x4096x4096)" in k  # an op with targets of its own keeps them: every variant, peers too
