"""What `dnnbench run` needs around its pytest run: following the benchmarks' progress file while pytest runs (its
own output goes to the run's pytest.log), the expected seconds of each study, and the record of a study the budget
left out."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

# A study's seconds in its quick form on this project's 2-core CPU (2026-12-02), for a budget planned without an
# earlier run; the full form is taken as FULL_FACTOR times longer and a CUDA run as long (its compile and launch
# costs stay). An earlier run (--budget-from) replaces them with what its study files recorded.
QUICK_STUDY_S = {
    "batch-size": 6.0,
    "learning-rate": 3.0,
    "momentum": 6.0,
    "initialization": 2.0,
    "dropout": 2.0,
    "batchnorm": 4.0,
    "activation": 1.0,
    "backend": 3.0,
    "precision": 9.0,
    "device": 4.0,
    "layout": 6.0,
    "threads": 3.0,
    "fusion": 12.0,
}
FULL_FACTOR = 20.0
DEFAULT_STUDY_S = 10.0


def study_seconds(name: str, full: bool, device: str, budget_from: Path | None) -> float:
    """Expected wall seconds of study `name`: its study file's header in an earlier run's folder, else the table."""
    if budget_from is not None:
        folder = budget_from if budget_from.is_dir() else budget_from.parent
        path = folder / f"study-{name}.jsonl"
        if path.exists():
            first = path.read_text().split("\n", 1)[0]
            try:
                wall = json.loads(first).get("header", {}).get("wall_s")
            except (json.JSONDecodeError, AttributeError):
                wall = None
            if isinstance(wall, (int, float)):
                return float(wall)
    return QUICK_STUDY_S.get(name, DEFAULT_STUDY_S) * (FULL_FACTOR if full else 1.0)


def left_out_record(stream: Path, kind: str, name: str, reason: str) -> None:
    """Append to the run's stream that `name` (a study) was left out, and why: the report lists it."""
    with stream.open("a") as f:
        f.write(json.dumps({"left_out": {"test": kind, "param": name, "reason": reason}}) + "\n")


def follow_benchmarks(cmd: list[str], sink, progress_file: Path, progress, env: dict | None = None, poll_s=0.2):
    """Run the pytest command `cmd` (its output into `sink`, `env` added to its environment) and drive `progress`
    from the events its plugin writes to `progress_file` (bench/plugin.py: the plan, each start and end). Returns
    (exit status, outcome -> count). On Ctrl-C pytest is stopped (it writes what finished) and KeyboardInterrupt is
    raised again."""
    proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    counts: dict[str, int] = {}
    offset, pending = 0, ""
    try:
        while True:
            finished = proc.poll() is not None
            if progress_file.exists():
                with progress_file.open() as f:
                    f.seek(offset)
                    chunk = f.read()
                    offset = f.tell()
                pending += chunk
                *lines, pending = pending.split("\n")
                for line in lines:
                    _event(json.loads(line), progress, counts)
            if finished:
                return proc.returncode, counts
            time.sleep(poll_s)
    except KeyboardInterrupt:
        proc.send_signal(2)  # SIGINT: pytest ends the session and writes its results
        proc.wait()
        raise


def _event(event: dict, progress, counts: dict[str, int]) -> None:
    if "plan" in event:
        progress.phase("benchmarks", {label: seconds for label, seconds in event["plan"]})
        if event.get("left_out"):
            counts["left out by the budget's plan"] = event["left_out"]
    elif "start" in event:
        progress.start(event["start"])
    elif "done" in event:
        progress.done(event["done"])
        counts[event["outcome"]] = counts.get(event["outcome"], 0) + 1
