"""Every GPU of a node through pytest-xdist: the worker -> GPU mapping (a pure function, given fake device lists),
the environment each worker starts with, the per-worker outputs, and the refusal to time CPU rows in parallel."""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import execnet
import pytest

from bench import plugin
from bench.gpus import pin_workers, visible_gpus, worker_number, worker_path

ROOT = Path(__file__).resolve().parents[1]
SELECT = "test_op and softmax and 1024x16 and (eager or lesson)"


@pytest.mark.parametrize(
    "env, count, gpus",
    [
        (None, 4, ["0", "1", "2", "3"]),
        (None, 0, []),
        ("2,3", 8, ["2", "3"]),
        ("GPU-aa11, GPU-bb22", 8, ["GPU-aa11", "GPU-bb22"]),
        ("1,-1,2", 8, ["1"]),  # CUDA stops at the first invalid entry
        ("", 8, []),
    ],
)
def test_visible_gpus_reads_cuda_visible_devices_as_cuda_does(env, count, gpus):
    assert visible_gpus(env, count) == gpus


@pytest.mark.parametrize("n", [1, 3, 8])
def test_each_worker_gets_a_gpu_of_its_own(n):
    gpus = [f"GPU-{i:02d}" for i in range(8)]
    pinned = pin_workers(n, gpus)
    assert pinned == gpus[:n] and len(set(pinned)) == n


def test_the_workers_take_the_visible_gpus_in_order():
    assert pin_workers(2, ["5", "7", "3"]) == ["5", "7"]


@pytest.mark.parametrize(
    "n, gpus, message",
    [(5, ["0", "1", "2", "3"], "-n 5 with 4 visible GPU"), (1, [], "no GPU is visible"), (0, ["0"], "0 workers")],
)
def test_more_workers_than_gpus_is_refused(n, gpus, message):
    with pytest.raises(ValueError, match=message):
        pin_workers(n, gpus)


def test_worker_numbers_and_paths():
    assert worker_number("gw12") == 12
    with pytest.raises(ValueError, match="not a pytest-xdist worker id"):
        worker_number("main")
    assert worker_path(Path("out/results.json"), "gw1") == Path("out/results.gw1.json")
    assert worker_path(Path("out/results.stream.jsonl"), "gw0") == Path("out/results.stream.gw0.jsonl")


def test_each_worker_process_starts_with_its_own_cuda_visible_devices():
    """The plugin's setupnodes hook on real xdist worker specs: every worker process (started as xdist starts it,
    through execnet) sees only its own GPU before any of its code runs."""
    specs = [execnet.XSpec("popen") for _ in range(3)]
    plugin.pin_specs(specs, ["GPU-aa", "GPU-bb", "GPU-cc", "GPU-dd"])
    seen = []
    for spec in specs:
        gateway = execnet.makegateway(spec)
        try:
            channel = gateway.remote_exec("import os; channel.send(os.environ.get('CUDA_VISIBLE_DEVICES'))")
            seen.append(channel.receive())
        finally:
            gateway.exit()
    assert seen == ["GPU-aa", "GPU-bb", "GPU-cc"]


def test_setupnodes_pins_only_timed_cuda_runs(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")

    def config(devices, only):
        options = {"benchmark_only": only, "benchmark_enable": False}
        return SimpleNamespace(dnnbench=SimpleNamespace(devices=devices), getoption=lambda k, d=None: options[k])

    specs = [execnet.XSpec("popen") for _ in range(2)]
    plugin.pytest_xdist_setupnodes(config(("cuda",), True), specs)
    assert [s.env for s in specs] == [{"CUDA_VISIBLE_DEVICES": "4"}, {"CUDA_VISIBLE_DEVICES": "5"}]
    untimed = [execnet.XSpec("popen")]
    plugin.pytest_xdist_setupnodes(config(("cuda",), False), untimed)  # tests under -n: no pinning
    plugin.pytest_xdist_setupnodes(config(("cpu",), True), untimed)
    assert untimed[0].env == {}


def test_auto_starts_one_worker_per_visible_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 8)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,3,5")

    def config(device, only=True):
        options = {"benchmark_only": only, "benchmark_enable": False, "dnnbench_device": device}
        return SimpleNamespace(getoption=lambda k, d=None: options[k])

    assert plugin.pytest_xdist_auto_num_workers(config("cuda")) == 3
    assert plugin.pytest_xdist_auto_num_workers(config("cpu")) is None  # xdist's own default: one per core
    assert plugin.pytest_xdist_auto_num_workers(config("cuda", only=False)) is None


def pytest_bench(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "bench", "--benchmark-only", "-p", "no:cacheprovider", "-q", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "-n with CPU benchmarks: parallel workers share the CPU's cores"),
        (["--allow-shared-cores", "--budget", "5m"], "--budget with -n"),
    ],
)
def test_timing_the_cpu_with_n_is_refused(extra, message):
    proc = pytest_bench("-n", "2", "--device", "cpu", "-k", SELECT, *extra)
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]  # pytest's usage error
    assert message in proc.stderr


def test_each_worker_writes_its_own_stream_and_json(tmp_path):
    """On the CPU with --allow-shared-cores (the same path as one worker per GPU, without a GPU)."""
    out = tmp_path / "results.json"
    proc = pytest_bench(
        "-n",
        "2",
        "--allow-shared-cores",
        "--device",
        "cpu",
        "-k",
        SELECT,
        "--benchmark-max-time",
        "0.01",
        "--benchmark-json",
        str(out),
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert not out.exists()  # the controller times nothing
    streams = sorted(tmp_path.glob("results.stream.gw*.jsonl"))
    assert [p.name for p in streams] == ["results.stream.gw0.jsonl", "results.stream.gw1.jsonl"]
    cases, seeds = [], set()
    for worker, stream in zip(("gw0", "gw1"), streams, strict=True):
        records = [json.loads(line) for line in stream.read_text().splitlines()]
        run = records[0]["dnnbench"]
        assert run["worker"] == worker and run["shared_cores"] is True
        seeds.add(run["seed"])
        timed = [r["name"] for r in records if "stats" in r]
        assert timed, f"{worker} timed nothing"
        cases += [n[n.index("[") + 1 : -1] for n in timed] + [r["skipped"]["param"] for r in records if "skipped" in r]
        data = json.loads((tmp_path / f"results.{worker}.json").read_text())
        assert sorted(b["name"] for b in data["benchmarks"]) == sorted(timed)
    assert len(seeds) == 1  # one run, one seed
    collected = pytest_bench("--collect-only", "--device", "cpu", "-k", SELECT)
    ids = [line[line.index("[") + 1 : -1] for line in collected.stdout.splitlines() if "::" in line]
    assert len(ids) >= 4 and sorted(cases) == sorted(ids)  # every case once, in one worker or the other


def test_dnnbench_run_workers_without_cuda_is_a_one_line_error(capsys):
    from dnnbench.cli import main

    assert main(["run", "--workers", "2", "--device", "cpu", "-o", "unused"]) == 2
    assert "--workers times one worker per GPU: give --device cuda" in capsys.readouterr().err
    assert main(["run", "--workers", "two", "-o", "unused"]) == 2
    assert "expected a number of workers or auto" in capsys.readouterr().err


def test_benchmark_enable_without_only_under_n_is_refused_not_skipped():
    """--benchmark-enable (not --benchmark-only) cannot keep pytest-benchmark's timing on under xdist: a clear error,
    never a run whose benchmarks were quietly skipped or untimed."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "bench", "--benchmark-enable", "-n", "2", "--allow-shared-cores"]
        + ["--device", "cpu", "-k", SELECT, "-p", "no:cacheprovider", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "pytest-benchmark turned timing off under pytest-xdist" in proc.stdout + proc.stderr
