"""Compare two runs benchmark by benchmark, with noise taken into account.

Benchmarks are paired by pytest-benchmark's `fullname`, so any pytest-benchmark files compare (`--benchmark-json`
or `--benchmark-save` output), not only dnnbench's. A pair's change is new median / base median - 1. Its verdict is
"faster" or "slower" only when both hold:
- the difference is real: with the per-round timings in both files, a two-sided Mann-Whitney U test (as asv uses)
  at p < 0.001 (strict, since one compare makes hundreds of tests); without them, the IQRs do not overlap;
- the difference is larger than the spread: |new median - base median| exceeds the larger of the two IQRs, so
  thousands of rounds cannot turn a shift inside the run-to-run spread into a verdict.
Otherwise it is "within noise".

Timings from different GPU models are not an A/B of the code: compare refuses them unless told (across_gpus), and
names both sides' GPUs. Two dnnbench rows timed differently (another timer or cache state: warm against cold, host
clock against CUDA events) are "not comparable", with both ways named, never a verdict. A side may be a folder of
results (a sharded sweep's): every stream in it is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports.load import MISSING_SHARDS, ResultsError, expand, read_entries

ALPHA = 0.001  # strict: a compare makes hundreds of tests at once
MIN_SAMPLES = 5


def mann_whitney_p(a, b) -> float:
    """Two-sided p-value of the Mann-Whitney U test, normal approximation with tie correction."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    n1, n2 = len(a), len(b)
    ranks = pd.Series(np.concatenate([a, b])).rank().to_numpy()  # average ranks for ties
    u = ranks[:n1].sum() - n1 * (n1 + 1) / 2
    _, counts = np.unique(np.concatenate([a, b]), return_counts=True)
    n = n1 + n2
    tie = (counts**3 - counts).sum() / (n * (n - 1)) if n > 1 else 0.0
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie))
    if sigma == 0:
        return 1.0
    z = (abs(u - n1 * n2 / 2) - 0.5) / sigma  # continuity correction
    return math.erfc(max(z, 0.0) / math.sqrt(2))


@dataclass(frozen=True)
class Pair:
    name: str
    base_s: float
    new_s: float
    change_pct: float
    verdict: str
    evidence: str


def judge(base: dict, new: dict) -> tuple[str, str]:
    """Verdict and the evidence it rests on, from two pytest-benchmark `stats` dicts."""
    diff = new["median"] - base["median"]
    spread = max(base.get("iqr") or 0.0, new.get("iqr") or 0.0)
    a, b = base.get("data") or [], new.get("data") or []
    if len(a) >= MIN_SAMPLES and len(b) >= MIN_SAMPLES:
        p = mann_whitney_p(a, b)
        real, evidence = p < ALPHA, f"U test p={p:.2g}"
    else:
        real = new["q1"] > base["q3"] or new["q3"] < base["q1"]
        evidence = "IQRs apart" if real else "IQRs overlap"
    if not real or abs(diff) <= spread:
        return "within noise", evidence
    return ("slower" if diff > 0 else "faster"), evidence


def gpu_model(machine: dict) -> str | None:
    """The GPU model a results file was measured on: the one it timed on, else the machine's first; None without."""
    info = machine.get("dnnbench") or {}
    used = info.get("gpu_used") or {}
    gpus = info.get("gpus") or []
    return used.get("name") or (gpus[0].get("name") if gpus else None)


def timed_as(entry: dict) -> str | None:
    """How a dnnbench row was timed ('cold, cuda_events'; rows from before they said so: 'warm, wall'), None for
    another project's benchmark."""
    info = entry.get("extra_info") or {}
    if not isinstance(info, dict) or not ({"op", "lesson", "ceiling"} & set(info)):
        return None
    return f"{info.get('cache') or 'warm'}, {info.get('timer') or 'wall'}"


def entries_by_name(paths) -> tuple[dict[str, dict], set[str]]:
    """(benchmark name -> its stats with `timed_as`, the GPU models the files were measured on)."""
    out, gpus = {}, set()
    for p in expand(paths):
        if p.name.startswith("study-") or p.name == MISSING_SHARDS:
            continue
        machine, entries = read_entries(p)
        gpus |= {gpu_model(machine)} - {None}
        for e in entries:
            if isinstance(e, dict) and "median" in (e.get("stats") or {}):
                out[e.get("fullname") or e.get("name")] = {**e["stats"], "timed_as": timed_as(e)}
    return out, gpus


def compare(base_paths, new_paths, across_gpus: bool = False) -> tuple[list[Pair], list[str], list[str]]:
    """(pairs, names only in base, names only in new). Raises ResultsError when the two sides ran on different GPU
    models, unless across_gpus."""
    (base, base_gpus), (new, new_gpus) = entries_by_name(base_paths), entries_by_name(new_paths)
    if base_gpus and new_gpus and base_gpus != new_gpus and not across_gpus:
        raise ResultsError(
            f"base ran on {', '.join(sorted(base_gpus))} and new on {', '.join(sorted(new_gpus))}: timings from "
            "different GPU models are not an A/B comparison of the code; pass --across-gpus to compare them anyway"
        )
    pairs = []
    for name in sorted(base.keys() & new.keys()):
        b, n = base[name], new[name]
        verdict, evidence = judge(b, n)
        if b["timed_as"] != n["timed_as"] and None not in (b["timed_as"], n["timed_as"]):
            verdict, evidence = "not comparable", f"timed {b['timed_as']} against {n['timed_as']}"
        change = (n["median"] / b["median"] - 1) * 100 if b["median"] else math.inf
        pairs.append(Pair(name, b["median"], n["median"], change, verdict, evidence))
    return pairs, sorted(base.keys() - new.keys()), sorted(new.keys() - base.keys())


def regressions(pairs: list[Pair], fail_above_pct: float) -> list[Pair]:
    """Pairs slower beyond noise and by more than `fail_above_pct` percent."""
    return [p for p in pairs if p.verdict == "slower" and p.change_pct > fail_above_pct]


def format_pairs(pairs: list[Pair]) -> str:
    width = max([len(p.name) for p in pairs] + [9])
    lines = [f"{'benchmark':<{width}}  {'base':>11}  {'new':>11}  {'change':>8}  verdict (evidence)"]
    for p in pairs:
        lines.append(
            f"{p.name:<{width}}  {p.base_s * 1e6:>9.1f}us  {p.new_s * 1e6:>9.1f}us  {p.change_pct:>+7.1f}%  "
            f"{p.verdict} ({p.evidence})"
        )
    return "\n".join(lines)
