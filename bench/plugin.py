"""The dnnbench pytest plugin (loaded for every run by `-p bench.plugin` in pyproject.toml).

Options shared by tests and benchmarks:
  --device cpu,cuda      devices to run on (default: every one available)
  --dtypes fp32,bf16     dtypes (default: each op's own list; benchmarks on the CPU: fp32)
  --batch-sizes 1,1024   batch sizes of the benchmark shapes (default: the profile's)
  --profile quick|full   benchmark sweep size
  --seed N               seed of the random inputs (default: a new one each run, printed in the header)
  --stream PATH          JSON-lines file that receives each finished benchmark at once
  --timer NAME           wall, cuda_events, cuda_graph or kernel (default: events for ops on CUDA, else wall;
                         bench/timers.py)
  --cache warm|cold      cold flushes the cache before every timed call (default: cold for ops on CUDA, else warm;
                         bench/cache.py)
  --energy-window S      seconds of back-to-back calls whose energy a CUDA row reports (0: none)
  --target-rse F         rounds stop once the median's relative standard error is below F (default 0.01; 0: they
                         go on until the benchmark's time is up)
  --budget 10m           plan the benchmarks to fit this time (bench/budget.py): most informative first, the rest
                         left out, the run stopped on time
  --budget-from PATH     an earlier run's stream (or its folder) whose wall seconds the plan uses
  --budget-reserve 40s   of the budget, what is kept for the studies and the report after the benchmarks
  --progress PATH        JSON-lines file of the plan and of each benchmark's start and end (read by dnnbench run)
  --shard I/N            run the I-th of N disjoint parts of the selection, balanced by expected seconds
                         (bench/shard.py); every shard must be given the same selection and options
  --balance-from PATH    an earlier run's stream (or its folder) whose wall seconds balance the shards
  -n N / -n auto         (pytest-xdist) with --device cuda: one worker per GPU, each pinned to its own device and
                         writing its own stream and JSON (bench/gpus.py); refused on the CPU
  --allow-shared-cores   time with -n on the CPU anyway: checks the pipeline, the timings are not performance figures
It also stores the machine's software and hardware in pytest-benchmark's machine_info, sets TF32 explicitly, and
appends every finished benchmark to the run's stream file, so a killed run keeps what it finished. The stream also
gets every benchmark that was skipped, failed or left out by the budget, with its reason, and each benchmark's wall
seconds (`wall_s`, from setup to the end of its call): the report says what a run covers from it, and a later
budget plans from it.
"""

from __future__ import annotations

import datetime
import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import kernels  # noqa: F401  (chooses the Triton interpreter before triton is imported)
from bench import budget
from bench.cache import check_cache
from bench.calibration import Ceiling
from bench.clocks import ENERGY_WINDOW_S
from bench.gpus import pin_workers, process_gpus, worker_path
from bench.harness import BenchCase
from bench.lessons import LabCase, LessonCase
from bench.machine import machine_info as dnnbench_machine_info
from bench.machine import set_precision_defaults
from bench.profiles import PROFILES, profile
from bench.rounds import TARGET_RSE
from bench.shard import assign, parse_shard
from bench.timers import TIMERS, check_timer
from reports.schema import budget_text


@dataclass
class RunOptions:
    devices: tuple[str, ...]
    dtypes: tuple[str, ...] | None  # None: each op's default
    batch_sizes: tuple[int, ...] | None  # None: the profile's
    profile: str
    seed: int
    stream: Path | None
    timer: str | None = None  # None: each kind's default on each device (bench/measure.py)
    cache: str | None = None
    energy_window: float = ENERGY_WINDOW_S
    max_time: float = 0.1  # seconds of rounds per benchmark: the profile's, or --benchmark-max-time
    target_rse: float = TARGET_RSE  # rounds stop once the median's relative standard error is below this


def _split(value: str | None) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()] if value else []


def available_devices() -> tuple[str, ...]:
    import torch

    return ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)


def parse_options(config) -> RunOptions:
    import torch

    from kernels.dtypes import DTYPES

    devices = tuple(_split(config.getoption("dnnbench_device"))) or available_devices()
    for d in devices:
        if d not in ("cpu", "cuda"):
            raise pytest.UsageError(f"--device: unknown device {d!r}; use cpu, cuda or both (cpu,cuda)")
        if d == "cuda" and not torch.cuda.is_available():
            raise pytest.UsageError("--device cuda: no CUDA device is available on this machine")
    dtypes = tuple(_split(config.getoption("dnnbench_dtypes"))) or None
    for d in dtypes or ():
        if d not in DTYPES and d != "tf32":
            raise pytest.UsageError(f"--dtypes: unknown dtype {d!r}; known: {', '.join(DTYPES)}, tf32")
    try:
        batches = tuple(int(b) for b in _split(config.getoption("dnnbench_batch_sizes"))) or None
    except ValueError as e:
        raise pytest.UsageError(f"--batch-sizes: expected comma-separated integers ({e})") from None
    if batches and min(batches) < 1:
        raise pytest.UsageError("--batch-sizes: batch sizes must be at least 1")
    seed = config.getoption("dnnbench_seed")
    if seed is None:  # an xdist worker takes its controller's seed: one run, one seed
        seed = getattr(config, "workerinput", {}).get("dnnbench_seed")
    if seed is None:
        seed = random.SystemRandom().randrange(1 << 31)
    stream = config.getoption("dnnbench_stream")
    if stream is None:
        json_path = config.getoption("benchmark_json", None)
        # beside the JSON: pytest-benchmark gives a Path (older releases an open file, whose .name is its path;
        # a Path's .name is only the file name, which would put the stream in the working directory)
        if json_path is not None and not isinstance(json_path, (str, os.PathLike)):
            json_path = getattr(json_path, "name", None)
        if json_path:
            stream = str(Path(json_path).with_suffix(".stream.jsonl"))
        else:
            stream = f"results/stream-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    try:
        timer = check_timer(config.getoption("dnnbench_timer")) if config.getoption("dnnbench_timer") else None
        cache = check_cache(config.getoption("dnnbench_cache")) if config.getoption("dnnbench_cache") else None
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None
    window, target = config.getoption("dnnbench_energy_window"), config.getoption("dnnbench_target_rse")
    if window < 0:
        raise pytest.UsageError("--energy-window: seconds, 0 or more")
    if target < 0:
        raise pytest.UsageError("--target-rse: a fraction, 0 or more (0: rounds until the time is up)")
    profile_name = config.getoption("dnnbench_profile")
    return RunOptions(
        devices, dtypes, batches, profile_name, seed, Path(stream), timer, cache, window, target_rse=target
    )


def pytest_addoption(parser):
    group = parser.getgroup("dnnbench")
    group.addoption(
        "--device", dest="dnnbench_device", default=None, help="cpu, cuda or cpu,cuda (default: all available)"
    )
    group.addoption("--dtypes", dest="dnnbench_dtypes", default=None, help="comma-separated: fp32,tf32,fp16,bf16")
    group.addoption("--batch-sizes", dest="dnnbench_batch_sizes", default=None, help="comma-separated batch sizes")
    group.addoption("--profile", dest="dnnbench_profile", default="quick", choices=tuple(PROFILES), help="sweep size")
    group.addoption("--seed", dest="dnnbench_seed", type=int, default=None, help="seed of the random inputs")
    group.addoption("--stream", dest="dnnbench_stream", default=None, help="JSON-lines file of finished benchmarks")
    group.addoption("--timer", dest="dnnbench_timer", default=None, help=f"{', '.join(TIMERS)} (default: per device)")
    group.addoption("--cache", dest="dnnbench_cache", default=None, help="warm or cold (default: per device and kind)")
    group.addoption(
        "--energy-window",
        dest="dnnbench_energy_window",
        type=float,
        default=ENERGY_WINDOW_S,
        help="seconds of back-to-back calls whose energy a CUDA row reports (0: none)",
    )
    group.addoption(
        "--target-rse",
        dest="dnnbench_target_rse",
        type=float,
        default=TARGET_RSE,
        help="rounds stop once the median's relative standard error is below this (0: when the time is up)",
    )
    group.addoption(
        "--budget", dest="dnnbench_budget", default=None, help="time budget of the benchmarks: 300, 10m, 1h"
    )
    group.addoption(
        "--budget-from", dest="dnnbench_budget_from", default=None, help="earlier run's stream (or folder) to plan from"
    )
    group.addoption(
        "--budget-reserve",
        dest="dnnbench_budget_reserve",
        default=None,
        help="of the budget, the seconds kept for what runs after the benchmarks (dnnbench run: studies, report)",
    )
    group.addoption("--progress", dest="dnnbench_progress", default=None, help="JSON-lines file of progress events")
    group.addoption(
        "--shard", dest="dnnbench_shard", default=None, help="I/N: run the I-th of N disjoint parts (bench/shard.py)"
    )
    group.addoption(
        "--balance-from",
        dest="dnnbench_balance_from",
        default=None,
        help="earlier run's stream (or folder) whose wall seconds balance the shards",
    )
    group.addoption(
        "--allow-shared-cores",
        dest="dnnbench_allow_shared_cores",
        action="store_true",
        help="time benchmarks with -n on the CPU (workers share its cores: not performance figures)",
    )


def _given(config, flag: str) -> bool:
    """Whether `flag` was set on the command line, in PYTEST_ADDOPTS or in the ini file's addopts."""
    args = [*config.invocation_params.args, *os.environ.get("PYTEST_ADDOPTS", "").split(), *config.getini("addopts")]
    return any(a == flag or a.startswith(flag + "=") for a in map(str, args))


def timed(config) -> bool:
    """Whether this run times its benchmarks (pytest-benchmark's --benchmark-only or --benchmark-enable)."""
    return bool(config.getoption("benchmark_only", False) or config.getoption("benchmark_enable", False))


def worker_id(config) -> str | None:
    """This process's pytest-xdist worker id (gw0, ...), or None in the controller and in a run without -n."""
    return getattr(config, "workerinput", {}).get("workerid")


def parallel(config) -> bool:
    """Whether this process belongs to a pytest-xdist run: its controller (-n N) or one of its workers."""
    return worker_id(config) is not None or config.getoption("dist", "no") != "no"


def check_parallel_timing(config) -> None:
    """Timed benchmarks with -n: one worker per GPU, never more workers than GPUs, no CPU rows (unless allowed),
    no budget (its plan depends on each process's clock, and every worker must collect the same items)."""
    o = config.dnnbench
    if "cpu" in o.devices and not config.getoption("dnnbench_allow_shared_cores"):
        raise pytest.UsageError(
            "-n with CPU benchmarks: parallel workers share the CPU's cores, so their timings are not performance "
            "figures; time the CPU without -n, use --device cuda for one worker per GPU, or pass "
            "--allow-shared-cores to check the pipeline anyway"
        )
    if config.getoption("dnnbench_budget"):
        raise pytest.UsageError("--budget with -n: a budget plans one process's clock; use --shard I/N per machine")
    n = config.getoption("numprocesses", None)
    if "cuda" in o.devices and worker_id(config) is None and isinstance(n, int) and n > 0:
        try:
            pin_workers(n, process_gpus())
        except ValueError as e:
            raise pytest.UsageError(str(e)) from None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.dnnbench = parse_options(config)
    set_precision_defaults()
    if parallel(config) and timed(config):
        check_parallel_timing(config)
        # pytest-benchmark turns timing off under xdist (the workers of a CPU share its cores). Here each worker has
        # a GPU of its own: its --benchmark-only overrides a --benchmark-skip, and a skip keeps it from turning timing
        # off (only with --benchmark-only: a skip would skip them otherwise). pytest_sessionstart checks that timing
        # stayed on.
        if config.getoption("benchmark_only", False):
            config.option.benchmark_skip = True
    wid = worker_id(config)
    if wid is not None:  # each worker its own stream and JSON: results.stream.gw0.jsonl, results.gw0.json
        o = config.dnnbench
        o.stream = worker_path(o.stream, wid) if o.stream else None
        if config.getoption("benchmark_json", None):
            config.option.benchmark_json = worker_path(Path(config.option.benchmark_json), wid)
    # The profile's timing, unless given: pytest-benchmark reads these in its own pytest_configure, which runs last.
    prof = profile(config.dnnbench.profile)
    if not _given(config, "--benchmark-max-time"):
        config.option.benchmark_max_time = str(prof.max_time)  # as its own option parser gives it
    config.dnnbench.max_time = float(config.option.benchmark_max_time)


def pytest_report_header(config):
    o = config.dnnbench
    return (
        f"dnnbench: devices={','.join(o.devices)} dtypes={','.join(o.dtypes) if o.dtypes else 'default'} "
        f"profile={o.profile} seed={o.seed} (rerun with --seed {o.seed}) "
        f"timer={o.timer or 'default'} cache={o.cache or 'default'} "
        f"triton_interpret={os.environ.get('TRITON_INTERPRET', '0')}"
    )


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["dnnbench"] = dnnbench_machine_info()


def pytest_benchmark_update_json(config, benchmarks, output_json):
    o = config.dnnbench
    output_json["dnnbench"] = {
        "profile": o.profile,
        "devices": list(o.devices),
        "seed": o.seed,
        "stream": str(o.stream) if o.stream else None,
        **run_place(config),
    }


def run_place(config) -> dict:
    """Which part of a sweep this process ran: its shard ('2/8', --shard) and its pytest-xdist worker (gw0)."""
    sweep = getattr(config, "dnnbench_sweep", None)
    shard = sweep.shard if sweep is not None else None
    # CPU rows timed beside other timing processes: xdist workers (--allow-shared-cores), or local shards side by
    # side (dnnbench submit --max-parallel, which sets DNNBENCH_SHARED_CORES)
    shared = "cpu" in config.dnnbench.devices and (
        (parallel(config) and timed(config)) or os.environ.get("DNNBENCH_SHARED_CORES") == "1"
    )
    return {"shard": f"{shard[0]}/{shard[1]}" if shard else None, "worker": worker_id(config), "shared_cores": shared}


CASE_TYPES = (Ceiling, BenchCase, LessonCase, LabCase)


def case_of(item):
    """The benchmark case (op, lesson, lab or ceiling) an item is parametrized with, or None for a test."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    return next((v for v in params.values() if isinstance(v, CASE_TYPES)), None)


def case_id(case) -> str:
    return f"ceiling {case.id}" if isinstance(case, Ceiling) else case.id


class Sweep:
    """The benchmark items of this run: their expected seconds, the budget's plan, the progress file, the clock."""

    def __init__(self, config):
        self.config = config
        # the budget's clock starts with the command that started this run (dnnbench run sets DNNBENCH_RUN_STARTED,
        # the epoch seconds of its own start), else with this session
        since = time.time() - float(os.environ.get("DNNBENCH_RUN_STARTED") or time.time())
        self.started = time.monotonic() - max(since, 0.0)
        option = config.getoption
        try:
            self.budget_s = budget.parse_duration(option("dnnbench_budget")) if option("dnnbench_budget") else None
            reserve = option("dnnbench_budget_reserve")
            self.reserve_s = budget.parse_duration(reserve) if reserve else 0.0
            earlier = option("dnnbench_budget_from") or option("dnnbench_balance_from")
            self.history = budget.read_wall_seconds([earlier]) if earlier else {}
            self.shard = parse_shard(option("dnnbench_shard")) if option("dnnbench_shard") else None
        except ValueError as e:
            raise pytest.UsageError(str(e)) from None
        self.max_time = float(config.option.benchmark_max_time)
        self.expected: dict[str, float] = {}
        self.progress = Path(option("dnnbench_progress")) if option("dnnbench_progress") else None
        self.walls: dict[str, float] = {}

    def seconds(self, case) -> float:
        """Expected wall seconds: the earlier run's (--budget-from, --balance-from) where it had the case, else the
        work model's."""
        return self.history[case.id] if case.id in self.history else budget.model_seconds(case, self.max_time)

    def plan(self, items) -> list:
        """Keep this shard's part (--shard), order (and, with a budget, trim) the benchmark items; returns those
        deselected: left out by the budget, or another shard's."""
        cases = {item.nodeid: case_of(item) for item in items}
        benched = [item for item in items if cases[item.nodeid] is not None]
        for item in benched:
            self.expected[item.nodeid] = self.seconds(cases[item.nodeid])
        others = []
        if self.shard is not None:  # before the budget: each shard plans its own part
            mine, n = self.shard
            shard_of = assign({i.nodeid: self.expected[i.nodeid] for i in benched}, n)
            # what is not a benchmark case runs in the first shard only
            ours = [i for i in items if shard_of.get(i.nodeid, 1) == mine]
            others = [i for i in items if shard_of.get(i.nodeid, 1) != mine]
            items[:] = ours
            benched = [i for i in ours if cases[i.nodeid] is not None]
        if not benched:
            return others
        if self.budget_s is None:
            self.write_progress({"plan": [[case_id(cases[i.nodeid]), self.expected[i.nodeid]] for i in benched]})
            return others
        left = self.budget_s - self.reserve_s - (time.monotonic() - self.started)
        chosen, left_out = budget.plan(
            [(i.nodeid, budget.priority(cases[i.nodeid]), self.expected[i.nodeid]) for i in benched], left
        )
        rank = {nodeid: n for n, nodeid in enumerate(chosen)}
        keep = [i for i in items if cases[i.nodeid] is None] + sorted(
            (i for i in benched if i.nodeid in rank), key=lambda i: rank[i.nodeid]
        )
        dropped = [i for i in benched if i.nodeid not in rank]
        items[:] = keep
        for item in dropped:
            self.left_out(item, f"left out by the budget of {budget_text(self.budget_s)}: it did not fit the plan")
        self.write_progress(
            {
                "plan": [[case_id(cases[i.nodeid]), self.expected[i.nodeid]] for i in keep if cases[i.nodeid]],
                "left_out": len(dropped),
                "budget_s": self.budget_s,
            }
        )
        return dropped + others

    def out_of_time(self, item) -> bool:
        """With a budget: would this item carry the run past it? (then it is left out, not run)"""
        if self.budget_s is None or item.nodeid not in self.expected:
            return False
        return time.monotonic() - self.started + self.expected[item.nodeid] > self.budget_s - self.reserve_s

    def left_out(self, item, reason: str) -> None:
        case = case_of(item)
        append_stream(self.config, {"left_out": {"test": item.originalname, "param": case.id, "reason": reason}})

    def write_progress(self, event: dict) -> None:
        if "plan" in event and worker_id(self.config) not in (None, "gw0"):
            return  # every xdist worker collects (and plans) the same items: the first one's plan stands for all
        if self.progress is not None:
            self.progress.parent.mkdir(parents=True, exist_ok=True)
            with self.progress.open("a") as f:
                f.write(json.dumps(event) + "\n")


def pytest_sessionstart(session):
    config = session.config
    bs = getattr(config, "_benchmarksession", None)
    if parallel(config) and timed(config) and bs is not None and bs.disabled:
        raise pytest.UsageError(
            "-n: pytest-benchmark turned timing off under pytest-xdist; time with --benchmark-only (one worker per "
            "GPU), or run without -n (or with --shard I/N and CUDA_VISIBLE_DEVICES per process)"
        )
    if bs is not None and parallel(config) and worker_id(config) is None:
        bs.json = None  # the controller times nothing: its workers write the JSON files
    config.dnnbench_sweep = Sweep(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput["dnnbench_seed"] = node.config.dnnbench.seed


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """-n auto with timed CUDA benchmarks: one worker per visible GPU (otherwise xdist's default, one per core)."""
    if timed(config) and _split(config.getoption("dnnbench_device")) == ["cuda"]:
        return max(len(process_gpus()), 1)
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config, specs):
    """Before the workers start: worker i sees only the i-th visible GPU (CUDA_VISIBLE_DEVICES in its environment,
    set before anything in it initializes CUDA)."""
    if not (timed(config) and "cuda" in config.dnnbench.devices):
        return
    pin_specs(specs, process_gpus())


def pin_specs(specs, gpus: list[str]) -> None:
    """Give each xdist worker spec (execnet.XSpec, in worker order) its own GPU through its environment."""
    for spec, gpu in zip(specs, pin_workers(len(specs), gpus), strict=True):
        spec.env["CUDA_VISIBLE_DEVICES"] = gpu


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected theirs: the plan is of what was selected
def pytest_collection_modifyitems(session, config, items):
    dropped = config.dnnbench_sweep.plan(items)
    if dropped:
        config.hook.pytest_deselected(items=dropped)


_STARTED = pytest.StashKey[float]()
_LEFT_OUT = pytest.StashKey[str]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    case = case_of(item)
    if case is None:
        return
    sweep = item.config.dnnbench_sweep
    item.stash[_STARTED] = time.monotonic()
    if sweep.out_of_time(item):  # the next item may be shorter: it is checked in turn
        item.stash[_LEFT_OUT] = f"left out by the budget of {budget_text(sweep.budget_s)}: the run reached it"
        pytest.skip(item.stash[_LEFT_OUT])
    sweep.write_progress({"start": case_id(case)})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    case = case_of(item)
    if case is None or call.when == "teardown" and not report.failed:
        return
    wall = time.monotonic() - item.stash.get(_STARTED, time.monotonic())
    where = {"test": item.originalname, "param": case.id, "wall_s": wall}
    sweep = item.config.dnnbench_sweep
    if _LEFT_OUT in item.stash:
        sweep.left_out(item, item.stash[_LEFT_OUT])
        outcome_name = "left out"
    elif report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        append_stream(item.config, {"skipped": {**where, "reason": reason.removeprefix("Skipped: ")}})
        outcome_name = "skipped"
    elif report.failed:
        error = str(report.longrepr).strip().splitlines()
        append_stream(item.config, {"failed": {**where, "when": call.when, "error": error[-1] if error else ""}})
        outcome_name = "failed"
    elif call.when == "call":
        fixture = getattr(item, "funcargs", {}).get("benchmark")
        if fixture is not None and getattr(fixture, "stats", None) is not None and not fixture.has_error:
            append_stream(item.config, {**fixture.stats.as_dict(include_data=False), "wall_s": wall})
        outcome_name = "passed"
    else:
        return  # a setup that passed: the call reports
    sweep.write_progress({"done": case_id(case), "outcome": outcome_name})


_machine_line: dict | None = None


def pytest_sessionfinish(session):
    """A shard's stream exists even when its part of the selection had no benchmark (its first line says which shard
    of how many ran here): a merged report can tell a shard without results from one that never ran."""
    config = session.config
    sweep = getattr(config, "dnnbench_sweep", None)
    controller = parallel(config) and worker_id(config) is None
    if sweep is not None and sweep.shard is not None and not controller and not config.option.collectonly:
        append_stream(config, None)


def append_stream(config, entry: dict | None) -> None:
    """Append one record to the run's JSON-lines stream: a finished benchmark (pytest-benchmark's own JSON entry with
    its wall seconds), or a benchmark skipped, failed or left out, with its reason. The first line of a stream holds
    the machine info and the run's profile (what it covers, what only the full profile adds) and budget, its shard and
    worker. None appends nothing but that first line, where the stream has none yet."""
    global _machine_line
    path = config.dnnbench.stream
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        if _machine_line is None:
            from kernels import registry

            o, sweep = config.dnnbench, getattr(config, "dnnbench_sweep", None)
            prof = profile(o.profile)
            _machine_line = {
                "machine_info": {"dnnbench": dnnbench_machine_info()},
                "dnnbench": {
                    "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                    "seed": o.seed,
                    "profile": o.profile,
                    "covers": prof.covers,
                    "leaves_out": prof.leaves_out,
                    "budget_s": sweep.budget_s if sweep else None,
                    "peers": registry.peer_declarations(),
                    **run_place(config),
                },
            }
            f.write(json.dumps(_machine_line) + "\n")
        if entry is not None:
            f.write(json.dumps(entry, default=str) + "\n")
