"""`dnnbench submit`: one sweep as N shards, each shard a batch job through submitit (Slurm's Python launcher), then
one merged report.

    dnnbench submit --executor slurm --shards 8 --partition gpu --gpus-per-task 1 --time 120 -o results/sweep \\
        -- --profile full --device cuda
    dnnbench submit --executor local --shards 3 -o results/sweep -- --device cpu -k softmax

Each shard runs `dnnbench run <run options> --shard I/N --no-report` (bench/shard.py splits the benchmarks and studies
by expected seconds). On Slurm the N shards go out as one job array; `--executor local` runs the same jobs as local
processes (submitit's LocalExecutor: real subprocesses, real job folders), one at a time on the CPU (shards timed
side by side would share its cores) and one per GPU on a GPU machine. A shard whose job fails, is killed or times out
is submitted again, up to --retries times; one that fails every attempt is written to missing-shards.jsonl with its
last log, and the report lists it; the other shards' results are kept.

What lands in -o DIR:
    DIR/shard-I-of-N/          the shard's run folder: results.stream.jsonl, study-*.jsonl, pytest.log
    DIR/jobs/<job id>/         submitit's job folder: the pickled call, the job's stdout and stderr logs
    DIR/jobs.json              each shard's attempts: job id, outcome, log
    DIR/missing-shards.jsonl   the shards that failed every attempt (only when one did)
    DIR/report/                the merged report (the same as `dnnbench report DIR -o DIR/report`)
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from reports.load import MISSING_SHARDS

EXECUTORS = ("slurm", "local")
SIGNAL_DELAY_S = 90  # submitit's: a job is signalled this long before its time limit, and requeued or ended
MIN_RUN_S = 90  # the least a shard needs (pytest's start, torch's import, a few benchmarks)
UNKNOWN_STATE_S = 300.0  # a job neither in the queue nor in accounting this long has ended without a result


@dataclass
class SubmitOptions:
    executor: str  # slurm or local
    shards: int
    out: Path
    run_args: list[str]  # `dnnbench run` options shared by every shard
    retries: int = 1
    time_min: int = 60  # each job's time limit
    partition: str | None = None
    gpus_per_task: int = 0
    cpus_per_task: int | None = None
    mem_gb: float | None = None
    max_parallel: int | None = None  # None: Slurm schedules them all; local: one at a time, or one per GPU set
    wait: bool = True
    poll_s: float = 1.0
    unknown_state_s: float = UNKNOWN_STATE_S  # see Launcher.lost


class SubmitRefused(ValueError):
    """The scheduler refused the submission (sbatch's own error, with the option it concerns)."""


# words of sbatch's refusals, and the option of `dnnbench submit` each concerns
REFUSALS = {
    "gres": "--gpus-per-task",
    "gpu": "--gpus-per-task",
    "partition": "--partition",
    "memory": "--mem-gb",
    "time limit": "--time",
    "cpu": "--cpus-per-task",
    "processor": "--cpus-per-task",
}


def refusal(error: Exception, opts: SubmitOptions) -> SubmitRefused:
    """sbatch's refusal as one line: its error line, and the option it concerns where its words say."""
    lines = [line.strip() for line in str(error).splitlines() if "error" in line.lower() and line.strip()]
    said = (lines[-1] if lines else str(error).strip().splitlines()[-1]).removeprefix("sbatch: error: ")
    values = {
        "--gpus-per-task": opts.gpus_per_task,
        "--partition": opts.partition,
        "--mem-gb": opts.mem_gb,
        "--time": opts.time_min,
        "--cpus-per-task": opts.cpus_per_task,
    }
    option = next((o for word, o in REFUSALS.items() if word in said.lower() and values[o] is not None), None)
    given = f" (the option {option} {values[option]:g})" if option else ""
    return SubmitRefused(f"sbatch refused the job: {said}{given}; nothing was submitted")


@dataclass
class Attempt:
    shard: int
    number: int  # 1 for the first submission
    job: object  # submitit Job
    gpus: tuple[int, ...] = ()  # the local GPUs it holds
    unknown_since: float | None = None  # when its state was last neither in the queue nor in accounting


@dataclass
class Outcome:
    done: dict[int, Path] = field(default_factory=dict)  # shard -> its run folder
    missing: dict[int, dict] = field(default_factory=dict)  # shard -> {reason, log, attempts}
    attempts: dict[int, list[dict]] = field(default_factory=dict)  # shard -> [{job_id, outcome, log}]


def shard_folder(out: Path, shard: int, n: int) -> Path:
    return out / f"shard-{shard}-of-{n}"


def run_shard(run_args: list[str], shard: str, out: str) -> str:
    """The job of one shard (runs inside the batch job): `dnnbench run <run_args> --shard I/N -o OUT --no-report`.
    A run whose benchmarks partly failed still gave results (exit status 1); any other failure raises, so that the
    job fails and the shard is retried."""
    import submitit

    env = dict(os.environ)
    with contextlib.suppress(RuntimeError):  # RuntimeError: called outside a submitit job (a direct call)
        env["DNNBENCH_JOB_ID"] = submitit.JobEnvironment().job_id  # the results' provenance
    cmd = [sys.executable, "-m", "dnnbench.cli", "run", *run_args, "--shard", shard, "-o", out, "--quiet"]
    rc = subprocess.run([*cmd, "--no-report"], env=env).returncode
    if rc not in (0, 1):
        raise RuntimeError(f"dnnbench run --shard {shard} exited with status {rc}; its pytest log: {out}/pytest.log")
    return out


def slurm_parameters(opts: SubmitOptions) -> dict:
    """The SlurmExecutor parameters of a submission (each becomes an #SBATCH line)."""
    params = {"time": opts.time_min, "job_name": "dnnbench", "nodes": 1, "ntasks_per_node": 1}
    optional = {
        "partition": opts.partition,
        "gpus_per_task": opts.gpus_per_task or None,
        "cpus_per_task": opts.cpus_per_task,
        "mem": f"{math.ceil(opts.mem_gb * 1024)}M" if opts.mem_gb else None,  # sbatch takes whole units: 1.5 GB as MB
        "array_parallelism": opts.max_parallel,
        # CPU shards timed side by side on one node would share its cores while their rows say they did not: each
        # gets a node of its own (on a single node, they run one after another)
        "exclusive": True if not opts.gpus_per_task else None,
    }
    return {**params, **{k: v for k, v in optional.items() if v is not None}}


def local_gpus() -> list[int]:
    """The GPU indices local jobs may take (CUDA_VISIBLE_DEVICES' entries, or every GPU); none without CUDA."""
    import torch

    from bench.gpus import process_gpus

    entries = process_gpus()
    if not all(e.isdigit() for e in entries):
        raise ValueError(f"--executor local hands GPUs out by index; CUDA_VISIBLE_DEVICES names {','.join(entries)}")
    return [int(e) for e in entries] if torch.cuda.is_available() else []


def check(opts: SubmitOptions) -> None:
    """Refuse options that cannot work, before anything is submitted."""
    if opts.executor not in EXECUTORS:
        raise ValueError(f"--executor {opts.executor!r}: use {' or '.join(EXECUTORS)}")
    if opts.shards < 1:
        raise ValueError(f"--shards {opts.shards}: at least 1")
    if opts.retries < 0:
        raise ValueError(f"--retries {opts.retries}: cannot be negative")
    if opts.time_min * 60 < SIGNAL_DELAY_S + MIN_RUN_S:
        raise ValueError(
            f"--time {opts.time_min}: submitit signals a job {SIGNAL_DELAY_S} s before its time limit and the job "
            f"ends then; give at least {math.ceil((SIGNAL_DELAY_S + MIN_RUN_S) / 60)} minutes"
        )
    if opts.mem_gb is not None and opts.mem_gb <= 0:
        raise ValueError(f"--mem-gb {opts.mem_gb:g}: must be positive")
    if opts.max_parallel is not None and opts.max_parallel < 1:
        raise ValueError(f"--max-parallel {opts.max_parallel}: at least 1")
    if opts.executor == "local" and not opts.wait:
        raise ValueError("--no-wait with --executor local: local jobs are this command's processes and end with it")
    if opts.executor == "local" and opts.gpus_per_task:
        gpus = local_gpus()
        if len(gpus) < opts.gpus_per_task:
            raise ValueError(f"--gpus-per-task {opts.gpus_per_task}: this machine has {len(gpus)} visible GPU(s)")
    for flag in ("--shard", "-o", "--output", "--no-report"):
        if any(a == flag or a.startswith(flag + "=") for a in opts.run_args):
            raise ValueError(f"run option {flag}: dnnbench submit sets it for each shard")


def failure_reason(error: Exception, job) -> str:
    """One line on why a job gave no result: the shard's own exception (the last line of its trace), or, for a job
    killed or timed out before it could write one, what the scheduler says of it."""
    import submitit

    if isinstance(error, submitit.core.utils.FailedJobError):
        trace = str(error).split("----------------------")  # submitit frames the trace between two rules
        lines = [line.strip() for line in (trace[1] if len(trace) > 2 else str(error)).splitlines() if line.strip()]
        return lines[-1] if lines else "the shard raised"
    if isinstance(error, submitit.core.utils.UncompletedJobError):
        # Slurm's state says why (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, CANCELLED); a local job's says nothing useful
        state = "" if isinstance(job, submitit.local.local.LocalJob) else f"; Slurm state {job.state}"
        return f"the job ended without a result (killed, out of memory or out of time{state})"
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


class Launcher:
    """Submits shards, watches their jobs, resubmits the failed ones, and keeps the record."""

    def __init__(self, opts: SubmitOptions, runner: Callable, log: Callable[[str], None]):
        self.opts, self.runner, self.log = opts, runner, log
        self.outcome = Outcome()
        self.jobs = opts.out / "jobs"
        import submitit

        if opts.executor == "slurm":
            self.executor = submitit.SlurmExecutor(folder=self.jobs / "%j")
            self.executor.update_parameters(**slurm_parameters(opts))
            self.free_gpus: list[int] = []
            self.slots = opts.shards  # Slurm schedules (array_parallelism limits it there)
        else:
            self.executor = submitit.LocalExecutor(folder=self.jobs / "%j")
            self.free_gpus = local_gpus() if opts.gpus_per_task else []
            if opts.gpus_per_task:  # one shard per GPU set: shards never share a GPU
                per_gpu_set = len(self.free_gpus) // opts.gpus_per_task
                self.slots = min(opts.max_parallel or per_gpu_set, per_gpu_set)
            else:  # CPU shards one at a time, unless asked: side by side they share the cores (the rows say so)
                self.slots = opts.max_parallel or 1

    def args(self, shard: int) -> tuple:
        folder = shard_folder(self.opts.out, shard, self.opts.shards)
        return (self.opts.run_args, f"{shard}/{self.opts.shards}", str(folder))

    def submit_one(self, shard: int, number: int) -> Attempt:
        gpus: tuple[int, ...] = ()
        if self.opts.executor == "local":
            gpus = tuple(self.free_gpus[: self.opts.gpus_per_task])
            del self.free_gpus[: self.opts.gpus_per_task]
            # side by side on the CPU, the shard's rows record that its timings shared the cores with other shards
            shared = ["export DNNBENCH_SHARED_CORES=1"] if self.slots > 1 and not gpus else []
            self.executor.update_parameters(
                timeout_min=self.opts.time_min, gpus_per_node=len(gpus), visible_gpus=gpus, setup=shared
            )
        with self.refused_cleanly():
            job = self.executor.submit(self.runner, *self.args(shard))
        if hasattr(job, "_results_timeout_s"):
            # submitit waits up to 15 s for a missing result file to appear on a network file system; a local job's
            # folder is local, so a killed job is known at once
            job._results_timeout_s = 1.0
        self.log(f"shard {shard}/{self.opts.shards}: job {job.job_id} (attempt {number})")
        return Attempt(shard, number, job, gpus)

    def submit_array(self, shards: list[int]) -> list[Attempt]:
        """The first submission of every shard as one Slurm job array."""
        run_args, names, folders = zip(*(self.args(s) for s in shards), strict=True)
        with self.refused_cleanly():
            jobs = self.executor.map_array(self.runner, list(run_args), list(names), list(folders))
        for shard, job in zip(shards, jobs, strict=True):
            self.log(f"shard {shard}/{self.opts.shards}: job {job.job_id} (attempt 1)")
        return [Attempt(s, 1, j) for s, j in zip(shards, jobs, strict=True)]

    @contextlib.contextmanager
    def refused_cleanly(self):
        """A submission sbatch refuses: its one-line reason (SubmitRefused), and none of the files submitit wrote
        for it (the pickled call, the batch script) left behind."""
        import submitit

        before = set(self.jobs.rglob("*")) if self.jobs.exists() else set()
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # submitit prints sbatch's error: it is in the exception
                yield
        except submitit.core.utils.FailedJobError as e:
            if self.opts.executor != "slurm":
                raise
            for path in sorted(set(self.jobs.rglob("*")) - before, key=lambda p: len(p.parts), reverse=True):
                path.unlink() if not path.is_dir() or path.is_symlink() else path.rmdir()
            raise refusal(e, self.opts) from None

    def lost(self, running: list[Attempt]) -> list[Attempt]:
        """Slurm jobs that ended without a trace: not in the queue, and no state from accounting (sacct), for
        opts.unknown_state_s. Without Slurm accounting (no slurmdbd) a job killed hard (SIGKILL, out of memory, a
        lost node) writes no result and is never seen to end otherwise."""
        if self.opts.executor != "slurm":
            return []
        queued = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True)
        in_queue = set(queued.stdout.split()) if queued.returncode == 0 else None
        now, gone = time.monotonic(), []
        for a in running:
            if a.job.state != "UNKNOWN" or in_queue is None or a.job.job_id in in_queue:
                a.unknown_since = None
            elif a.unknown_since is None:
                a.unknown_since = now
            elif now - a.unknown_since > self.opts.unknown_state_s:
                gone.append(a)
        return gone

    def finish(self, a: Attempt, lost: bool = False) -> bool:
        """Record a finished attempt; True when the shard succeeded."""
        self.free_gpus += list(a.gpus)
        log = str(a.job.paths.stderr)
        folder = None
        if lost:
            reason = (
                f"its state could not be read for {self.opts.unknown_state_s:.0f} s: not in the queue, and unknown "
                "to accounting (sacct); without Slurm accounting a job killed hard ends this way"
            )
            record = {"job_id": a.job.job_id, "outcome": "failed", "reason": reason, "log": log}
        else:
            try:
                folder = Path(a.job.result())
                record = {"job_id": a.job.job_id, "outcome": "done", "log": log}
            except Exception as e:  # the shard raised (FailedJobError), or was killed or timed out (Uncompleted...)
                reason = failure_reason(e, a.job)
                record = {"job_id": a.job.job_id, "outcome": "failed", "reason": reason, "log": log}
        self.outcome.attempts.setdefault(a.shard, []).append(record)
        if folder is not None:
            self.outcome.done[a.shard] = folder
            return True
        self.log(f"shard {a.shard}/{self.opts.shards}: job {a.job.job_id} failed ({record['reason']}); log: {log}")
        return False

    def run(self) -> Outcome:
        opts = self.opts
        queue = [(s, 1) for s in range(1, opts.shards + 1)]
        running: list[Attempt] = []
        if opts.executor == "slurm":
            running, queue = self.submit_array([s for s, _ in queue]), []
            self.write_records(running)
        while queue or running:
            while queue and len(running) < self.slots:
                running.append(self.submit_one(*queue.pop(0)))
                self.write_records(running)
            if not opts.wait:
                break
            time.sleep(opts.poll_s)
            lost = self.lost([a for a in running if not a.job.done()])
            for a in [a for a in running if a in lost or a.job.done()]:
                running.remove(a)
                done = self.finish(a, lost=a in lost)
                self.write_records(running)
                if done:
                    continue
                if a.number <= opts.retries:
                    queue.append((a.shard, a.number + 1))
                else:
                    last = self.outcome.attempts[a.shard][-1]
                    self.outcome.missing[a.shard] = {
                        "reason": f"failed {a.number} attempt(s); the last: {last['reason']}",
                        "log": last["log"],
                    }
                    set_aside(shard_folder(opts.out, a.shard, opts.shards))
                    self.write_records(running)
        self.write_records(running)
        return self.outcome

    def write_records(self, running: list[Attempt]) -> None:
        """jobs.json (every attempt so far, the running ones as 'submitted') and missing-shards.jsonl, rewritten
        whenever an attempt starts or ends, so that a submit that is itself killed leaves the record."""
        out, n = self.opts.out, self.opts.shards
        record = {f"{s}/{n}": list(self.outcome.attempts.get(s, [])) for s in range(1, n + 1)}
        for a in running:
            record[f"{a.shard}/{n}"].append(
                {"job_id": a.job.job_id, "outcome": "submitted", "log": str(a.job.paths.stderr)}
            )
        (out / "jobs.json").write_text(json.dumps({"executor": self.opts.executor, "shards": record}, indent=1))
        missing = out / MISSING_SHARDS
        missing.unlink(missing_ok=True)
        if self.outcome.missing:
            lines = [
                {"missing": {"test": "shard", "param": f"{s}/{n}", "reason": f"{m['reason']}; log: {m['log']}"}}
                for s, m in sorted(self.outcome.missing.items())
            ]
            missing.write_text("".join(json.dumps(line) + "\n" for line in lines))


NOT_COUNTED = ".not-counted"


def set_aside(folder: Path) -> None:
    """A missing shard's partial results renamed out of the report's sight (`<name>.not-counted`, kept to read): a
    shard is measured or missing, never both."""
    if folder.is_dir():
        for path in [*folder.rglob("*.stream*.jsonl"), *folder.rglob("results*.json"), *folder.rglob("study-*.jsonl")]:
            path.rename(path.with_name(path.name + NOT_COUNTED))


def submit(opts: SubmitOptions, runner: Callable = run_shard, log: Callable[[str], None] = print) -> Outcome:
    """Run the sweep's shards as batch jobs (see the module's docstring); with opts.wait, until each shard is done or
    has failed every attempt."""
    check(opts)
    if not any(a == "--seed" or a.startswith("--seed=") for a in opts.run_args):  # one sweep, one seed
        opts = replace(opts, run_args=[*opts.run_args, "--seed", str(random.SystemRandom().randrange(1 << 31))])
    opts.out.mkdir(parents=True, exist_ok=True)
    return Launcher(opts, runner, log).run()
