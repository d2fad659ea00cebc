"""One command for a lent GPU (torch preinstalled, no network): correctness tests on the device, the launch-bound
backends' tests (CUDA graph capture, the Triton MLP step), then the quick benchmark sweep, written to
reports/gpu/<card>/ with a short summary.

    python -m dnnbench.gpu_check --device cuda          # what `make gpu-check` runs
    python -m dnnbench.gpu_check --device cpu           # the same flow on a machine without a GPU (into results/)
    python -m dnnbench.gpu_check --targets --studies device,precision,backend   # then quick studies on the device

Each step runs as its own process with a time limit, so a crash or a hang in one step still leaves the other
step's results and the summary. On a node with several GPUs the benchmark step is split into one shard per GPU
(`--shard I/N`, bench/shard.py), each shard a process of its own that sees only its GPU (CUDA_VISIBLE_DEVICES), all
running at once: the sweep takes about 1/N of the time, and the summary merges the shards' streams.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.machine import card_slug, machine_info, set_precision_defaults

# --targets narrows the tests to what the CPU interpreter cannot check (bf16 tl.dot, TF32): each test shape compiles
# its own kernels on a cold machine, and the whole device suite outlasts a lent GPU's time.
TARGET_TESTS = "bf16 or tf32"
# what only a GPU checks of the launch-bound lesson backends: the captured training step (cudagraphs,
# compiled_cudagraphs) against eager, and triton_mlp's compiled kernels against eager float64
LAUNCH_TESTS = ("tests/test_graphs.py", "tests/test_triton_mlp.py", "tests/test_mlp_step.py")


def compiled_cases() -> str:
    """-k expression: every test but the compiled rung's, which runs on each op's spec.smoke_case only (Inductor
    compiles each case's graphs, seconds each on a cold machine; CI checks every case on the CPU)."""
    from kernels import registry

    smoke = [registry.spec(op).smoke_case for op in registry.ops() if registry.spec(op).smoke_case]
    return " or ".join(["not compiled", *smoke])


def target_benchmarks() -> str:
    """-k expression: the ceilings and, per op, the benchmarks behind its targets (spec.target_benchmarks), without
    the rest of the quick sweep (which outlasts a lent GPU's time on a cold machine: every shape compiles and
    autotunes)."""
    from kernels import registry

    parts = [
        f"({op} and {registry.spec(op).target_benchmarks})"
        for op in registry.ops()
        if registry.spec(op).target_benchmarks
    ]
    return " or ".join(["test_ceiling", *parts])


# pytest's last line: "12 passed, 3 skipped in 4.2s" (with -q) or the same between "=" rules
PYTEST_SUMMARY = r"^=*\s*(\d+ (?:passed|failed|error|skipped|deselected).*?)\s*=*$"


# --targets: the launch-bound lessons' training step on every backend (eager, compiled, triton, triton_fused, the CUDA
# graph backends) at a small and a large batch, beside the ops' targets
# 4.3 and 5.4 on every backend; 4.4 (64-100-10) on eager and triton_mlp besides: its widths take the staged kernel
LESSON_TARGETS = (
    "test_lesson and (lesson4.3- or lesson5.4- or (lesson4.4- and (-eager or -triton_mlp))) and train_step "
    "and not channels_last and not autocast"
)
LESSON_BATCHES = "64,1024"


def run_step(
    name: str, args: list[str], out: Path, timeout: float, env: dict | None = None, module: str = "pytest"
) -> dict:
    """Run `python -m MODULE ARGS`, log to out/NAME.log; return its exit status, summary line and duration."""
    log = out / f"{name}.log"
    start = time.time()
    cmd = [sys.executable, "-m", module, *args]
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    with log.open("w") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        try:
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout, env=env).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    text = log.read_text()
    summary = re.findall(PYTEST_SUMMARY, text, re.M)
    if module != "pytest":
        summary = [f"{len(re.findall(r'^rows: ', text, re.M))} written"]
    return step_record(name, rc, summary, start)


def step_record(name: str, rc, summaries: list[str], start: float) -> dict:
    """A step's exit status, last summary line and seconds since `start`, printed as it is recorded."""
    result = {"step": name, "exit": rc, "summary": summaries[-1] if summaries else "(no summary)"}
    result["seconds"] = round(time.time() - start, 1)
    print(f"[gpu-check] {name}: exit {rc}, {result['summary']} ({result['seconds']} s)", flush=True)
    return result


def run_shards(name: str, args: list[str], gpus: list[str], out: Path, timeout: float) -> list[dict]:
    """Run `python -m pytest ARGS --shard I/N` once per GPU, all at once, shard I seeing only gpus[I-1] and writing
    its own JSON and stream (results.shard-I.json, results.stream.shard-I.jsonl); logs to out/NAME-I.log. Returns
    one step record per shard."""
    n, procs, logs, start = len(gpus), [], [], time.time()
    for i, gpu in enumerate(gpus, 1):
        log = out / f"{name}-{i}.log"
        own = ["--shard", f"{i}/{n}", "--benchmark-json", str(out / f"results.shard-{i}.json")]
        own += ["--stream", str(out / f"results.stream.shard-{i}.jsonl")]
        cmd = [sys.executable, "-m", "pytest", *args, *own]
        sink = log.open("w")
        sink.write("$ CUDA_VISIBLE_DEVICES=" + gpu + " " + " ".join(cmd) + "\n")
        sink.flush()
        env = dict(os.environ, PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES=gpu)
        procs.append(subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env))
        logs.append((log, sink))
    steps = []
    for i, (proc, (log, sink)) in enumerate(zip(procs, logs, strict=True), 1):
        try:
            rc = proc.wait(timeout=max(timeout - (time.time() - start), 1.0))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = "timeout"
        sink.close()
        summary = re.findall(PYTEST_SUMMARY, log.read_text(), re.M)
        steps.append(step_record(f"{name} {i}/{n} (GPU {gpus[i - 1]})", rc, summary, start))
    return steps


def strip_raw_timings(path: Path) -> None:
    """pytest-benchmark's JSON keeps every round's time; the stats are enough to commit, and far smaller."""
    if not path.exists():
        return
    data = json.loads(path.read_text())
    for b in data.get("benchmarks", []):
        b.get("stats", {}).pop("data", None)
    path.write_text(json.dumps(data, indent=1))


def write_summary(out: Path, device: str, steps: list[dict]) -> Path:
    from reports.load import load
    from reports.summary import ceilings_markdown, speedup_markdown

    set_precision_defaults()  # as the pytest plugin sets them for the steps
    info = machine_info()
    lines = [
        f"# dnnbench GPU check: {card_slug(device)}",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- device: {device}; GPUs: {', '.join(g['name'] for g in info['gpus']) or 'none'}",
        f"- torch {info['torch']}, triton {info['triton']}, CUDA {info['cuda']}, cuDNN {info['cudnn']}",
        f"- CPU: {info['cpu_model']} ({info['cpu_count']} cores, torch threads {info['torch_threads']})",
        f"- TF32: matmul {info['cuda_matmul_allow_tf32']}, cuDNN {info['cudnn_allow_tf32']} (fp32 means fp32)",
        "",
        "## Steps",
        "",
        *[f"- {s['step']}: exit {s['exit']}, {s['summary']}, {s['seconds']} s" for s in steps],
        "",
    ]
    # The streams have every finished benchmark even when a JSON was never written (a killed run); one per shard
    # on a node with several GPUs.
    sources = sorted(out.glob("results*.stream*.jsonl")) or sorted(out.glob("results*.json"))
    if sources:
        df = load(sources)
        lines += ["## Ceilings (measured in this run)", "", ceilings_markdown(df), ""]
        lines += ["## Variants against eager (median of one run; ratio > 1: faster than eager)", ""]
        lines += [speedup_markdown(df), ""]
    studies = sorted(out.glob("study-*.jsonl"))
    if studies:
        import pandas as pd

        from reports.load import read_study
        from reports.study_analysis import outcome

        lines += ["## Studies (conclusions generated from their rows)", ""]
        for p in studies:
            header, rows = read_study(p)
            lines += [f"- {outcome(header, pd.DataFrame(rows))[1]}"]
        lines += [""]
    path = out / "summary.md"
    path.write_text("\n".join(lines))
    return path


def bench_gpus(device: str, wanted: int | None) -> list[str]:
    """The GPUs the benchmark step shards over (CUDA_VISIBLE_DEVICES entries): every visible one, or the first
    `wanted`; none on the CPU."""
    from bench.gpus import process_gpus

    if device != "cuda":
        return []
    gpus = process_gpus()
    if wanted is not None and not 1 <= wanted <= len(gpus):
        raise SystemExit(f"gpu_check: --gpus {wanted}: between 1 and the {len(gpus)} visible GPU(s)")
    return gpus[:wanted] if wanted else gpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dnnbench.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--out", type=Path, help="output folder (default: reports/gpu/<card>, or results/ on cpu)")
    parser.add_argument("-k", dest="select", help="pytest -k expression applied to both steps")
    parser.add_argument(
        "--targets",
        action="store_true",
        help="test only bf16 and TF32 (what the interpreter cannot check), benchmark only the cases "
        "behind the ops' targets, then lessons 4.3 and 5.4's training step on every backend at batch 64 and 1024",
    )
    parser.add_argument("--studies", help="then run these quick studies on the device (comma-separated, or all)")
    parser.add_argument("--study-timeout", type=float, default=180.0, help="seconds for the studies")
    parser.add_argument("--test-timeout", type=float, default=240.0, help="seconds for the correctness tests")
    parser.add_argument("--bench-timeout", type=float, default=240.0, help="seconds for the benchmark sweep")
    parser.add_argument(
        "--launch-timeout", type=float, default=180.0, help="seconds for the launch-bound backends' tests"
    )
    parser.add_argument("--max-time", default="0.05", help="pytest-benchmark --benchmark-max-time per benchmark")
    parser.add_argument(
        "--lesson-timeout", type=float, default=240.0, help="seconds for the lesson-backend targets (with --targets)"
    )
    parser.add_argument(
        "--gpus",
        type=int,
        help="benchmark on this many GPUs at once, one shard each (default: every visible GPU; 1: one process)",
    )
    args = parser.parse_args(argv)

    slug = card_slug(args.device)
    if args.device == "cuda" and slug == "cpu":
        parser.error("--device cuda: no CUDA device is available on this machine")
    out = args.out or (Path("reports/gpu") / slug if args.device == "cuda" else Path("results/gpu-check-cpu"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "machine.json").write_text(json.dumps(machine_info(), indent=1))
    select = ["-k", args.select] if args.select else []
    common_unselected = ["--device", args.device, "-p", "no:cacheprovider", "-rs", "-q"]
    common = [*common_unselected, *select]

    # The device-dependent tests only (the reports, CLI and harness tests run in CI), with one block configuration
    # per kernel (DNNBENCH_AUTOTUNE=0: autotuning every configuration for every small test shape would take most of
    # the budget; the benchmarks autotune), and torch.compile on one case per op (Inductor compiles each case's
    # graphs, seconds each on a cold machine; CI checks every case on the CPU).
    test_files = [
        "tests/test_correctness.py",
        "tests/test_registry.py",
        "tests/test_op_contract.py",
        *map(str, sorted(Path("tests").glob("test_*_edges.py"))),
    ]
    tests_k = compiled_cases() if not args.targets else f"({compiled_cases()}) and ({TARGET_TESTS})"
    narrow = ["-k", f"({args.select}) and ({tests_k})" if args.select else tests_k]
    tests = [*test_files, *common_unselected, *narrow, "--junitxml", str(out / "tests.xml")]
    steps = [run_step("tests", tests, out, args.test_timeout, env={"DNNBENCH_AUTOTUNE": "0"})]
    # the launch-bound backends' own tests: CUDA graph capture, and the MLP step compiled (barriers, atomics)
    launch = [*LAUNCH_TESTS, *common_unselected, "--junitxml", str(out / "launch.xml")]
    steps.append(run_step("launch", launch, out, args.launch_timeout))
    results, stream = out / "results.json", out / "results.stream.jsonl"
    earlier = [*out.glob("results*.json"), *out.glob("results*.stream*.jsonl")]
    for old in (*earlier, *(out.glob("study-*.jsonl") if args.studies else ())):  # start the streams afresh
        old.unlink(missing_ok=True)
    if args.targets:
        targets = target_benchmarks()
        common = [*common_unselected, "-k", f"({args.select}) and ({targets})" if args.select else targets]
    bench = ["bench", *common, "--benchmark-only", "--profile", "quick", "--benchmark-max-time", args.max_time]
    gpus = bench_gpus(args.device, args.gpus)
    if len(gpus) > 1:
        steps += run_shards("bench", bench, gpus, out, args.bench_timeout)
    else:
        bench += ["--benchmark-json", str(results), "--stream", str(stream)]
        steps.append(run_step("bench", bench, out, args.bench_timeout))
    if args.targets:  # the full profile has every lesson; the batch sizes and -k narrow it to the targets
        lessons = ["bench", *common_unselected, "--benchmark-only", "--profile", "full", "--dtypes", "fp32"]
        lessons += ["--batch-sizes", LESSON_BATCHES, "-k", LESSON_TARGETS, "--benchmark-max-time", args.max_time]
        lessons += ["--benchmark-json", str(out / "results.lessons.json")]
        lessons += ["--stream", str(out / "results.stream.lessons.jsonl")]
        steps.append(run_step("lessons", lessons, out, args.lesson_timeout))
    for path in out.glob("results*.json"):
        strip_raw_timings(path)
    if args.studies:
        study = ["study", args.studies, "--device", args.device, "-o", str(out)]
        steps.append(run_step("studies", study, out, args.study_timeout, module="dnnbench.cli"))
    summary = write_summary(out, args.device, steps)
    print(f"[gpu-check] summary: {summary}")
    print(summary.read_text())
    return 0 if all(s["exit"] == 0 for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
