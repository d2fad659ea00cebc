"""Compare two runs benchmark by benchmark, with noise taken into account.

Benchmarks are paired by pytest-benchmark's `fullname`, so any pytest-benchmark files compare (`--benchmark-json`
or `--benchmark-save` output), not only dnnbench's. A pair's change is new median / base median - 1. Its verdict is
"faster" or "slower" only when both hold:
- the difference is real: with the per-round timings in both files, a two-sided Mann-Whitney U test (as asv uses)
  at p < 0.001 (strict, since one compare makes hundreds of tests); without them, the IQRs do not overlap;
- the difference is larger than the spread: |new median - base median| exceeds the larger of the two IQRs, so
  thousands of rounds cannot turn a shift inside the run-to-run spread into a verdict.
Otherwise it is "within noise".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reports.load import read_entries

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


def entries_by_name(paths) -> dict[str, dict]:
    out = {}
    for p in map(Path, paths):
        for e in read_entries(p)[1]:
            if isinstance(e, dict) and "median" in (e.get("stats") or {}):
                out[e.get("fullname") or e.get("name")] = e["stats"]
    return out


def compare(base_paths, new_paths) -> tuple[list[Pair], list[str], list[str]]:
    """(pairs, names only in base, names only in new)."""
    base, new = entries_by_name(base_paths), entries_by_name(new_paths)
    pairs = []
    for name in sorted(base.keys() & new.keys()):
        b, n = base[name], new[name]
        verdict, evidence = judge(b, n)
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
