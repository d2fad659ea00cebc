"""The mutation runner's report (tests/mutation.py): counts from cosmic-ray's session dump, a sampled score with its
95% Wilson interval, each survivor as `line N: old -> new`."""

import json

import pytest

from tests.mutation import changed, summary, wilson

DIFF = "--- mutation diff ---\n--- a/m.py\n+++ b/m.py\n@@ -12,3 +12,3 @@\n x = 1\n-if a < b:\n+if a <= b:\n y = 2\n"


def line(outcome: str | None, worker: str = "normal", diff: str = "") -> str:
    result = {"worker_outcome": worker, "test_outcome": outcome, "diff": diff} if worker or outcome else None
    return json.dumps([{"job_id": "x"}, result])


def test_a_sampled_score_carries_its_interval_and_every_survivor():
    dump = "\n".join(
        [line("killed")] * 3 + [line("survived", diff=DIFF)] + [line(None, "skipped")] * 6 + [line("incompetent")]
    )
    text = summary("m.py", dump)
    low, high = wilson(3, 4)
    interval = f"{100 * low:.0f}-{100 * high:.0f}%"
    assert text.splitlines()[0] == (
        f"m.py: 3 of 4 mutants killed (75%) (a sample of 5 of 11; 95% interval {interval}), 1 survived, "
        "1 incompetent or not run"
    )
    assert text.splitlines()[1] == "survivor 1: line 13: if a < b:  ->  if a <= b:"


def test_an_unsampled_run_gives_no_interval():
    text = summary("m.py", "\n".join([line("killed")] * 2))
    assert text == "m.py: 2 of 2 mutants killed (100%), 0 survived, 0 incompetent or not run"


def test_the_wilson_interval():
    assert wilson(80, 80) == pytest.approx((0.954, 1.0), abs=1e-3)
    assert wilson(48, 80) == pytest.approx((0.4905, 0.7004), abs=1e-4)  # p 0.6 +- 0.105 around 0.595
    assert wilson(0, 0) == (0.0, 1.0)
    assert changed(DIFF) == "line 13: if a < b:  ->  if a <= b:"
