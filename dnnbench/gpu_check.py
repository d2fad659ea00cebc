"""One command for a lent GPU (torch preinstalled, no network), planned to fit its time: the measured ceilings, the
benchmarks behind the ops' targets, the launch-bound lessons' targets, the launch-bound backends' and the timers'
tests, the correctness tests on the device, then the rest of the quick sweep; written to reports/gpu/<card>/ with a
summary.

    python -m dnnbench.gpu_check --device cuda                  # what `make gpu-check` runs: 8 minutes in all
    python -m dnnbench.gpu_check --budget 5m --targets          # the informative steps only, in 5 minutes
    python -m dnnbench.gpu_check --device cpu --budget 2m       # the same plan on a machine without a GPU

The budget is shared out by the plan (PLAN: each step's share), most informative first; each step gets its share of
what is left when it starts, so time a step leaves unused goes to the ones after it. Every step is a process of its
own (its whole process group is killed at its time: a crash or a hang in one leaves the others' results); a
benchmark step also plans its benchmarks within its time (pytest --budget), so it ends with what finished.
summary.md is rewritten after every step, so a run cut off at any moment leaves a report, and the command ends
within its budget plus 30 s. On a node with several GPUs the sweep is split into one shard per GPU (`--shard I/N`,
bench/shard.py), each a process that sees only its GPU (CUDA_VISIBLE_DEVICES), all at once.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.budget import parse_duration
from bench.machine import card_slug, machine_info, set_precision_defaults
from reports.schema import budget_text

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
    autotunes). The peers stand in every op's targets: an op that has peers and no targets of its own is timed
    forward, eager, ours and the peers side by side."""
    from kernels import registry

    parts = []
    for op in registry.ops():
        spec, peers = registry.spec(op), [v.name for v in registry.variants(op) if v.peer]
        if spec.target_benchmarks:
            parts.append(f"({op} and {spec.target_benchmarks})")
        elif peers:
            parts.append(f"({op} and forward and (eager or triton_ or {' or '.join(peers)}))")
    return " or ".join(["test_ceiling", *parts])


# The peer libraries' pinned wheels (make peers-wheels, on a machine with network): the GPU machines have none, so the
# check installs them from the folder the device run carries, into a folder of its own put first on PYTHONPATH.
PEER_WHEELS = Path("wheels/peers")
PEER_SITE = Path(".peers-site")


def install_peers(wheels: Path = PEER_WHEELS, site: Path = PEER_SITE) -> str:
    """Install the peers' wheels (no index, no dependencies: the folder holds them all) into `site`, add it to this
    process's and its steps' PYTHONPATH; return the summary's line about it."""
    found = sorted(wheels.glob("*.whl"))
    if not found:
        return (
            f"Peers: no wheels in {wheels}/ (make peers-wheels where there is a network): their rows skip, saying why."
        )
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--upgrade", "--target", str(site)]
    done = subprocess.run([*cmd, *map(str, found)], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"Peers: installing {len(found)} wheels from {wheels}/ failed ({last}): their rows skip, saying why."
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site.resolve()), os.environ.get("PYTHONPATH")]))
    sys.path.insert(0, str(site.resolve()))
    return f"Peers: installed {', '.join(w.name.split('-py')[0] for w in found)} from {wheels}/ into {site}/."


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


def _finish(proc: subprocess.Popen, deadline: float):
    """The exit status of `proc`, or 'timeout' after killing its whole process group at `deadline` (pytest's
    compile workers and Inductor's pools go with it)."""
    try:
        return proc.wait(timeout=max(deadline - time.time(), 0.1))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return "timeout"


def run_step(
    name: str, args: list[str], out: Path, timeout: float, env: dict | None = None, module: str = "pytest"
) -> dict:
    """Run `python -m MODULE ARGS` for at most `timeout` seconds, log to out/NAME.log; return its exit status,
    summary line and duration."""
    log = out / f"{name}.log"
    start = time.time()
    cmd = [sys.executable, "-m", module, *args]
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    with log.open("w") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        rc = _finish(proc, start + timeout)
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
        procs.append(subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True))
        logs.append((log, sink))
    steps = []
    for i, (proc, (log, sink)) in enumerate(zip(procs, logs, strict=True), 1):
        rc = _finish(proc, start + timeout)
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


def write_summary(out: Path, device: str, steps: list[dict], intro: list[str] | None = None) -> Path:
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
        *(intro or []),
        *[
            (
                f"- {s['step']}: not run, {s['summary']}"
                if s["exit"] == "not run"
                else f"- {s['step']}: exit {s['exit']}, {s['summary']}, {s['seconds']} s"
                + (f" of {s['planned']} s given" if "planned" in s else "")
            )
            for s in steps
        ],
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
        lines += ["## First calls (Triton's JIT, autotuning, Inductor, cuDNN's search: compile time on the device)", ""]
        lines += [first_calls_markdown(df), ""]
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


def first_calls_markdown(df) -> str:
    """Per results file (a step), the seconds the benchmarks' first calls took above a steady call, summed, and the
    largest: what compiling and autotuning cost on this machine."""
    from reports.summary import markdown_table

    rows = df[df["compile_s"].notna()]
    if rows.empty:
        return "(no first calls recorded)\n"
    table = rows.groupby("source").agg(
        benchmarks=("compile_s", "size"), total_s=("compile_s", "sum"), largest_s=("compile_s", "max")
    )
    table["largest"] = [rows.loc[rows[rows["source"] == src]["compile_s"].idxmax(), "name"] for src in table.index]
    return markdown_table(table.round(1).reset_index())


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


@dataclass(frozen=True)
class Step:
    """One step of the plan: `python -m MODULE ARGS`, given `share` of the time left when it starts (against the
    shares of the steps after it). A benchmark step (`results`: its files' name) also plans its benchmarks within its
    time and writes results.RESULTS.json and results.stream.RESULTS.jsonl."""

    name: str
    share: float
    what: str
    args: list[str]
    module: str = "pytest"
    env: dict = field(default_factory=dict)
    results: str | None = None
    budgeted: bool = True  # a benchmark step plans its benchmarks within its time (pytest --budget)
    shards: bool = False  # one shard per GPU on a node with several


# seconds a benchmark step keeps of its time for pytest's start (torch's import, the collection: 6 s on a 2-core
# CPU) and its JSON
STARTUP_S = 8.0
# every step started gets at least this (a pytest process starts and ends in 5 s or more); with less left, the steps
# after are not run
MIN_STEP_S = 15.0
GRACE_S = 30.0  # the command ends within its budget plus this
# the timers, the cache flush and the clocks on the device (their CUDA tests; the rest is quick)
TIMING_TESTS = "tests/test_timing.py"


def plan(args, out: Path) -> list[Step]:
    """The steps of the check, most informative first."""
    common = ["--device", args.device, "-p", "no:cacheprovider", "-rs", "-q"]

    def select(expression: str) -> list[str]:
        return ["-k", f"({args.select}) and ({expression})" if args.select else expression]

    bench = ["bench", *common, "--benchmark-only", "--benchmark-max-time", args.max_time]
    targets = target_benchmarks()
    # The device-dependent tests only (the reports, CLI and harness tests run in CI), with one block configuration
    # per kernel (DNNBENCH_AUTOTUNE=0: autotuning every configuration for every small test shape would take most of
    # the time; the benchmarks autotune), and torch.compile on one case per op (Inductor compiles each case's graphs,
    # seconds each on a cold machine; CI checks every case on the CPU).
    test_files = [
        "tests/test_correctness.py",
        "tests/test_registry.py",
        "tests/test_op_contract.py",
        "tests/test_judge_cuda.py",  # the judge's stream and timing checks, which only a GPU can make
        *map(str, sorted(Path("tests").glob("test_*_edges.py"))),
    ]
    tests_k = compiled_cases() if not args.targets else f"({compiled_cases()}) and ({TARGET_TESTS})"
    lessons = ["--profile", "full", "--dtypes", "fp32", "--batch-sizes", LESSON_BATCHES, *select(LESSON_TARGETS)]
    steps = [
        Step(
            "ceilings",
            0.08,
            "copy bandwidth and matmul peaks, measured: what every other figure is read against",
            [*bench, *select("test_ceiling")],
            results="ceilings",
            budgeted=False,  # a handful, each needed
        ),
        Step(
            "targets",
            0.22,
            "the benchmarks behind the ops' targets",
            [*bench, *select(f"({targets}) and not test_ceiling")],
            results="targets",
        ),
        Step(
            "lessons",
            0.10,
            "the launch-bound lessons' training step on every backend",
            [*bench, *lessons],
            results="lessons",
        ),
        Step(
            "launch",
            0.12,
            "the launch-bound backends (graph capture, the Triton MLP step) and the timers on the device",
            [*LAUNCH_TESTS, TIMING_TESTS, *common, "--junitxml", str(out / "launch.xml")],
        ),
        Step(
            "tests",
            0.23,
            "correctness on the device" + (" (bf16 and TF32 only)" if args.targets else ""),
            [
                *test_files,
                *common,
                *select(tests_k),
                "--junitxml",
                str(out / "tests.xml"),
            ],
            env={"DNNBENCH_AUTOTUNE": "0"},
        ),
    ]
    if not args.targets:
        rest = [*bench, "--profile", "quick", *select(f"not ({targets})")]
        steps.append(Step("sweep", 0.25, "the rest of the quick sweep", rest, results="sweep", shards=True))
    if args.studies:
        study = ["study", args.studies, "--device", args.device, "-o", str(out)]
        steps.append(Step("studies", 0.15, f"quick studies: {args.studies}", study, module="dnnbench.cli"))
    return steps


def run_plan(
    steps: list[Step], budget_s: float, out: Path, device: str, gpus: list[str], started: float, notes=()
) -> list[dict]:
    """Run the steps in order, each within its share of the time left, rewriting summary.md (`notes` first) after
    each one."""
    deadline, records = started + budget_s, []
    intro = [*notes, *plan_lines(steps, budget_s)]
    write_summary(out, device, records, intro)
    for i, step in enumerate(steps):
        left = deadline - time.time()
        if left < MIN_STEP_S:
            records.append(
                {"step": step.name, "exit": "not run", "summary": f"{max(left, 0):.0f} s left", "seconds": 0}
            )
            write_summary(out, device, records, intro)
            continue
        given = max(left * step.share / sum(s.share for s in steps[i:]), MIN_STEP_S)
        args, env = list(step.args), dict(step.env)
        if step.results and step.budgeted:
            env["DNNBENCH_RUN_STARTED"] = repr(time.time())  # the benchmarks' budget counts from the step's start
            args += ["--budget", f"{max(given - STARTUP_S, 1.0):.0f}s"]
        if step.shards and len(gpus) > 1:
            done = run_shards(step.name, args, gpus, out, given)
        else:
            if step.results:
                args += ["--benchmark-json", str(out / f"results.{step.results}.json")]
                args += ["--stream", str(out / f"results.stream.{step.results}.jsonl")]
            done = [run_step(step.name, args, out, given, env=env, module=step.module)]
        records += [{**r, "planned": round(given, 1)} for r in done]
        for path in out.glob("results*.json"):
            strip_raw_timings(path)
        write_summary(out, device, records, intro)
    return records


def plan_lines(steps: list[Step], budget_s: float) -> list[str]:
    total = sum(s.share for s in steps)
    lines = [f"Budget: {budget_text(budget_s)}, shared out in this order (a step gets its share of what is left):", ""]
    return lines + [f"{i}. {s.name} ({100 * s.share / total:.0f}%): {s.what}" for i, s in enumerate(steps, 1)] + [""]


def main(argv: list[str] | None = None) -> int:
    started = time.time()
    parser = argparse.ArgumentParser(prog="python -m dnnbench.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--out", type=Path, help="output folder (default: reports/gpu/<card>, or results/ on cpu)")
    parser.add_argument("--budget", default="8m", help="the whole check's time: 300, 8m, 1h (default 8m)")
    parser.add_argument("-k", dest="select", help="pytest -k expression applied to every step")
    parser.add_argument(
        "--targets",
        action="store_true",
        help="the informative steps only: no sweep of the rest, and of the correctness tests bf16 and TF32 only "
        "(what the interpreter cannot check)",
    )
    parser.add_argument("--studies", help="then run these quick studies on the device (comma-separated, or all)")
    parser.add_argument("--max-time", default="0.05", help="seconds of rounds per benchmark (--benchmark-max-time)")
    parser.add_argument(
        "--gpus",
        type=int,
        help="run the sweep on this many GPUs at once, one shard each (default: every visible GPU; 1: one process)",
    )
    args = parser.parse_args(argv)
    try:
        budget_s = parse_duration(args.budget)
    except ValueError as e:
        parser.error(str(e))

    slug = card_slug(args.device)
    if args.device == "cuda" and slug == "cpu":
        parser.error("--device cuda: no CUDA device is available on this machine")
    out = args.out or (Path("reports/gpu") / slug if args.device == "cuda" else Path("results/gpu-check-cpu"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "machine.json").write_text(json.dumps(machine_info(), indent=1))
    earlier = [*out.glob("results*.json"), *out.glob("results*.stream*.jsonl")]
    for old in (*earlier, *(out.glob("study-*.jsonl") if args.studies else ())):  # start the streams afresh
        old.unlink(missing_ok=True)
    peers = install_peers()
    print(f"[gpu-check] {peers}")
    gpus = bench_gpus(args.device, args.gpus)
    steps = run_plan(plan(args, out), budget_s, out, args.device, gpus, started, notes=[peers])
    summary = out / "summary.md"
    print(f"[gpu-check] summary: {summary} ({time.time() - started:.0f} s of a {budget_text(budget_s)} budget)")
    print(summary.read_text())
    return 0 if all(s["exit"] == 0 for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
