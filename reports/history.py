"""`dnnbench history RUN... -o DIR`: many runs of the suite over time, each benchmark followed across them (per
machine, device, timer and cache state: never mixed), the run where each change in its time began, and a gate for
CI (`--fail-on-regression`).

The model. A benchmark's series is the log of its median per run, y_i, in the runs' date order. Each run's own
spread enters as the standard error of its log-median, s_i = 1.2533 x (IQR / 1.349) / median / sqrt(rounds) (a
median's standard error under a normal model, the IQR's sigma); the spread from run to run, tau, is estimated from
the series itself, robustly (1.4826 x the median absolute difference of successive runs / sqrt(2): neither a step
nor an outlier moves it much), and whatever of it the runs' own spread does not explain is added to every run:
v_i = s_i^2 + max(0, tau^2 - median(s^2)), never below (1%)^2, the suite's target for a median's relative error. A
noisy benchmark, or a noisy run, so needs a larger step.

Change points: PELT (ruptures) on y with a cost of its own, the weighted squared error sum w_i (y_i - mean_w)^2 with
w_i = 1 / v_i, whose drop at a true change grows as step^2 / variance and under no change is a chi-square with
one degree of freedom per point; the penalty PENALTY_PER_LOG_N x log(n) + PENALTY is set from the false-alarm
rate measured on long pure-noise histories (tests/test_history.py; the README gives the figure). Segments hold
MIN_RUNS runs or more, so that one odd run cannot be a segment of its own; a run far from the runs on both sides
(its distance to the median of the two runs before it and to that of the two after it both above OUTLIER_Z x
sqrt(v_i)) is left out of the search and named. The latest run, which no later run can confirm, is a change of its
own when it lies LATEST_Z standard errors from the level before it. A change is kept when its step is also at least
MIN_STEP (2%).

Each change: the run where it began, the medians of the runs before and after (within their segments), their ratio,
slower or faster, and the evidence (z, the runs on each side, the spread). ruptures is imported only here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

MIN_RUNS = 2  # a segment between two changes holds at least this many runs
PENALTY_PER_LOG_N, PENALTY = 3.0, 12.0  # in chi-square units of the weighted cost
OUTLIER_Z = 6.0  # a run this many standard errors from the median of its neighbours is an outlier
LATEST_Z = 6.0  # the latest run alone is a change when this far from the level before it
MIN_STEP = 0.02  # a change smaller than 2% is not reported, whatever its z
NOISE_FLOOR = 0.01  # the least relative spread a run is given (the suite aims for a median's error under 1%)
SERIES = ["benchmark", "machine", "device", "timer", "cache"]
DNNBENCH_FIELDS = {"op", "ceiling", "lesson"}  # a dnnbench row's extra_info has one (reports/load.py entry_row)


@dataclass(frozen=True)
class Run:
    label: str  # the file or folder it came from
    date: datetime
    commit: str | None


class HistoryError(ValueError):
    """A file that cannot be read as a run, or too little to make a history of."""


# ---- reading runs ----


def _date(text: str | None, fallback: Path) -> datetime:
    if text:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(fallback.stat().st_mtime, timezone.utc)  # a stream written before it was dated


def _pytest_benchmark_run(path: Path, data: dict) -> tuple[Run, pd.DataFrame]:
    """A pytest-benchmark JSON file of any project (--benchmark-json, or .benchmarks/**/*.json from autosave)."""
    info, commit = data.get("machine_info", {}), data.get("commit_info", {})
    cpu = (info.get("cpu") or {}).get("brand_raw") or info.get("processor") or "cpu"
    machine = f"{info.get('node', 'unknown host')} ({cpu})"
    rows = [
        {
            "benchmark": b.get("fullname") or b["name"],
            "machine": machine,
            "device": (b.get("extra_info") or {}).get("device") or "-",
            "timer": (b.get("extra_info") or {}).get("timer") or "wall",
            "cache": (b.get("extra_info") or {}).get("cache") or "warm",
            "median_s": b["stats"]["median"],
            "iqr_s": b["stats"].get("iqr"),
            "rounds": b["stats"].get("rounds"),
        }
        for b in data.get("benchmarks", [])
    ]
    sha = commit.get("id")
    label = f"{sha[:12]}{'-dirty' if commit.get('dirty') else ''}" if sha else None
    return Run(str(path), _date(data.get("datetime"), path), label), pd.DataFrame(rows)


def _dnnbench_run(path: Path, date: str | None = None) -> tuple[Run, pd.DataFrame]:
    """A dnnbench run: its folder, results.json (`date`: its pytest-benchmark datetime) or stream."""
    from reports.load import load

    frame = load([path])
    frame = frame[frame["median_s"].notna()]
    commits = sorted(set(frame["commit"].dropna()))
    started = [r.get("started") for r in frame.attrs.get("runs", []) if r.get("started")]
    stream = next(iter(sorted(path.rglob("*.stream*.jsonl")) if path.is_dir() else [path]), path)
    rows = frame.rename(columns={"name": "benchmark"})[[*SERIES, "median_s", "iqr_s", "rounds"]]
    when = _date(min(started) if started else date, stream)  # a stream without a date: its file's time
    return Run(str(path), when, ",".join(commits) or None), rows


def read_run(path: Path) -> tuple[Run, pd.DataFrame]:
    if not path.exists():
        raise HistoryError(f"{path}: no such file or folder")
    if path.is_file() and path.suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise HistoryError(f"{path}: not JSON ({e})") from None
        if not isinstance(data, dict) or "benchmarks" not in data:
            raise HistoryError(f"{path}: not a pytest-benchmark results file (no 'benchmarks')")
        extras = [b.get("extra_info") or {} for b in data["benchmarks"]]
        if not any(DNNBENCH_FIELDS & set(e) for e in extras):  # another project's benchmarks, or autosave's
            return _pytest_benchmark_run(path, data)
        date = data.get("datetime")
    else:
        date = None
    try:
        return _dnnbench_run(path, date)
    except ValueError as e:  # reports.load's ResultsError: its message names the file
        raise HistoryError(str(e)) from None


def read_runs(paths: list[Path]) -> tuple[list[Run], pd.DataFrame]:
    """Every run, ordered by date, and one long table: a row per benchmark and run (column `run`: its index)."""
    pairs = sorted((read_run(Path(p)) for p in paths), key=lambda pair: pair[0].date)
    runs = [run for run, _ in pairs]
    frames = [rows.assign(run=i) for i, (_, rows) in enumerate(pairs)]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return runs, table


# ---- the model ----


def log_standard_error(median: float, iqr: float | None, rounds: float | None) -> float:
    """The standard error of log(median) from a run's own IQR and rounds; 0 where they are unknown."""
    if not median or not iqr or not rounds or rounds < 2 or any(map(math.isnan, (iqr, rounds))):
        return 0.0
    return 1.2533 * (iqr / 1.349) / median / math.sqrt(rounds)


def variances(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """v_i: each run's own variance plus the run-to-run spread it does not explain, floored (see the module)."""
    tau = 1.4826 * float(np.median(np.abs(np.diff(y)))) / math.sqrt(2) if len(y) >= 3 else 0.0
    extra = max(0.0, tau**2 - float(np.median(s**2)))
    return np.maximum(s**2 + extra, NOISE_FLOOR**2)


def _weighted_l2(weights: np.ndarray):
    """ruptures' cost for a series: the weighted squared error of a segment around its weighted mean, from prefix
    sums (each segment in O(1))."""
    from ruptures.base import BaseCost

    class WeightedL2(BaseCost):
        model, min_size = "weighted_l2", MIN_RUNS

        def fit(self, signal):
            y = np.asarray(signal, dtype=float).reshape(-1)
            self.signal = y.reshape(-1, 1)  # what ruptures reads the length from
            self.sw, self.swy, self.swyy = (
                np.concatenate([[0.0], np.cumsum(x)]) for x in (weights, weights * y, weights * y * y)
            )
            return self

        def error(self, start: int, end: int) -> float:
            sw, swy = self.sw[end] - self.sw[start], self.swy[end] - self.swy[start]
            return float(self.swyy[end] - self.swyy[start] - swy * swy / sw)

    return WeightedL2()


def _segments(y: np.ndarray, v: np.ndarray) -> list[int]:
    """The indices where a new level begins (PELT with the weighted cost), within the points given."""
    if len(y) < 2 * MIN_RUNS:
        return []
    try:
        import ruptures
    except ImportError:
        raise HistoryError("dnnbench history needs ruptures: pip install -e '.[history]'") from None
    penalty = PENALTY_PER_LOG_N * math.log(len(y)) + PENALTY
    pelt = ruptures.Pelt(custom_cost=_weighted_l2(1.0 / v), min_size=MIN_RUNS, jump=1)
    return pelt.fit(y).predict(pen=penalty)[:-1]


def outliers(y: np.ndarray, v: np.ndarray) -> list[int]:
    """Runs (neither the first nor the latest) far from the runs on both sides of them, the two before and the two
    after (a step is near one side): left out of the search."""
    found = []
    for i in range(1, len(y) - 1):
        left, right = np.median(y[max(0, i - 2) : i]), np.median(y[i + 1 : i + 3])
        if min(abs(y[i] - left), abs(y[i] - right)) > OUTLIER_Z * math.sqrt(v[i]):
            found.append(i)
    return found


@dataclass
class Change:
    run: int  # the index of the run where the new level began
    before_s: float
    after_s: float
    z: float
    runs_before: int
    runs_after: int
    spread: float  # the runs' relative spread (sqrt of the median v)
    latest_only: bool  # the latest run alone: no later run confirms it yet

    @property
    def ratio(self) -> float:
        return self.after_s / self.before_s

    @property
    def direction(self) -> str:
        return "slower" if self.ratio > 1 else "faster"

    @property
    def evidence(self) -> str:
        step = f"a {abs(self.ratio - 1):.1%} step, {self.z:.1f} standard errors"
        sides = f"{self.runs_before} run(s) before, {self.runs_after} after"
        latest = "; the latest run only, not yet confirmed by a later one" if self.latest_only else ""
        return f"{step} ({sides}; each run's spread about {self.spread:.1%}){latest}"


def _level(y: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """A segment's weighted mean of log-medians and its variance."""
    w = 1.0 / v
    return float(np.sum(w * y) / np.sum(w)), float(1.0 / np.sum(w))


def changes(medians: np.ndarray, iqrs: np.ndarray, rounds: np.ndarray) -> tuple[list[Change], list[int]]:
    """The changes in one series of runs (in date order), and the runs left out as outliers."""
    y = np.log(np.asarray(medians, dtype=float))
    s = np.array([log_standard_error(m, q, r) for m, q, r in zip(medians, iqrs, rounds, strict=True)])
    v = variances(y, s)
    odd = outliers(y, v)
    kept = [i for i in range(len(y)) if i not in odd]
    body = kept[:-1] if len(kept) > 2 * MIN_RUNS else kept  # the latest run is judged on its own below
    starts = [body[j] for j in _segments(y[body], v[body])]
    found: list[Change] = []
    bounds = [body[0], *starts, body[-1] + 1]
    spread = math.sqrt(float(np.median(v)))
    for k, start in enumerate(starts):
        left = [i for i in kept if bounds[k] <= i < start]
        right = [i for i in kept if start <= i < bounds[k + 2]]
        (a, va), (b, vb) = _level(y[left], v[left]), _level(y[right], v[right])
        z = abs(b - a) / math.sqrt(va + vb)
        if abs(math.exp(b - a) - 1) >= MIN_STEP:
            before, after = float(np.median(medians[left])), float(np.median(medians[right]))
            found.append(Change(start, before, after, z, len(left), len(right), spread, False))
    last = kept[-1]
    if body is not kept and last == len(y) - 1:
        level = [i for i in body if i >= bounds[-2]]
        a, va = _level(y[level], v[level])
        z = abs(y[last] - a) / math.sqrt(va + v[last])
        if z > LATEST_Z and abs(math.exp(y[last] - a) - 1) >= MIN_STEP:
            before = float(np.median(medians[level]))
            found.append(Change(last, before, float(medians[last]), z, len(level), 1, spread, True))
    return found, odd


def find_changes(table: pd.DataFrame, runs: list[Run]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every series' changes (one row each, the columns of changes.csv) and every series' summary (its latest
    change, if any, and its outlier runs)."""
    rows, series = [], []
    for key, group in table.groupby(SERIES, sort=True, dropna=False):
        group = group.sort_values("run").drop_duplicates("run", keep="last")
        if len(group) < 2:
            continue
        found, odd = changes(group["median_s"].to_numpy(), group["iqr_s"].to_numpy(), group["rounds"].to_numpy())
        order = group["run"].to_list()
        named = dict(zip(SERIES, key, strict=True))
        for c in found:
            run, previous = runs[order[c.run]], runs[order[c.run - 1]]
            rows.append(
                {
                    **named,
                    "run": Path(run.label).name,
                    "date": run.date.isoformat(timespec="seconds"),
                    "commits": f"{previous.commit or '?'} .. {run.commit or '?'}",
                    "before_s": c.before_s,
                    "after_s": c.after_s,
                    "ratio": c.ratio,
                    "direction": c.direction,
                    "evidence": c.evidence,
                    "run_index": order[c.run],
                    "latest_only": c.latest_only,
                }
            )
        latest = found[-1] if found else None
        series.append(
            {
                **named,
                "runs": len(group),
                "latest change": _said(latest, runs[order[latest.run]]) if latest else "none",
                "in force": bool(latest and latest.direction == "slower"),
                "outlier runs": ", ".join(Path(runs[order[i]].label).name for i in odd),
            }
        )
    columns = [*SERIES, "run", "date", "commits", "before_s", "after_s", "ratio", "direction", "evidence"]
    changed = pd.DataFrame(rows, columns=[*columns, "run_index", "latest_only"])
    return changed, pd.DataFrame(series)


def _said(change: Change, run: Run) -> str:
    return f"{change.direction} x{change.ratio:.3f} at {Path(run.label).name}"


def regressions_in_force(changed: pd.DataFrame) -> pd.DataFrame:
    """Each series whose latest change made it slower: the regressions a CI gate fails on."""
    if changed.empty:
        return changed
    latest = changed.sort_values("run_index").groupby(SERIES, dropna=False).tail(1)
    return latest[latest["direction"] == "slower"]
