"""`dnnbench history`: planted histories with known change points (a step up, a step down, pure noise at several
levels, one outlier run, a change at the latest run), read from pytest-benchmark JSON files as `--benchmark-autosave`
writes them; the changes are found where planted and nowhere else. The false-alarm rate on long pure-noise histories
is measured here (the README states it)."""

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ruptures", reason="dnnbench history needs ruptures (pip install -e '.[history]')")

from reports import history  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def planted(folder: Path, series: dict[str, list[float]], spread: float = 0.02, rounds: int = 50, node="ci") -> list:
    """One pytest-benchmark JSON file per run (named so that their names do not sort in date order), each benchmark's
    median from `series` (seconds), its IQR `spread` of it."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(next(iter(series.values())))
    paths = []
    for i in range(n):
        benchmarks = [
            {
                "name": name,
                "fullname": f"bench.py::{name}",
                "extra_info": {},
                "stats": {"median": values[i], "iqr": values[i] * spread * 1.349, "rounds": rounds},
            }
            for name, values in series.items()
        ]
        data = {
            "machine_info": {"node": node, "cpu": {"brand_raw": "Planted CPU"}},
            "commit_info": {"id": f"{i + 0xA0:012x}" + "c" * 28, "dirty": False},  # the first 12 digits differ
            "datetime": (START + timedelta(days=i)).isoformat(),
            "benchmarks": benchmarks,
        }
        path = folder / f"run-{(i * 7) % n:03d}-{i}.json"
        path.write_text(json.dumps(data))
        paths.append(path)
    return paths


def noisy(n: int, noise: float, seed: int, base: float = 1e-3) -> np.ndarray:
    return base * np.exp(np.random.default_rng(seed).normal(0, noise, n))


def dnnbench(*args, cwd: Path):
    return subprocess.run(
        [sys.executable, "-m", "dnnbench.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def found(out: Path) -> list[tuple[str, int, str]]:
    import pandas as pd

    changes = pd.read_csv(out / "changes.csv")
    return sorted(
        (r.benchmark, int(r.run.split("-")[-1].removesuffix(".json")), r.direction) for r in changes.itertuples()
    )


def test_changes_are_found_where_planted_and_nowhere_else(tmp_path):
    n = 30
    up = noisy(n, 0.01, 1)
    up[12:] *= 1.15
    down = noisy(n, 0.01, 2)
    down[20:] *= 0.8
    outlier = noisy(n, 0.01, 3)
    outlier[9] *= 3  # one odd run: not a change
    last = noisy(n, 0.01, 4)
    last[-1] *= 1.3  # the latest run
    series = {"up": up, "down": down, "outlier": outlier, "last": last}
    series |= {f"noise_{s}": noisy(n, s, 10 + i) for i, s in enumerate((0.005, 0.02, 0.05, 0.1))}
    paths = planted(tmp_path / "runs", series)
    done = dnnbench("history", *paths, "-o", tmp_path / "out", cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert found(tmp_path / "out") == [
        ("bench.py::down", 20, "faster"),
        ("bench.py::last", 29, "slower"),
        ("bench.py::up", 12, "slower"),
    ]
    md = (tmp_path / "out" / "history.md").read_text()
    changes = pd.read_csv(tmp_path / "out" / "changes.csv")
    up_row = changes[changes["benchmark"] == "bench.py::up"].iloc[0]
    assert up_row["commits"] == f"{11 + 0xA0:012x} .. {12 + 0xA0:012x}"  # between which commits it happened
    assert up_row["ratio"] == pytest.approx(1.15, rel=0.03)
    assert "outlier runs" in md and "run-" in md
    assert (tmp_path / "out" / "index.html").exists() and "data:image/png;base64" in (
        tmp_path / "out" / "index.html"
    ).read_text()


def test_a_noisy_benchmark_needs_a_larger_step(tmp_path):
    """The same 8% step: found where each run is precise; not where each run's own spread (IQR, few rounds) is
    wider than the step."""
    n, step = 24, 1.08
    precise = noisy(n, 0.003, 5)
    precise[12:] *= step
    out = tmp_path / "precise"
    dnnbench("history", *planted(tmp_path / "a", {"x": precise}, spread=0.01, rounds=200), "-o", out, cwd=ROOT)
    assert [r[1] for r in found(out)] == [12]
    vague = precise.copy()
    out = tmp_path / "vague"
    dnnbench("history", *planted(tmp_path / "b", {"x": vague}, spread=0.6, rounds=5), "-o", out, cwd=ROOT)
    assert found(out) == []


def test_the_gate_fails_on_a_regression_in_force_and_not_on_one_fixed(tmp_path):
    n = 24
    regressed, fixed = noisy(n, 0.01, 6), noisy(n, 0.01, 7)
    regressed[16:] *= 1.25
    fixed[8:16] *= 1.25  # slower for a while, then back
    paths = planted(tmp_path / "runs", {"regressed": regressed, "fixed": fixed})
    gate = dnnbench("history", *paths, "-o", tmp_path / "out", "--fail-on-regression", cwd=ROOT)
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert "regression in force: bench.py::regressed" in gate.stdout and "bench.py::fixed" not in gate.stdout
    paths = planted(tmp_path / "runs2", {"fixed": fixed})
    assert dnnbench("history", *paths, "-o", tmp_path / "out2", "--fail-on-regression", cwd=ROOT).returncode == 0


def test_machines_are_never_mixed(tmp_path):
    """The same benchmark on a slower machine, its runs interleaved in time: two flat series, no change."""
    n = 12
    fast = planted(tmp_path / "fast", {"x": noisy(n, 0.01, 8)}, node="fast")
    slow = planted(tmp_path / "slow", {"x": 2 * noisy(n, 0.01, 9)}, node="slow")
    runs, table = history.read_runs(fast + slow)
    changed, series = history.find_changes(table, runs)
    assert changed.empty and sorted(series["machine"]) == ["fast (Planted CPU)", "slow (Planted CPU)"]


def test_a_file_that_is_not_a_run_gets_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}')
    good = planted(tmp_path / "runs", {"x": noisy(3, 0.01, 1)})
    done = dnnbench("history", good[0], bad, "-o", tmp_path / "out", cwd=ROOT)
    assert done.returncode == 2 and "notes.json: not a pytest-benchmark results file" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("noise", [0.005, 0.03, 0.1])
def test_the_false_alarm_rate_on_pure_noise_is_low(noise):
    """200 histories of 40 runs each, no change planted: the share with any change reported (README: its figure)."""
    alarms = 0
    for seed in range(200):
        medians = noisy(40, noise, 1000 + seed)
        changes, _ = history.changes(medians, medians * 0.02 * 1.349, np.full(40, 50))
        alarms += bool(changes)
    assert alarms / 200 <= 0.02, f"{alarms} of 200 pure-noise histories had a change reported"


def test_dnnbench_run_folders_are_ordered_by_the_date_their_stream_started(tmp_path):
    """Run folders as `make bench` writes them (results/bench-<time>/results.stream.jsonl), named against their
    date order; one benchmark 50% slower from the fourth run on."""
    from tests.fake_results import benchmarks, machine_info

    slow = "test_op[softmax-forward-cpu-fp32-1024x4096-eager]"
    folders = []
    for i in range(6):
        folder = tmp_path / f"bench-{5 - i}"
        folder.mkdir()
        started = (START + timedelta(days=i)).isoformat()
        header = {"machine_info": machine_info("laptop"), "dnnbench": {"started": started, "profile": "quick"}}
        rows = benchmarks("laptop", seed=i, slowdown={slow: 1.5} if i >= 3 else None)
        (folder / "results.stream.jsonl").write_text("".join(json.dumps(x) + "\n" for x in [header, *rows]))
        folders.append(folder)
    done = dnnbench("history", *reversed(folders), "-o", tmp_path / "out", "--fail-on-regression", cwd=ROOT)
    assert done.returncode == 1, done.stdout + done.stderr
    changes = pd.read_csv(tmp_path / "out" / "changes.csv")
    assert list(changes["benchmark"]) == [slow] and list(changes["run"]) == ["bench-2"]
    assert changes["ratio"].iloc[0] == pytest.approx(1.5, rel=0.05)
