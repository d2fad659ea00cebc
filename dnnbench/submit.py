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
import json
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


@dataclass
class Attempt:
    shard: int
    number: int  # 1 for the first submission
    job: object  # submitit Job
    gpus: tuple[int, ...] = ()  # the local GPUs it holds


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
        "mem": f"{opts.mem_gb:g}GB" if opts.mem_gb else None,
        "array_parallelism": opts.max_parallel,
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
    if opts.time_min < 1:
        raise ValueError(f"--time {opts.time_min}: at least 1 minute")
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
        jobs = self.executor.map_array(self.runner, list(run_args), list(names), list(folders))
        for shard, job in zip(shards, jobs, strict=True):
            self.log(f"shard {shard}/{self.opts.shards}: job {job.job_id} (attempt 1)")
        return [Attempt(s, 1, j) for s, j in zip(shards, jobs, strict=True)]

    def finish(self, a: Attempt) -> bool:
        """Record a finished attempt; True when the shard succeeded."""
        self.free_gpus += list(a.gpus)
        log = str(a.job.paths.stderr)
        try:
            folder = Path(a.job.result())
            record = {"job_id": a.job.job_id, "outcome": "done", "log": log}
        except Exception as e:  # the shard raised (FailedJobError), or was killed or timed out (UncompletedJobError)
            reason = failure_reason(e, a.job)
            record = {"job_id": a.job.job_id, "outcome": "failed", "reason": reason, "log": log}
            folder = None
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
        while queue or running:
            while queue and len(running) < self.slots:
                running.append(self.submit_one(*queue.pop(0)))
            if not opts.wait:
                break
            time.sleep(opts.poll_s)
            for a in [a for a in running if a.job.done()]:
                running.remove(a)
                if self.finish(a):
                    continue
                if a.number <= opts.retries:
                    queue.append((a.shard, a.number + 1))
                else:
                    last = self.outcome.attempts[a.shard][-1]
                    self.outcome.missing[a.shard] = {
                        "reason": f"failed {a.number} attempt(s); the last: {last['reason']}",
                        "log": last["log"],
                    }
        if not opts.wait:
            for a in running:
                self.outcome.attempts.setdefault(a.shard, []).append(
                    {"job_id": a.job.job_id, "outcome": "submitted", "log": str(a.job.paths.stderr)}
                )
        self.write_records()
        return self.outcome

    def write_records(self) -> None:
        out, n = self.opts.out, self.opts.shards
        record = {f"{s}/{n}": self.outcome.attempts.get(s, []) for s in range(1, n + 1)}
        (out / "jobs.json").write_text(json.dumps({"executor": self.opts.executor, "shards": record}, indent=1))
        missing = out / MISSING_SHARDS
        missing.unlink(missing_ok=True)
        if self.outcome.missing:
            lines = [
                {"missing": {"test": "shard", "param": f"{s}/{n}", "reason": f"{m['reason']}; log: {m['log']}"}}
                for s, m in sorted(self.outcome.missing.items())
            ]
            missing.write_text("".join(json.dumps(line) + "\n" for line in lines))


def submit(opts: SubmitOptions, runner: Callable = run_shard, log: Callable[[str], None] = print) -> Outcome:
    """Run the sweep's shards as batch jobs (see the module's docstring); with opts.wait, until each shard is done or
    has failed every attempt."""
    check(opts)
    if not any(a == "--seed" or a.startswith("--seed=") for a in opts.run_args):  # one sweep, one seed
        opts = replace(opts, run_args=[*opts.run_args, "--seed", str(random.SystemRandom().randrange(1 << 31))])
    opts.out.mkdir(parents=True, exist_ok=True)
    return Launcher(opts, runner, log).run()
