"""Per op with peer libraries on its ladder (kernels/peers/: Liger-Kernel, FlagGems, or any package that joined
through the `dnnbench.variants` entry points): "Against the peers". At every shape of the same run, eager, our
fastest Triton rung and each peer side by side; each peer's time as a ratio to ours with its 95% interval (above 1:
ours is faster); what each keeps for the backward; why a peer was not timed here; and what each gets wrong, as its
wrapper declares it (every declaration is shown true by tests/test_peers.py) and the run's stream header recorded
it. Like every section it reads result files only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports.ops import _mib, primary
from reports.section import ReportContext, Section
from reports.summary import Z95, apart_from_one

KEYS = ["machine", "device", "timer", "cache", "dtype", "mode", "shape"]


TRITON_RUNG = 3  # kernels/registry.py RUNGS["triton"]


def declarations(runs: list[dict]) -> dict[str, dict[str, dict]]:
    """op -> peer -> {library, declared}, as the runs' stream headers recorded them (bench/plugin.py)."""
    out: dict[str, dict[str, dict]] = {}
    for run in runs:
        for op, peers in (run.get("peers") or {}).items():
            out.setdefault(op, {}).update(peers)
    return out


def peer_names(op: str, rows: pd.DataFrame, declared: dict) -> list[str]:
    """The peers of `op`: those the runs declared, then any other variant the results mark with a library."""
    names = sorted(declared.get(op, {}))
    marked = rows.loc[rows.get("library", pd.Series(dtype=object)).fillna("").astype(bool), "variant"]
    return names + sorted(set(marked) - set(names))


def ours_mask(rows: pd.DataFrame, peers: list[str]) -> pd.Series:
    """This project's own Triton rungs."""
    return (rows["rung"] >= TRITON_RUNG) & ~rows["variant"].isin(peers)


def ratio_cell(peer: pd.Series, ours: pd.Series) -> str:
    """'41.0 us; ours 1.35x (1.20-1.52)': the peer's median and its time over ours, with the interval."""
    ratio = peer["median_s"] / ours["median_s"]
    text = f"{peer['median_s'] * 1e6:,.1f} us; ours {ratio:.2f}x"
    if pd.notna(peer.get("rse")) and pd.notna(ours.get("rse")):
        spread = Z95 * np.sqrt(peer["rse"] ** 2 + ours["rse"] ** 2)
        text += f" ({ratio * np.exp(-spread):.2f}-{ratio * np.exp(spread):.2f})"
    if peer["mode"] == "backward" and pd.notna(peer.get("saved_bytes")):
        text += f"; keeps {_mib(peer['saved_bytes'])}"
    return text


def against_table(rows: pd.DataFrame, peers: list[str]) -> tuple[pd.DataFrame | None, list[tuple[str, float, float]]]:
    """One row per case: eager, our fastest Triton rung, each peer; and (peer, lo, hi) of every ratio with an
    interval, for the sentences."""
    out, intervals = [], []
    for key, group in rows.groupby(KEYS, sort=False):
        timed_peers = group[group["variant"].isin(peers)]
        ours = group[ours_mask(group, peers)]
        if timed_peers.empty:
            continue
        line = dict(zip(KEYS, key, strict=True))
        eager = group[group["baseline"].astype(bool)]
        line["eager"] = f"{eager['median_s'].iloc[0] * 1e6:,.1f} us" if not eager.empty else "-"
        best = ours.loc[ours["median_s"].idxmin()] if not ours.empty else None
        line["ours (fastest Triton)"] = "-" if best is None else f"{best['variant']}: {best['median_s'] * 1e6:,.1f} us"
        for _, peer in timed_peers.iterrows():
            if best is None:
                line[peer["variant"]] = f"{peer['median_s'] * 1e6:,.1f} us"
                continue
            line[peer["variant"]] = ratio_cell(peer, best)
            if pd.notna(peer.get("rse")) and pd.notna(best.get("rse")):
                ratio = peer["median_s"] / best["median_s"]
                spread = Z95 * np.sqrt(peer["rse"] ** 2 + best["rse"] ** 2)
                intervals.append((peer["variant"], ratio * np.exp(-spread), ratio * np.exp(spread)))
        out.append(line)
    if not out:
        return None, intervals
    table = pd.DataFrame(out).fillna("-")
    if table["machine"].nunique() == 1:
        table = table.drop(columns="machine")
    return table, intervals


def verdicts(intervals: list[tuple[str, float, float]], peers: list[str]) -> list[str]:
    """Per peer: at how many cases ours is faster, slower, or neither by its interval."""
    out = []
    for name in peers:
        mine = [(lo, hi) for peer, lo, hi in intervals if peer == name]
        if not mine:
            continue
        faster = sum(lo > 1 for lo, _ in mine)
        slower = sum(hi < 1 for _, hi in mine)
        unclear = sum(not apart_from_one(lo, hi) for lo, hi in mine)
        out.append(
            f"Against {name}: ours is faster at {faster} of {len(mine)} cases, slower at {slower}; "
            f"no winner claimed at {unclear} (the interval includes 1)."
        )
    return out


def defects(op: str, declared: dict) -> pd.DataFrame | None:
    """What each peer is declared to get wrong or do differently, with the reason (as the run recorded it)."""
    lines = [
        {"peer": f"{name} ({peer['library']})", "declared": why}
        for name, peer in sorted(declared.get(op, {}).items())
        for why in peer.get("declared", [])
    ]
    return pd.DataFrame(lines) if lines else None


def not_timed(op: str, peers: list[str], coverage: list[dict]) -> list[str]:
    """Why a peer's benchmarks gave no figure here (skips and failures, each reason once, with its count)."""
    out = []
    for name in peers:
        reasons: dict[str, int] = {}
        for e in coverage:
            param = e.get("param") or ""
            if param.startswith(f"{op}-") and param.endswith(f"-{name}"):
                why = f"{e['status']}: {e['reason']}"
                reasons[why] = reasons.get(why, 0) + 1
        out += [f"{name} not timed in {n} benchmarks ({why})." for why, n in reasons.items()]
    return out


def peer_sections(ctx: ReportContext) -> list[Section]:
    out = []
    coverage = ctx.meta.get("coverage") or []
    declared = declarations(ctx.meta.get("runs") or [])
    for op in sorted(set(ctx.ops["op"].dropna())):
        rows = primary(ctx.ops[ctx.ops["op"] == op])
        peers = peer_names(op, rows, declared)
        if not peers:
            continue
        table, intervals = against_table(rows, peers)
        text = verdicts(intervals, peers) + not_timed(op, peers, coverage)
        if table is None and not text:
            text = ["No peer was timed or skipped in these results."]
        tables = []
        if table is not None:
            caption = "Eager, our fastest Triton rung and each peer: the peer's time over ours (above 1: ours faster)"
            tables.append((caption, table))
        wrong = defects(op, declared)
        if wrong is not None:
            tables.append(("What each peer is declared to get wrong (each shown by tests/test_peers.py)", wrong))
        out.append(Section(f"Against the peers: {op}", text, [], tables))
    return out
