"""The `dnnbench` command.

    dnnbench list                              ops with their variants (ladder order, baseline marked)
    dnnbench run [--device ...] [-o DIR]       run the benchmarks (pytest-benchmark), then write the report;
                 [--budget 10m] [--quiet]  within a time budget, with a progress display (done/total, ETA)
    dnnbench report RESULTS... -o DIR          report of results from any runs, machines and devices
    dnnbench submit --executor slurm|local --shards N -o DIR -- RUN OPTIONS
                                               the sweep as N shards, each a batch job (dnnbench/submit.py),
                                               failed shards retried, then one merged report in DIR/report
    dnnbench compare BASE NEW [--fail-above P] the change per benchmark between two runs, noise taken into account
                 [--across-gpus]               (refused across GPU models unless --across-gpus)
    dnnbench calibrate [--device ...]          measure this machine's ceilings (copy GB/s, matmul GFLOP/s)
    dnnbench study NAME|all [--full]           trade-off studies over the lessons (models/studies.py: training
                                               dynamics; bench/systems.py: the same work executed differently);
                                               each writes study-NAME.jsonl, a header line and its rows

Bad arguments and unusable files get one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints the usage too)
        print(f"dnnbench: error: {message}", file=sys.stderr)
        sys.exit(2)


def fail(message: str) -> int:
    print(f"dnnbench: error: {message}", file=sys.stderr)
    return 2


def cmd_list(args) -> int:
    from kernels import registry

    for op in registry.ops():
        spec = registry.spec(op)
        print(f"{op}  ({spec.work_model})")
        for v in registry.variants(op):
            mark = "  [baseline]" if v.baseline else f"  [{v.library}]" if v.peer else ""
            interpreted = v.interpreted_on_cpu and "cpu" in v.devices
            where = ", ".join(v.devices) + (" (cpu: Triton interpreter, not timed)" if interpreted else "")
            missing = v.requires() if v.requires else None
            where += f"; not here: {missing}" if missing else ""
            print(f"  {v.rung}  {v.name:<15} {v.doc}{mark}\n     {'':<15} devices: {where}")
    for name, error in registry.plugin_errors().items():
        print(f"\nplugin {name!r} ({registry.GROUP}) did not load: {error}")
    from models import LESSONS
    from models.backends import BACKENDS

    print(f"\nlessons  (models.LESSONS; run(setting, backend={'|'.join(BACKENDS)}, device, dtype, seed))")
    for lesson in LESSONS.values():
        settings = f"  settings: {', '.join(lesson.settings)}" if lesson.settings else ""
        print(f"  {lesson.id:<4} {lesson.title} - {lesson.summary}{settings}")
    from dnnbench.studies import declared

    print("\nstudies  (dnnbench study NAME [--full])")
    for study in declared().values():
        print(f"  {study.name:<15} {study.question}")
    return 0


def cmd_report(args) -> int:
    from dnnbench.progress import Progress, choose_mode

    index = report(args, args.results, args.output, Progress(choose_mode(args.quiet, sys.stdout)))
    if index is None:
        return 2
    print(f"report: {index}")
    return 0


def cmd_compare(args) -> int:
    from reports.compare import compare, format_pairs, regressions
    from reports.load import ResultsError

    try:
        pairs, only_base, only_new = compare([args.base], [args.new], across_gpus=args.across_gpus)
    except ResultsError as e:
        return fail(str(e))
    if not pairs:
        return fail(f"no benchmark appears in both {args.base} and {args.new}")
    print(format_pairs(pairs))
    counts = {v: sum(p.verdict == v for p in pairs) for v in ("faster", "slower", "within noise")}
    print(f"\n{len(pairs)} pairs: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    for label, names in (("only in base", only_base), ("only in new", only_new)):
        if names:
            print(f"{len(names)} {label}: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}")
    if args.fail_above is not None:
        bad = regressions(pairs, args.fail_above)
        if bad:
            print(f"FAIL: {len(bad)} benchmark(s) slower beyond noise by more than {args.fail_above}%")
            return 1
    return 0


def cmd_history(args) -> int:
    from reports import history, history_page

    if len(args.runs) < 2:
        return fail("history: give at least two runs (run folders, results.json or stream files)")
    try:
        runs, table = history.read_runs(args.runs)
        changed, series = history.find_changes(table, runs)
    except history.HistoryError as e:
        return fail(str(e))
    index = history_page.write(args.output, runs, table, changed, series)
    print(f"{len(runs)} runs, {len(series)} series, {len(changed)} change(s): {args.output / 'changes.csv'}")
    print(f"history: {index.resolve()}")
    regressions = history.regressions_in_force(changed)
    for _, r in regressions.iterrows():
        print(
            f"regression in force: {r['benchmark']} on {r['machine']} {r['device']}: x{r['ratio']:.3f} since "
            f"{r['run']} ({r['commits']}); {r['evidence']}"
        )
    return 1 if args.fail_on_regression and len(regressions) else 0


REPORT_S = 20.0  # what a quick sweep's report takes here; kept free at the end of a budget


def cmd_run(args) -> int:
    from bench.budget import parse_duration
    from bench.shard import assign, parse_shard
    from dnnbench.progress import Progress, choose_mode
    from dnnbench.sweep import follow_benchmarks, left_out_record, study_seconds

    started, epoch = time.monotonic(), time.time()
    try:
        budget_s = parse_duration(args.budget) if args.budget else None
    except ValueError as e:
        return fail(str(e))
    out = args.output or Path("results") / f"run-{time.strftime('%Y%m%d-%H%M%S')}"
    studies = study_names(args.studies) if args.studies else []
    if isinstance(studies, str):
        return fail(studies)
    if args.budget_from is not None and not args.budget_from.exists():
        return fail(f"--budget-from {args.budget_from}: no such file or folder")
    if args.balance_from is not None and not args.balance_from.exists():
        return fail(f"--balance-from {args.balance_from}: no such file or folder")
    try:
        shard = parse_shard(args.shard) if args.shard else None
    except ValueError as e:
        return fail(str(e))
    if args.workers is not None and args.workers != "auto" and not args.workers.isdigit():
        return fail(f"--workers {args.workers!r}: expected a number of workers or auto")
    if args.workers is not None and args.device != "cuda" and not args.allow_shared_cores:
        return fail(
            "--workers times one worker per GPU: give --device cuda (CPU workers would share the cores; "
            "--allow-shared-cores runs them anyway, not as performance figures)"
        )
    out.mkdir(parents=True, exist_ok=True)
    results, stream, log = out / "results.json", out / "results.stream.jsonl", out / "pytest.log"
    progress_file = out / "progress.jsonl"
    for old in [progress_file, *out.glob("results*.stream*.jsonl"), *out.glob("results*.json")]:
        old.unlink(missing_ok=True)  # the folder's results are this run's (one file per xdist worker with --workers)
    progress = Progress(choose_mode(args.quiet, sys.stdout))
    import torch

    on_cuda = torch.cuda.is_available() and "cuda" in (args.device or "cuda")
    device, full = ("cuda" if on_cuda else "cpu"), args.profile == "full"
    history = args.budget_from or args.balance_from
    expected_studies = {n: study_seconds(n, full, device, history) for n in studies}
    if shard is not None:  # the studies are shared out like the benchmarks, whole studies by their expected seconds
        of = assign(expected_studies, shard[1])
        expected_studies = {n: s for n, s in expected_studies.items() if of[n] == shard[0]}
        studies = [n for n in studies if n in expected_studies]
    cmd = [sys.executable, "-m", "pytest", "bench", "--benchmark-only", "-rs", "--profile", args.profile]
    cmd += ["--benchmark-json", str(results), "--stream", str(stream), "--progress", str(progress_file)]
    if budget_s is not None:
        # the benchmarks get what the studies and the report leave, and at least half of the budget
        reserve = min(sum(expected_studies.values()) + REPORT_S, budget_s / 2)
        cmd += ["--budget", f"{budget_s:g}s", "--budget-reserve", f"{reserve:.1f}s"]
    for flag, value in (
        ("--benchmark-max-time", args.max_time),
        ("--budget-from", args.budget_from),
        ("--balance-from", args.balance_from),
        ("--shard", args.shard),
        ("--device", args.device),
        ("--dtypes", args.dtypes),
        ("--batch-sizes", args.batch_sizes),
        ("-k", args.select),
        ("--seed", args.seed),
        ("--timer", args.timer),
        ("--cache", args.cache),
        ("--energy-window", args.energy_window),
        ("-n", args.workers),
    ):
        if value is not None:
            cmd += [flag, str(value)]
    if args.allow_shared_cores:
        cmd.append("--allow-shared-cores")
    if not args.quiet:
        print("$ " + shlex.join(cmd) + f"  > {log}", flush=True)
    try:
        with log.open("w") as sink:
            rc, counts = follow_benchmarks(cmd, sink, progress_file, progress, {"DNNBENCH_RUN_STARTED": repr(epoch)})
    except KeyboardInterrupt:  # the benchmark run was stopped: report what finished
        rc, counts, studies = 130, {"interrupted": 1}, []
    progress.end()
    if rc == 5 and shard is not None:
        rc = 0  # pytest's "no tests ran": this shard's part of the selection has no benchmark (studies only, or none)
    if not args.quiet:
        print("benchmarks: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + f" (pytest output: {log})")
    # the stream (one per xdist worker with --workers) has every finished benchmark, even of a killed run
    sources = [p for p in sorted(out.glob("results*.stream*.jsonl")) if p.stat().st_size]
    sources = sources or sorted(out.glob("results*.json"))
    if not sources:
        return fail(f"the benchmark run wrote no results (pytest exit status {rc}; see {log})")
    run = []
    for name in studies:
        elapsed = time.monotonic() - started
        if budget_s is not None and elapsed + expected_studies[name] + REPORT_S > budget_s:
            left_out_record(sources[0], "study", name, f"left out by the budget of {budget_s:g} s: the run reached it")
        else:
            run.append(name)
    study_files, failed = run_studies(run, full, device, out, progress, {n: expected_studies[n] for n in run})
    if args.no_report:  # a shard of a sweep: its results are merged into one report later (dnnbench report)
        print(f"results: {', '.join(map(str, [*sources, *study_files]))}")
        return rc or (1 if failed else 0)
    index = report(args, [*sources, *study_files], out / "report", progress)
    if index is None:
        return 2
    print(f"results: {', '.join(map(str, sources))}\nreport: {index.resolve()}")
    if budget_s is not None and not args.quiet:
        print(f"budget {budget_s:g} s, used {time.monotonic() - started:.0f} s")
    return rc or (1 if failed else 0)


def report(args, paths, out: Path, progress) -> Path | None:
    """Build the report with a progress line per section; None (the error printed) for unusable results."""
    from reports.build import SECTIONS, build_report
    from reports.load import ResultsError

    progress.phase("report", {**{b.__name__: 1.0 for b in SECTIONS}, "figures": 1.0})
    try:
        index = build_report(paths, out, args.baseline, on_section=progress.start, section_done=progress.done)
    except ResultsError as e:
        progress.end()
        fail(str(e))
        return None
    progress.end()
    return index


def cmd_submit(args) -> int:
    from dnnbench.progress import Progress, choose_mode
    from dnnbench.submit import SubmitOptions, check, submit

    run_args = args.run_args[1:] if args.run_args[:1] == ["--"] else args.run_args
    build_parser().parse_args(["run", *run_args])  # a bad run option: its one-line error before any job is submitted
    opts = SubmitOptions(
        executor=args.executor,
        shards=args.shards,
        out=args.output,
        run_args=run_args,
        retries=args.retries,
        time_min=args.time,
        partition=args.partition,
        gpus_per_task=args.gpus_per_task,
        cpus_per_task=args.cpus_per_task,
        mem_gb=args.mem_gb,
        max_parallel=args.max_parallel,
        wait=not args.no_wait,
    )
    try:
        check(opts)
        outcome = submit(opts)
    except ValueError as e:  # an option that cannot work, or the scheduler's refusal (SubmitRefused)
        return fail(str(e))
    if not opts.wait:
        print(f"jobs: {opts.out / 'jobs.json'}")
        print(f"when they have finished: dnnbench report {opts.out} -o {opts.out / 'report'}")
        return 0
    for shard, m in sorted(outcome.missing.items()):
        print(f"shard {shard}/{opts.shards} missing: {m['reason']}; log: {m['log']}", file=sys.stderr)
    if not outcome.done:
        return fail(f"no shard gave results; the jobs' logs: {opts.out / 'jobs.json'}")
    index = report(args, [opts.out], opts.out / "report", Progress(choose_mode(args.quiet, sys.stdout)))
    if index is None:
        return 2
    print(f"results: {opts.out}\nreport: {index.resolve()}")
    return 1 if outcome.missing else 0


def cmd_calibrate(args) -> int:
    import torch

    from bench.calibration import ceiling_call, ceiling_cases
    from bench.machine import set_precision_defaults
    from bench.plugin import RunOptions, available_devices
    from bench.rounds import median
    from bench.timers import default_timer, make_timer

    devices = tuple(args.device.split(",")) if args.device else available_devices()
    for d in devices:
        if d not in available_devices():
            return fail(f"--device {d}: not available on this machine (available: {', '.join(available_devices())})")
    set_precision_defaults()
    options = RunOptions(devices, tuple(args.dtypes.split(",")) if args.dtypes else None, None, "quick", 0, None)
    print(f"{'device':<6} {'ceiling':<8} {'dtype':<6} {'measured':>18}")
    for c in ceiling_cases(options):
        torch.backends.cuda.matmul.allow_tf32 = c.precision == "tf32"
        call, work, unit = ceiling_call(c)
        for _ in range(3):
            call()
        times = make_timer(default_timer("ceiling", c.device), call, c.device).samples(1, args.repeats)
        value = f"{work / median(times) / 1e9:,.1f} " + ("GB/s" if unit == "bytes" else "GFLOP/s")
        print(f"{c.device:<6} {c.kind:<8} {c.precision:<6} {value:>18}", flush=True)
    set_precision_defaults()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="dnnbench", description="dnnbench: op ladders and lessons, timed and checked")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    p = sub.add_parser("list", help="ops with their variants")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="run the benchmarks, then write the report")
    p.add_argument("--device", help="cpu, cuda or cpu,cuda (default: all available)")
    p.add_argument("--dtypes", help="comma-separated: fp32,fp16,bf16")
    p.add_argument("--batch-sizes", help="comma-separated batch sizes")
    p.add_argument("--profile", choices=("quick", "full"), default="quick")
    p.add_argument("-k", dest="select", help="pytest -k expression, e.g. 'softmax and forward'")
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--timer",
        choices=("wall", "cuda_events", "cuda_graph", "kernel"),
        help="what times the rounds (default: cuda_events for ops on CUDA, else wall; README: How the suite times)",
    )
    p.add_argument(
        "--cache", choices=("warm", "cold"), help="cold: flush before every timed call (default: cold for ops on CUDA)"
    )
    p.add_argument("--energy-window", type=float, help="seconds of calls whose energy a CUDA row reports (0: none)")
    p.add_argument(
        "--max-time",
        type=float,
        help="seconds of timed rounds per benchmark (default: the profile's, quick 0.1, full 0.5)",
    )
    p.add_argument("--baseline", default="eager")
    p.add_argument("--studies", help="also run these studies (comma-separated names, or all) into the run's report")
    p.add_argument(
        "--budget",
        help="time budget of the whole run (300, 10m, 1h30m): most informative benchmarks first, the rest left out "
        "and listed in the report",
    )
    p.add_argument(
        "--budget-from", type=Path, help="an earlier run's folder or stream: its wall seconds plan the budget and ETA"
    )
    p.add_argument(
        "--shard", help="I/N: run the I-th of N disjoint parts of the benchmarks and studies (balanced by seconds)"
    )
    p.add_argument("--balance-from", type=Path, help="an earlier run's folder or stream: its seconds balance shards")
    p.add_argument(
        "--workers",
        help="N or auto: pytest-xdist workers, one per GPU, each pinned to its own (with --device cuda; "
        "auto: every visible GPU)",
    )
    p.add_argument(
        "--allow-shared-cores",
        action="store_true",
        help="with --workers on the CPU: run anyway (checks the pipeline; the timings are not performance figures)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--no-report", action="store_true", help="results only (a shard's; merge with dnnbench report)")
    p.add_argument("-o", "--output", type=Path, help="output folder (default: results/run-<time>)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "submit",
        help="run a sweep as N shards, each a batch job (submitit: Slurm, or local processes), then one report",
        description="dnnbench submit [options] -- <dnnbench run options>: each shard runs `dnnbench run <run "
        "options> --shard I/N` as a job; failed shards are retried; the merged report goes to OUT/report.",
    )
    p.add_argument("--executor", choices=("slurm", "local"), required=True)
    p.add_argument("--shards", type=int, required=True, help="N: how many jobs share the sweep")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder of the shards, job logs and report")
    p.add_argument("--retries", type=int, default=1, help="submit a failed or killed shard again, up to this often")
    p.add_argument("--time", type=int, default=60, metavar="MIN", help="each job's time limit in minutes")
    p.add_argument("--partition", help="Slurm partition")
    p.add_argument("--gpus-per-task", type=int, default=0, help="GPUs per shard (Slurm --gpus-per-task)")
    p.add_argument("--cpus-per-task", type=int, help="CPU cores per shard (Slurm --cpus-per-task)")
    p.add_argument("--mem-gb", type=float, help="memory per shard in GB (Slurm --mem)")
    p.add_argument(
        "--max-parallel",
        type=int,
        help="shards running at once (Slurm: the array's %%limit; local: default one at a time, or one per GPU set)",
    )
    p.add_argument("--no-wait", action="store_true", help="Slurm: print the job ids and return")
    p.add_argument("--baseline", default="eager", help="the variant speedups are measured against")
    p.add_argument("--quiet", action="store_true", help="no progress display while the report is built")
    p.add_argument("run_args", nargs=argparse.REMAINDER, help="-- then the dnnbench run options of every shard")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("report", help="write the report of benchmark results")
    p.add_argument("results", nargs="+", type=Path, help="pytest-benchmark JSON files or dnnbench .jsonl streams")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument("--baseline", default="eager", help="the variant speedups are measured against")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="compare two runs, benchmark by benchmark")
    p.add_argument("base", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument(
        "--fail-above",
        type=float,
        metavar="PCT",
        help="exit 1 when a benchmark is slower beyond noise by more than PCT percent",
    )
    p.add_argument(
        "--across-gpus", action="store_true", help="compare even when the two runs used different GPU models"
    )
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("history", help="many runs over time: each benchmark's changes, the run where each began")
    p.add_argument("runs", nargs="+", type=Path, help="run folders, results.json, streams or pytest-benchmark JSON")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument(
        "--fail-on-regression", action="store_true", help="exit 1 when a regression is in force at the latest run"
    )
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("calibrate", help="measure this machine's copy bandwidth and matmul throughput")
    p.add_argument("--device", help="cpu, cuda or cpu,cuda (default: all available)")
    p.add_argument("--dtypes", help="matmul dtypes, comma-separated (default: fp32 on cpu; fp32, fp16, bf16 on cuda)")
    p.add_argument("--repeats", type=int, default=10)
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser(
        "judge", help="put your own kernel file through the suite's checks (README: Judge your own kernel)"
    )
    p.add_argument("path", nargs="?", type=Path, help="a .py file declaring variants with kernels.registry.variant")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--full", action="store_true", help="every case of the op's spec (default: a quick sample)")
    p.add_argument("--json", type=Path, help="write the verdicts as JSON here")
    p.add_argument("-o", "--output", type=Path, help="write the verdict page (report.md, index.html) into this folder")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds one call of the candidate may take")
    p.add_argument(
        "--max-time", type=float, default=0.2, help="seconds of timed rounds per variant and shape, once accepted"
    )
    p.add_argument("--template", metavar="OP", help="print a starting file for a variant of OP, then exit")
    p.set_defaults(func=cmd_judge)

    p = sub.add_parser("study", help="run a trade-off study over the lessons (seeds, long-format rows)")
    p.add_argument("name", help="a study's name (dnnbench list shows them), comma-separated names, or all")
    p.add_argument("--full", action="store_true", help="the lab's own epochs, more seeds, lessons and batch sizes")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where it runs (the device study: both)")
    p.add_argument("-o", "--output", type=Path, default=Path("results"), help="folder of study-NAME.jsonl")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=cmd_study)
    return parser


def study_names(name: str) -> list[str] | str:
    """The studies `name` selects (a name, comma-separated names, or all), or the error message."""
    from dnnbench.studies import declared

    known = list(declared())
    names = known if name == "all" else [n.strip() for n in name.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        return f"study: unknown study {(unknown or [name])[0]!r}; studies: {', '.join(known)}, all"
    return names


def run_studies(
    names: list[str], full: bool, device: str, out: Path, progress=None, expected: dict[str, float] | None = None
) -> tuple[list[Path], list[str]]:
    """Run each study, write out/study-NAME.jsonl (its header carries the study's wall seconds, which later budgets
    plan from) and print its summary and conclusion. A study that fails is reported and the others still run:
    returns the files written and the names that failed."""
    import json
    import traceback

    import pandas as pd

    from dnnbench import studies
    from dnnbench.progress import Progress
    from reports.study_analysis import outcome

    progress = progress or Progress("none")
    written, failed = [], []
    if names:
        progress.phase("studies", expected or dict.fromkeys(names, 1.0))
    for name in names:
        progress.start(name)
        started = time.monotonic()
        try:
            header, rows = studies.run(name, full, device)
            summary, text = outcome(header, pd.DataFrame(rows))
        except Exception:  # one study's failure must not lose the others' results
            print(f"dnnbench: study {name} failed:\n{traceback.format_exc()}", file=sys.stderr)
            failed.append(name)
            progress.done(name)
            continue
        header = {**header, "wall_s": time.monotonic() - started}
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"study-{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in [{"header": header}, *rows]))
        print(f"{name}: {header['question']}")
        print(summary.to_string(index=False))
        print(text)
        print(f"rows: {path}", flush=True)
        written.append(path)
        progress.done(name)
    progress.end()
    return written, failed


def cmd_judge(args) -> int:
    from dnnbench import judge, judge_page

    if args.template:
        try:
            print(judge.template(args.template), end="")
        except KeyError as e:
            return fail(str(e).strip("'\""))
        return 0
    if args.path is None:
        return fail("judge: give a file to judge, or --template OP")
    try:
        verdicts = judge.judge(args.path, args.device, args.full, args.timeout, args.max_time)
    except judge.Unusable as e:
        return fail(f"judge: {e}")
    judge.print_verdicts(verdicts)
    if args.json:
        judge.write_json(verdicts, args.json)
    if args.output:
        print(f"verdict page: {judge_page.write_page(verdicts, args.path, args.output)}")
    rejected = any(v.verdict == "rejected" for v in verdicts)
    return judge.EXIT_REJECTED if rejected else judge.EXIT_ACCEPTED


def cmd_study(args) -> int:
    import torch

    from dnnbench.progress import Progress, choose_mode
    from dnnbench.sweep import study_seconds

    names = study_names(args.name)
    if isinstance(names, str):
        return fail(names)
    if args.device == "cuda" and not torch.cuda.is_available():
        return fail("study: --device cuda was asked for, but no CUDA device is available")
    expected = {n: study_seconds(n, args.full, args.device, None) for n in names}
    progress = Progress(choose_mode(args.quiet, sys.stdout))
    _, failed = run_studies(names, args.full, args.device, args.output, progress, expected)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
