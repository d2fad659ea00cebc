"""`dnnbench submit --executor slurm` against a real single-node Slurm cluster (tests/slurm_cluster.py: Debian's
Slurm 22.05 daemons, with accounting), started once for this module and stopped by PID at its end. Where it cannot
start (not root, the packages not installed: `.ci/run` installs them, or in an xdist worker: `make test` runs this
file in a pytest of its own) every test here is a skip that says why; with DNNBENCH_REQUIRE_SLURM=1 (which `.ci/run`
sets) a failure.

A two-shard sweep end to end with the merged report, CPU shards one at a time; a shard cancelled and one killed,
each retried; a shard killed after writing its rows listed missing and its rows not counted; sbatch's refusal in one
line; memory in units sbatch takes; a job killed hard on a cluster without accounting ends as failed."""

import json
import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from dnnbench.submit import SubmitOptions, submit
from reports.load import load
from tests.fake_results import benchmarks
from tests.fake_shard import KilledAfterResults, WaitsOnFirstAttempt
from tests.slurm_cluster import Cluster
from tests.test_submit import ROOT, dnnbench

# each shard a real `dnnbench run`: a few seconds of CPU benchmarks (the local executor's test adds a study)
RUN = ["--device", "cpu", "-k", "test_op and softmax and 1024x16 and (eager or lesson)", "--max-time", "0.01"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    why = Cluster.unavailable()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # workers would each start a cluster, and stop each other's munge
        why = "one Slurm cluster per machine: run tests/test_slurm.py in a pytest of its own (make test does)"
    try:
        started = None if why else Cluster.start(tmp_path_factory.mktemp("slurm"))
    except RuntimeError as e:  # a daemon that did not come up: its log's tail says why
        why = f"the Slurm cluster did not start: {e}"
    if why:
        if os.environ.get("DNNBENCH_REQUIRE_SLURM") == "1":  # CI (.ci/run): these tests must run there
            pytest.fail(f"DNNBENCH_REQUIRE_SLURM=1, but {why}")
        pytest.skip(why)
    yield started
    started.stop()


@pytest.fixture
def jobs_env(cluster, monkeypatch):
    """What a job needs from the submitting process (sbatch exports its environment): this tree on the path."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.chdir(ROOT)
    return cluster


def intervals(cluster: Cluster, job_ids: list[str], timeout_s: float = 30) -> list[tuple[datetime, datetime]]:
    """Each job's start and end, from accounting (which may take a moment to record a job that has just ended)."""
    found, said, end = {}, None, time.monotonic() + timeout_s
    while time.monotonic() < end:
        said = cluster.run("sacct", "-X", "-n", "-P", "-o", "JobID,Start,End", "-j", ",".join(job_ids), check=False)
        found = {}
        for line in said.stdout.split():
            job, start, stop = line.split("|")
            if stop not in ("Unknown", "None"):
                found[job] = (datetime.fromisoformat(start), datetime.fromisoformat(stop))
        if all(j in found for j in job_ids):
            return [found[j] for j in job_ids]
        time.sleep(1)
    raise AssertionError(f"accounting never gave {job_ids}' times: {said.stdout!r} {said.stderr!r}")


def test_a_two_shard_sweep_runs_one_shard_at_a_time_and_merges_its_report(jobs_env, tmp_path):
    out = tmp_path / "sweep"
    argv = ["--executor", "slurm", "--shards", "2", "--time", "10", "--mem-gb", "1.5", "-o", str(out), "--quiet"]
    proc = dnnbench("submit", *argv, "--", *RUN, env=jobs_env.env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"report: {(out / 'report' / 'index.html').resolve()}" in proc.stdout
    shards = json.loads((out / "jobs.json").read_text())["shards"]
    assert [[a["outcome"] for a in attempts] for attempts in shards.values()] == [["done"], ["done"]]
    (first, second) = intervals(jobs_env, [attempts[0]["job_id"] for attempts in shards.values()])
    assert first[1] <= second[0] or second[1] <= first[0]  # --exclusive: CPU shards never share the node
    merged = load([out])
    assert merged["shard"].nunique() == 2 and not any(r.get("shared_cores") for r in merged.attrs["runs"])
    md = (out / "report" / "report.md").read_text()
    assert "These results merge 2 shards" in md and "missing" not in md


def in_time(call, timeout_s: float):
    """call(), in a thread given `timeout_s`: a submit that never sees its jobs end fails the test, not hangs it."""
    result = {}
    worker = threading.Thread(target=lambda: result.update(value=call()), daemon=True)
    worker.start()
    worker.join(timeout_s)
    assert not worker.is_alive(), f"still waiting after {timeout_s:.0f} s"
    return result["value"]


def wait_for(path: Path, timeout_s: float = 120) -> None:
    end = time.monotonic() + timeout_s
    while not path.exists() and time.monotonic() < end:
        time.sleep(0.5)
    assert path.exists(), f"no {path.name}: the shard's job did not start in {timeout_s:.0f} s"


def test_a_cancelled_shard_and_a_killed_one_are_each_submitted_again(jobs_env, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    opts = SubmitOptions("slurm", 2, tmp_path / "sweep", [], retries=1, poll_s=0.5, time_min=5)
    result = {}
    run = lambda: result.update(outcome=submit(opts, WaitsOnFirstAttempt(str(marks)), log=lambda line: None))
    worker = threading.Thread(target=run, daemon=True)  # a test that fails leaves no thread behind
    worker.start()
    # CPU shards have a node each: on this one node shard 2 starts once shard 1's job has ended
    first, second = marks / "1-of-2.pid", marks / "2-of-2.pid"
    wait_for(first)
    record = json.loads((opts.out / "jobs.json").read_text())["shards"]  # written while the jobs run
    assert [a[-1]["outcome"] for a in record.values()] == ["submitted", "submitted"]
    jobs_env.run("scancel", record["1/2"][-1]["job_id"])
    wait_for(second)
    os.kill(int(second.read_text()), signal.SIGKILL)  # as the out-of-memory killer would
    worker.join(300)
    assert not worker.is_alive(), "submit did not see the jobs end"
    outcome = result["outcome"]
    assert sorted(outcome.done) == [1, 2] and not outcome.missing
    for shard in (1, 2):
        assert [a["outcome"] for a in outcome.attempts[shard]] == ["failed", "done"]
    assert "CANCELLED" in outcome.attempts[1][0]["reason"]


def test_a_shard_killed_after_writing_its_rows_is_missing_and_its_rows_not_counted(jobs_env, tmp_path):
    opts = SubmitOptions("slurm", 2, tmp_path / "sweep", [], retries=0, poll_s=0.5, time_min=5)
    outcome = submit(opts, KilledAfterResults(("2/2",)), log=lambda line: None)
    assert sorted(outcome.done) == [1] and sorted(outcome.missing) == [2]
    assert [a["outcome"] for a in outcome.attempts[2]] == ["failed"]
    assert Path(outcome.missing[2]["log"]).exists()  # its job's log, named in the report
    kept = load([opts.out])
    assert sorted(kept["name"]) == sorted(e["name"] for e in benchmarks("laptop", seed=1)[0::2])  # shard 1's only
    assert list((opts.out / "shard-2-of-2").glob("*.not-counted"))  # shard 2's rows, kept aside


def test_a_refusal_by_sbatch_is_one_line_and_leaves_nothing_behind(jobs_env, tmp_path):
    out = tmp_path / "sweep"
    argv = ["--executor", "slurm", "--shards", "2", "--gpus-per-task", "1", "-o", str(out)]
    proc = dnnbench("submit", *argv, "--", "--device", "cuda", env=jobs_env.env, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "sbatch refused the job" in proc.stderr and "--gpus-per-task 1" in proc.stderr, proc.stderr
    assert [p for p in (out / "jobs").rglob("*") if p.is_file()] == []


def test_without_accounting_a_job_killed_hard_ends_as_failed(jobs_env, tmp_path):
    """Last in this module: it stops the cluster's accounting (slurmdbd)."""
    jobs_env.stop_daemon("slurmdbd")
    assert jobs_env.run("sacct", "-X", check=False).returncode != 0
    opts = SubmitOptions("slurm", 1, tmp_path / "sweep", [], retries=0, poll_s=0.5, time_min=5, unknown_state_s=5)
    outcome = in_time(lambda: submit(opts, KilledAfterResults(("1/1",)), log=lambda line: None), 120)
    assert sorted(outcome.missing) == [1]
    assert "its state could not be read for 5 s" in outcome.attempts[1][-1]["reason"]
    shards = json.loads((opts.out / "jobs.json").read_text())["shards"]
    assert shards["1/1"][-1]["outcome"] == "failed"
