"""`dnnbench run --budget` as a user runs it: the plan leaves out what does not fit, the run stops on time, and the
results and the report keep and say what finished and what was left out."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import bench_cases
from bench.plugin import RunOptions

ROOT = Path(__file__).resolve().parents[1]
SELECT = "softmax and (eager or lesson)"


def test_a_run_that_reaches_its_budget_keeps_and_reports_what_finished(tmp_path):
    cases = [c for c in bench_cases(RunOptions(("cpu",), None, None, "quick", 0, None)) if c.op == "softmax"]
    ids = [c.id for c in cases if c.variant in ("eager", "lesson")]
    huge = next(i for i in ids if i.endswith("lesson"))
    # an earlier run where every case took a millisecond but one took 1000 s: the plan takes all the others, so it
    # is the run that has to stop at the budget (each case takes over three seconds with --max-time 3: the seven
    # others take longer than the 15 s the budget leaves the benchmarks, however fast the machine)
    history = tmp_path / "earlier.stream.jsonl"
    lines = [{"machine_info": {}}] + [{"param": i, "stats": {}, "wall_s": 1000.0 if i == huge else 0.001} for i in ids]
    history.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out, budget = tmp_path / "run", 30
    argv = ["run", "--device", "cpu", "-k", SELECT, "--max-time", "3", "--budget", f"{budget}s"]
    argv += ["--budget-from", str(history), "--seed", "1", "-o", str(out)]
    started = time.monotonic()
    # --target-rse 0: rounds go on for the whole --max-time, however precise the median is by then
    env = {**os.environ, "PYTEST_ADDOPTS": "--target-rse 0"}
    proc = subprocess.run(
        [sys.executable, "-m", "dnnbench.cli", *argv], cwd=ROOT, capture_output=True, text=True, env=env
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    records = [json.loads(line) for line in (out / "results.stream.jsonl").read_text().splitlines()]
    measured = [r["param"] for r in records if "stats" in r]
    left = {r["left_out"]["param"]: r["left_out"]["reason"] for r in records if "left_out" in r}
    assert measured and left and set(measured) | set(left) == set(ids) and not set(measured) & set(left)
    assert "did not fit the plan" in left[huge]
    assert any("the run reached it" in reason for reason in left.values())
    # the baselines first: no lesson rung was measured while an eager case was left out
    assert not (any(m.endswith("lesson") for m in measured) and any(i.endswith("eager") for i in left))
    assert all(isinstance(r.get("wall_s"), float) for r in records if "stats" in r)
    assert elapsed < budget + 15, f"the run took {elapsed:.0f} s on a budget of {budget} s"

    md = (out / "report" / "report.md").read_text()
    assert "## What these results cover" in md and "The quick profile times every op" in md
    assert f"{len(left)} left out" in md and "within a time budget of" in md
    assert f"left out | op | {len(left) - 1} | left out by the budget" in md  # the run's stops, one reason
    assert "eta" in proc.stdout and "benchmarks " in proc.stdout and "left out" in proc.stdout
