"""`dnnbench submit`: a sweep's shards as batch jobs through submitit, here with its local executor (real job
processes and job folders; no Slurm on this machine), retried when killed, listed as missing when they fail every
attempt, and merged into one report equal in content to an unsharded run's."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dnnbench.cli import main
from dnnbench.submit import SubmitOptions, check, slurm_parameters, submit
from reports.load import load
from tests.fake_results import benchmarks
from tests.fake_shard import AlwaysFails, KilledOnce, fake_shard

ROOT = Path(__file__).resolve().parents[1]
# a few seconds of real CPU benchmarks, and one short study that goes to one shard whole
SELECTION = ["--device", "cpu", "-k", "test_op and softmax and 1024x16 and (eager or lesson)", "--max-time", "0.01"]
SELECTION += ["--studies", "activation"]


def dnnbench(*argv, env=None, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "dnnbench.cli", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def rows(df):
    """What a report is made of, timings aside: each measured benchmark (by its test id) and its variant."""
    return sorted(zip(df["name"], df["variant"], strict=True))


def test_three_local_shards_merge_into_the_unsharded_runs_report(tmp_path):
    whole = dnnbench("run", *SELECTION, "--no-report", "--quiet", "-o", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stdout[-2000:] + whole.stderr[-2000:]
    sweep = tmp_path / "sweep"
    argv = ["--executor", "local", "--shards", "3", "--max-parallel", "3", "-o", str(sweep), "--quiet"]
    proc = dnnbench("submit", *argv, "--", *SELECTION)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"report: {(sweep / 'report' / 'index.html').resolve()}" in proc.stdout
    jobs = json.loads((sweep / "jobs.json").read_text())
    assert jobs["executor"] == "local" and sorted(jobs["shards"]) == ["1/3", "2/3", "3/3"]
    for shard, attempts in jobs["shards"].items():
        assert [a["outcome"] for a in attempts] == ["done"], shard
        assert Path(attempts[0]["log"]).exists()  # submitit's job log, in the job folder
    merged, alone = load([sweep]), load([tmp_path / "whole"])
    assert len(alone) >= 4 and rows(merged) == rows(alone)
    assert set(merged["shard"]) <= {"1/3", "2/3", "3/3"} and merged["shard"].nunique() >= 2
    assert merged["job_id"].notna().all() and merged["job_id"].nunique() == merged["shard"].nunique()
    assert merged["commit"].nunique() == 1
    assert len({r["seed"] for r in merged.attrs["runs"]}) == 1  # one sweep, one seed (submit chose it)
    skipped = sorted((c["status"], c["param"]) for c in merged.attrs["coverage"])
    assert skipped == sorted((c["status"], c["param"]) for c in alone.attrs["coverage"])
    assert list(merged.attrs["study_headers"]) == ["activation"] == list(alone.attrs["study_headers"])
    md = (sweep / "report" / "report.md").read_text()
    assert "These results merge 3 shards" in md and "## Study: activation" in md and "## Op: softmax" in md
    assert "shards sharing the CPU's cores" in md  # --max-parallel 3 ran the CPU shards side by side


def test_a_killed_shard_is_submitted_again_and_its_results_kept(tmp_path):
    opts = SubmitOptions("local", 3, tmp_path / "sweep", [], retries=1, poll_s=0.2)
    outcome = submit(opts, runner=KilledOnce(str(tmp_path), ("2/3",)), log=lambda line: None)
    assert sorted(outcome.done) == [1, 2, 3] and not outcome.missing
    assert [a["outcome"] for a in outcome.attempts[2]] == ["failed", "done"]
    assert [a["outcome"] for a in outcome.attempts[1]] == ["done"] == [a["outcome"] for a in outcome.attempts[3]]
    assert outcome.attempts[2][0]["job_id"] != outcome.attempts[2][1]["job_id"]
    merged = load([opts.out])
    assert sorted(merged["name"]) == sorted(e["name"] for e in benchmarks("laptop", seed=1))
    assert not (opts.out / "missing-shards.jsonl").exists()


def test_a_shard_failing_every_attempt_is_reported_missing_with_its_log(tmp_path, capsys):
    opts = SubmitOptions("local", 2, tmp_path / "sweep", [], retries=2, poll_s=0.2)
    outcome = submit(opts, runner=AlwaysFails(("2/2",)), log=lambda line: None)
    assert sorted(outcome.done) == [1] and sorted(outcome.missing) == [2]
    attempts = outcome.attempts[2]
    assert [a["outcome"] for a in attempts] == ["failed"] * 3  # the first and two retries
    assert "planted failure of shard 2/2" in attempts[-1]["reason"]
    log = Path(outcome.missing[2]["log"])
    assert log.exists() and "planted failure of shard 2/2" in log.read_text()
    assert main(["report", str(opts.out), "-o", str(tmp_path / "report"), "--quiet"]) == 0
    md = (tmp_path / "report" / "report.md").read_text()
    assert "| missing | shard | 1 |" in md and str(log) in md and "2/2" in md
    kept = load([opts.out])
    shard_1 = [e["name"] for e in benchmarks("laptop", seed=1)[0::2]]
    assert sorted(kept["name"]) == sorted(shard_1)  # the other shard's results are kept


def test_a_report_names_a_shard_without_results(tmp_path):
    for shard in ("1/3", "3/3"):
        fake_shard([], shard, str(tmp_path / shard.replace("/", "-of-")))
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "report"), "--quiet"]) == 0
    md = (tmp_path / "report" / "report.md").read_text()
    assert "Warning: shard 2/3 of this sweep has no results in these files" in md


def test_slurm_gets_one_job_array_with_the_asked_resources(tmp_path):
    """Without Slurm here: stand-ins for srun and sbatch (which records the script and answers with a job id)."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_ / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {tmp_path}/submitted.sh\necho "Submitted batch job 4242"\n')
    for f in bin_.iterdir():
        f.chmod(0o755)
    out = tmp_path / "sweep"
    argv = ["submit", "--executor", "slurm", "--shards", "3", "--partition", "gpu", "--gpus-per-task", "1"]
    argv += ["--time", "90", "--max-parallel", "2", "--no-wait", "-o", str(out), "--", "--device", "cuda"]
    proc = dnnbench(*argv, env={"PATH": f"{bin_}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    script = (tmp_path / "submitted.sh").read_text()
    for line in ("--array=0-2%2", "--partition=gpu", "--gpus-per-task=1", "--time=90", "--job-name=dnnbench"):
        assert f"#SBATCH {line}\n" in script, line
    jobs = json.loads((out / "jobs.json").read_text())
    assert [a[0]["job_id"] for a in jobs["shards"].values()] == ["4242_0", "4242_1", "4242_2"]
    assert all(a[0]["outcome"] == "submitted" for a in jobs["shards"].values())
    assert f"dnnbench report {out}" in proc.stdout


def test_a_refusal_by_sbatch_is_one_line_naming_the_option_and_leaves_nothing_behind(tmp_path):
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "srun").write_text("#!/bin/sh\nexit 0\n")
    refusal = "sbatch: error: Batch job submission failed: Invalid generic resource (gres) specification"
    (bin_ / "sbatch").write_text(f"#!/bin/sh\necho '{refusal}' >&2\nexit 1\n")
    for f in bin_.iterdir():
        f.chmod(0o755)
    out = tmp_path / "sweep"
    argv = ["submit", "--executor", "slurm", "--shards", "2", "--gpus-per-task", "1", "-o", str(out)]
    proc = dnnbench(*argv, "--", "--device", "cuda", env={"PATH": f"{bin_}:{os.environ['PATH']}"})
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Invalid generic resource (gres) specification (the option --gpus-per-task 1)" in proc.stderr
    assert [p for p in (out / "jobs").rglob("*") if p.is_file()] == []  # no stray pickles or scripts


def test_slurm_parameters_carry_only_what_was_asked():
    opts = SubmitOptions("slurm", 4, Path("x"), [], time_min=30, partition="a100", gpus_per_task=2, mem_gb=64)
    assert slurm_parameters(opts) == {
        "time": 30,
        "job_name": "dnnbench",
        "nodes": 1,
        "ntasks_per_node": 1,
        "partition": "a100",
        "gpus_per_task": 2,
        "mem": "65536M",
    }


def test_slurm_gets_memory_in_whole_units_and_cpu_shards_a_node_each():
    opts = SubmitOptions("slurm", 2, Path("x"), [], mem_gb=1.5)
    params = slurm_parameters(opts)
    assert params["mem"] == "1536M"  # sbatch refuses --mem=1.5GB
    assert params["exclusive"] is True  # CPU shards side by side would share the cores their rows say are theirs


@pytest.mark.parametrize(
    "change, message",
    [
        ({"shards": 0}, "--shards 0"),
        ({"retries": -1}, "--retries -1"),
        ({"time_min": 0}, "--time 0"),
        ({"time_min": 2}, "--time 2: submitit signals a job 90 s before its time limit"),
        ({"mem_gb": 0.0}, "--mem-gb 0: must be positive"),
        ({"max_parallel": 0}, "--max-parallel 0"),
        ({"wait": False}, "--no-wait with --executor local"),
        ({"run_args": ["--shard", "1/2"]}, "run option --shard"),
        ({"run_args": ["-o", "x"]}, "run option -o"),
        ({"gpus_per_task": 1}, "--gpus-per-task 1: this machine has 0 visible GPU(s)"),
    ],
)
def test_options_that_cannot_work_are_refused_before_submitting(change, message):
    opts = SubmitOptions(**{"executor": "local", "shards": 2, "out": Path("x"), "run_args": [], **change})
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check(opts)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--executor", "local", "--shards", "2", "-o", "x", "--no-wait"], "--no-wait with --executor local"),
        (["--executor", "local", "--shards", "2", "-o", "x", "--", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_submit_refuses_bad_options_in_one_line(argv, message, tmp_path):
    proc = dnnbench("submit", *argv, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("dnnbench: error:") and message in proc.stderr
