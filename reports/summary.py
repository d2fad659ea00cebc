"""Compact comparison tables: each variant's median time and its speedup over the baseline, per group."""

from __future__ import annotations

import numpy as np
import pandas as pd


def markdown_table(df: pd.DataFrame) -> str:
    """A pipe table of `df` as it is (strings shown as they are)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


Z95 = 1.959964
# a case is told apart by its group and by how it was timed: warm and cold rows, or two timers, are never paired
MEASURED_AS = ["group", "cache", "timer"]


def with_speedups(df: pd.DataFrame, baseline: str = "eager") -> pd.DataFrame:
    """`df` with, on op rows, `speedup` = baseline median / variant median and its 95% interval (`speedup_lo`,
    `speedup_hi`). Both medians come from the same group, cache state and timer of the same run (the same results
    file); where the baseline was timed in another file of the same machine (another shard or xdist worker of a
    sweep, another run), the median of that machine's baseline medians there, with the largest of their errors.

    The interval: each median's relative standard error (`rse`, from the order statistics of its rounds,
    bench/rounds.py) combined in log space, ratio * exp(-+1.96 sqrt(rse_base^2 + rse^2)). A row without a
    recorded `rse` (results written before it was) gets no interval, and no win is claimed for it."""
    df = df.copy()
    ops = df[df["kind"] == "op"]
    bases = ops[ops["variant"] == baseline]
    keys = [["machine", "source", *MEASURED_AS], ["machine", *MEASURED_AS]]
    same_file = bases.groupby(keys[0]).agg(median_s=("median_s", "first"), rse=("rse", "first"))
    same_machine = bases.groupby(keys[1]).agg(median_s=("median_s", "median"), rse=("rse", "max"))
    a = same_file.reindex(pd.MultiIndex.from_frame(ops[keys[0]]))
    b = same_machine.reindex(pd.MultiIndex.from_frame(ops[keys[1]]))
    found = a["median_s"].notna().to_numpy()
    base_s = np.where(found, a["median_s"].to_numpy(dtype=float), b["median_s"].to_numpy(dtype=float))
    base_rse = np.where(found, a["rse"].to_numpy(dtype=float), b["rse"].to_numpy(dtype=float))
    speedup = base_s / ops["median_s"].to_numpy(dtype=float)
    spread = Z95 * np.sqrt(base_rse**2 + ops["rse"].to_numpy(dtype=float) ** 2)
    df[["speedup", "speedup_lo", "speedup_hi"]] = np.nan  # float columns: a speedup of a 0 s median is inf
    df.loc[ops.index, "speedup"] = speedup
    df.loc[ops.index, "speedup_lo"] = speedup * np.exp(-spread)
    df.loc[ops.index, "speedup_hi"] = speedup * np.exp(spread)
    return df


def speedups(df: pd.DataFrame, baseline: str = "eager") -> pd.DataFrame:
    """The op rows of with_speedups(df, baseline)."""
    out = with_speedups(df, baseline)
    return out[out["kind"] == "op"]


def apart_from_one(lo: float, hi: float) -> bool:
    """Whether a speedup's interval excludes 1: only then is one variant faster than the other."""
    return bool(lo > 1 or hi < 1)


def interval_text(r) -> str:
    """'95% interval 1.91-2.10' of a row's speedup, or 'no interval' where its rounds' error was not recorded."""
    if pd.isna(r["speedup_lo"]):
        return "no interval"
    return f"95% interval {r['speedup_lo']:.2f}-{r['speedup_hi']:.2f}"


def speedup_markdown(df: pd.DataFrame, baseline: str = "eager") -> str:
    ops = speedups(df, baseline)
    if ops.empty:
        return "(no op benchmarks)\n"
    ops["time"] = ops["median_s"].map(lambda s: f"{s * 1e6:,.1f} us")
    ops["GB/s"] = ops["gbps"].map(lambda v: f"{v:,.1f}")
    ops["GFLOP/s"] = ops["gflops"].map(lambda v: f"{v:,.1f}")
    ops["x " + baseline] = [
        "-" if pd.isna(v) else f"{v:.2f}" + ("" if pd.isna(lo) else f" ({lo:.2f}-{hi:.2f})")
        for v, lo, hi in zip(ops["speedup"], ops["speedup_lo"], ops["speedup_hi"], strict=True)
    ]
    ops["J/call"] = ops["energy_j_per_call"].map(lambda v: "-" if pd.isna(v) else f"{v:.3g}")
    ops["GFLOP/J"] = ops["gflop_per_j"].map(lambda v: "-" if pd.isna(v) else f"{v:,.1f}")
    ops["timer"] = ops["timer"] + ", " + ops["cache"]
    ops["error"] = ops["rel_error"].map(lambda v: f"{v:.1e}")
    ops["noisy"] = [
        ", ".join(word for word, on in (("noisy", n), ("throttled", t is True)) if on)
        for n, t in zip(ops["noisy"], ops["throttled"], strict=True)
    ]
    cols = [
        "op",
        "mode",
        "device",
        "dtype",
        "shape",
        "variant",
        "timer",
        "time",
        "GB/s",
        "GFLOP/s",
        "x " + baseline,
        "J/call",
        "GFLOP/J",
        "error",
        "noisy",
    ]
    return markdown_table(ops.sort_values(["op", "mode", "device", "dtype", "batch", "shape", "median_s"])[cols])


def ceilings_markdown(df: pd.DataFrame) -> str:
    c = df[df["kind"] == "ceiling"]
    if c.empty:
        return "(no calibration)\n"
    c = c.assign(
        value=[
            f"{g:,.1f} GFLOP/s" if k == "matmul" else f"{b:,.1f} GB/s"
            for k, g, b in zip(c["ceiling"], c["gflops"], c["gbps"], strict=True)
        ]
    )
    return markdown_table(c[["device", "ceiling", "dtype", "value"]])
