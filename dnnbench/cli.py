"""The `dnnbench` command.

    dnnbench list                              ops with their variants (ladder order, baseline marked)
    dnnbench run [--device ...] [-o DIR]       run the benchmarks (pytest-benchmark), then write the report
    dnnbench report RESULTS... -o DIR          report of results from any runs, machines and devices
    dnnbench compare BASE NEW [--fail-above P] the change per benchmark between two runs, noise taken into account
    dnnbench calibrate [--device ...]          measure this machine's ceilings (copy GB/s, matmul GFLOP/s)
    dnnbench study NAME|all [--full]           trade-off studies over the lessons (models/studies.py: training
                                               dynamics; bench/systems.py: the same work executed differently);
                                               each writes study-NAME.jsonl, a header line and its rows

Bad arguments and unusable files get one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import subprocess
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
            mark = "  [baseline]" if v.baseline else ""
            where = ", ".join(v.devices) + (" (cpu: Triton interpreter, not timed)" if v.interpreted_on_cpu else "")
            print(f"  {v.rung}  {v.name:<15} {v.doc}{mark}\n     {'':<15} devices: {where}")
    from models import LESSONS

    print("\nlessons  (models.LESSONS; run(setting, backend=eager|compiled|triton, device, dtype, seed))")
    for lesson in LESSONS.values():
        settings = f"  settings: {', '.join(lesson.settings)}" if lesson.settings else ""
        print(f"  {lesson.id:<4} {lesson.title} - {lesson.summary}{settings}")
    from dnnbench.studies import declared

    print("\nstudies  (dnnbench study NAME [--full])")
    for study in declared().values():
        print(f"  {study.name:<15} {study.question}")
    return 0


def cmd_report(args) -> int:
    from reports.build import build_report
    from reports.load import ResultsError

    try:
        index = build_report(args.results, args.output, args.baseline)
    except ResultsError as e:
        return fail(str(e))
    print(f"report: {index}")
    return 0


def cmd_compare(args) -> int:
    from reports.compare import compare, format_pairs, regressions
    from reports.load import ResultsError

    try:
        pairs, only_base, only_new = compare([args.base], [args.new])
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


def cmd_run(args) -> int:
    from reports.build import build_report
    from reports.load import ResultsError

    out = args.output or Path("results") / f"run-{time.strftime('%Y%m%d-%H%M%S')}"
    studies = study_names(args.studies) if args.studies else []
    if isinstance(studies, str):
        return fail(studies)
    out.mkdir(parents=True, exist_ok=True)
    results, stream = out / "results.json", out / "results.stream.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "bench",
        "--benchmark-only",
        "-rs",
        "--profile",
        args.profile,
        "--benchmark-max-time",
        str(args.max_time),
        "--benchmark-json",
        str(results),
        "--stream",
        str(stream),
    ]
    for flag, value in (
        ("--device", args.device),
        ("--dtypes", args.dtypes),
        ("--batch-sizes", args.batch_sizes),
        ("-k", args.select),
        ("--seed", args.seed),
    ):
        if value is not None:
            cmd += [flag, str(value)]
    print("$ " + " ".join(cmd), flush=True)
    rc = subprocess.run(cmd).returncode
    # A run that failed or was cut short still has its stream: report what finished.
    source = results if results.exists() and results.stat().st_size else stream
    if not source.exists():
        return fail(f"the benchmark run wrote no results (pytest exit status {rc})")
    import torch

    on_cuda = torch.cuda.is_available() and "cuda" in (args.device or "cuda")
    study_files, failed = run_studies(studies, args.profile == "full", "cuda" if on_cuda else "cpu", out)
    try:
        index = build_report([source, *study_files], out / "report", args.baseline)
    except ResultsError as e:
        return fail(str(e))
    print(f"results: {source}\nreport: {index.resolve()}")
    return rc or (1 if failed else 0)


def cmd_calibrate(args) -> int:
    import torch

    from bench.calibration import ceiling_call, ceiling_cases
    from bench.machine import set_precision_defaults
    from bench.plugin import RunOptions, available_devices
    from bench.timers import synced_perf_counter

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
        times = []
        for _ in range(args.repeats):
            start = synced_perf_counter()
            call()
            times.append(synced_perf_counter() - start)
        median = sorted(times)[len(times) // 2]
        value = f"{work / median / 1e9:,.1f} " + ("GB/s" if unit == "bytes" else "GFLOP/s")
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
    p.add_argument("--max-time", type=float, default=0.5, help="seconds of timing per benchmark (default 0.5)")
    p.add_argument("--baseline", default="eager")
    p.add_argument("--studies", help="also run these studies (comma-separated names, or all) into the run's report")
    p.add_argument("-o", "--output", type=Path, help="output folder (default: results/run-<time>)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="write the report of benchmark results")
    p.add_argument("results", nargs="+", type=Path, help="pytest-benchmark JSON files or dnnbench .jsonl streams")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument("--baseline", default="eager", help="the variant speedups are measured against")
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
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("calibrate", help="measure this machine's copy bandwidth and matmul throughput")
    p.add_argument("--device", help="cpu, cuda or cpu,cuda (default: all available)")
    p.add_argument("--dtypes", help="matmul dtypes, comma-separated (default: fp32 on cpu; fp32, fp16, bf16 on cuda)")
    p.add_argument("--repeats", type=int, default=10)
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("study", help="run a trade-off study over the lessons (seeds, long-format rows)")
    p.add_argument("name", help="a study's name (dnnbench list shows them), comma-separated names, or all")
    p.add_argument("--full", action="store_true", help="the lab's own epochs, more seeds, lessons and batch sizes")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where it runs (the device study: both)")
    p.add_argument("-o", "--output", type=Path, default=Path("results"), help="folder of study-NAME.jsonl")
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


def run_studies(names: list[str], full: bool, device: str, out: Path) -> tuple[list[Path], list[str]]:
    """Run each study, write out/study-NAME.jsonl and print its summary and conclusion. A study that fails is
    reported and the others still run: returns the files written and the names that failed."""
    import json
    import traceback

    import pandas as pd

    from dnnbench import studies
    from reports.study_analysis import outcome

    written, failed = [], []
    for name in names:
        try:
            header, rows = studies.run(name, full, device)
            summary, text = outcome(header, pd.DataFrame(rows))
        except Exception:  # one study's failure must not lose the others' results
            print(f"dnnbench: study {name} failed:\n{traceback.format_exc()}", file=sys.stderr)
            failed.append(name)
            continue
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"study-{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in [{"header": header}, *rows]))
        print(f"{name}: {header['question']}")
        print(summary.to_string(index=False))
        print(text)
        print(f"rows: {path}", flush=True)
        written.append(path)
    return written, failed


def cmd_study(args) -> int:
    import torch

    names = study_names(args.name)
    if isinstance(names, str):
        return fail(names)
    if args.device == "cuda" and not torch.cuda.is_available():
        return fail("study: --device cuda was asked for, but no CUDA device is available")
    _, failed = run_studies(names, args.full, args.device, args.output)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
