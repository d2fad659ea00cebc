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


def speedups(df: pd.DataFrame, baseline: str = "eager") -> pd.DataFrame:
    """Op rows with `speedup` = baseline median / variant median, both from the same group of the same run (the same
    results file); where the baseline was timed in another file of the same machine (another shard or xdist worker
    of a sweep, another run), the median of that machine's baseline medians in the group."""
    ops = df[df["kind"] == "op"].copy()
    bases = ops[ops["variant"] == baseline]
    same_file = bases.groupby(["machine", "source", "group"])["median_s"].first()
    same_machine = bases.groupby(["machine", "group"])["median_s"].median()
    base = same_file.reindex(pd.MultiIndex.from_frame(ops[["machine", "source", "group"]])).to_numpy(dtype=float)
    other = same_machine.reindex(pd.MultiIndex.from_frame(ops[["machine", "group"]])).to_numpy(dtype=float)
    ops["speedup"] = np.where(np.isnan(base), other, base) / ops["median_s"].to_numpy(dtype=float)
    return ops


def speedup_markdown(df: pd.DataFrame, baseline: str = "eager") -> str:
    ops = speedups(df, baseline)
    if ops.empty:
        return "(no op benchmarks)\n"
    ops["time"] = ops["median_s"].map(lambda s: f"{s * 1e6:,.1f} us")
    ops["GB/s"] = ops["gbps"].map(lambda v: f"{v:,.1f}")
    ops["GFLOP/s"] = ops["gflops"].map(lambda v: f"{v:,.1f}")
    ops["x " + baseline] = ops["speedup"].map(lambda v: "-" if pd.isna(v) else f"{v:.2f}")
    ops["error"] = ops["rel_error"].map(lambda v: f"{v:.1e}")
    ops["noisy"] = ops["noisy"].map(lambda v: "noisy" if v else "")
    cols = [
        "op",
        "mode",
        "device",
        "dtype",
        "shape",
        "variant",
        "time",
        "GB/s",
        "GFLOP/s",
        "x " + baseline,
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
