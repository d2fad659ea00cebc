"""The lessons' section of the report: each training lesson's throughput (samples/s) against batch size per
backend, and where the time of an eager training step goes (each hot op's share, from torch.profiler)."""

from __future__ import annotations

import pandas as pd

from reports import plots
from reports.ops import method_sentence
from reports.section import ReportContext, Section


def lesson_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["kind"] == "lesson"].copy()


def throughput_table(rows: pd.DataFrame) -> pd.DataFrame:
    """samples/s per backend, one row per (lesson, mode, device, dtype, batch); '~' marks a noisy figure."""
    cell = [f"{s:,.0f}{' ~' if n else ''}" for s, n in zip(rows["samples_per_s"], rows["noisy"], strict=True)]
    keys = ["op", "mode", "device", "dtype", "family", "batch"]
    table = rows.assign(cell=cell).pivot_table(index=keys, columns="variant", values="cell", aggfunc="first")
    known = [b for b in ("eager", "compiled", "triton", "triton_fused") if b in table.columns]
    order = known + sorted(b for b in table.columns if b not in known)
    return table[order].reset_index().rename(columns={"op": "lesson", "family": "form"}).fillna("-")


def throughput_sentences(rows: pd.DataFrame) -> list[str]:
    """For each lesson and mode, at its largest batch on each device and dtype: the eager throughput and each other
    backend's ratio to it."""
    out = []
    for (lesson, mode, device, dtype, form), d in rows.groupby(["op", "mode", "device", "dtype", "family"]):
        top = d[d["batch"] == d["batch"].max()]
        eager = top[top["variant"] == "eager"]
        if eager.empty:
            continue
        base = eager["samples_per_s"].iloc[0]
        others = [
            f"{r['variant']} {r['samples_per_s'] / base:.2f}x"
            for _, r in top.iterrows()
            if r["variant"] != "eager" and pd.notna(r["samples_per_s"])
        ]
        tail = f" ({', '.join(others)} eager)" if others else ""
        form = f" ({form})" if form else ""
        out.append(
            f"{lesson} {mode} on {device} {dtype}{form}: eager {base:,.0f} samples/s at batch "
            f"{top['batch'].iloc[0]}{tail}."
        )
    return out


def shares_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Each hot op's share of an eager training step, in percent, per (lesson, device, dtype, batch)."""
    profiled = rows[rows["op_shares"].notna() & (rows["mode"] == "train_step")]
    records = [
        {
            "lesson": r["op"],
            "device": r["device"],
            "dtype": r["dtype"],
            "batch": r["batch"],
            **{op: 100 * share for op, share in r["op_shares"].items()},
        }
        for _, r in profiled.iterrows()
    ]
    return pd.DataFrame(records).fillna(0.0) if records else pd.DataFrame()


def shares_sentences(table: pd.DataFrame) -> list[str]:
    out = []
    for (lesson, device, dtype), d in table.groupby(["lesson", "device", "dtype"]):
        r = d.loc[d["batch"].idxmax()]
        ops = r.drop(["lesson", "device", "dtype", "batch"]).drop(labels=["other"], errors="ignore").astype(float)
        if ops.empty:
            continue
        top = ops.idxmax()
        out.append(
            f"In an eager training step of {lesson} at batch {r['batch']} on {device} {dtype}, {top} takes "
            f"{ops[top]:.0f}% of the profiled time."
        )
    return out


def lab_table(labs: pd.DataFrame) -> pd.DataFrame:
    """Median time of each lab without training: one row per (lesson, device, size, setting)."""
    d = labs.sort_values(["op", "device", "batch", "median_s"], na_position="first")
    return pd.DataFrame(
        {
            "lesson": d["op"],
            "device": d["device"],
            "size": ["-" if pd.isna(s) else f"{int(s):,}" for s in d["batch"]],
            "setting": d["variant"],
            "median": [f"{1e3 * t:,.3f} ms{' ~' if n else ''}" for t, n in zip(d["median_s"], d["noisy"], strict=True)],
        }
    )


def lab_sentences(labs: pd.DataFrame) -> list[str]:
    """Per lesson and device, at its smallest and largest size: which setting is fastest, and by how much."""
    out = []
    for (lesson, device), d in labs.groupby(["op", "device"]):
        sizes = sorted(set(d["batch"].dropna())) or [None]
        for size in dict.fromkeys([sizes[0], sizes[-1]]):
            at = d if size is None else d[d["batch"] == size]
            if at["variant"].nunique() < 2:
                continue
            fast, slow = at.loc[at["median_s"].idxmin()], at.loc[at["median_s"].idxmax()]
            where = "" if size is None else f" at size {int(size):,}"
            out.append(
                f"{lesson} on {device}{where}: {fast['variant']} is fastest ({1e3 * fast['median_s']:,.3f} ms), "
                f"{slow['median_s'] / fast['median_s']:.1f}x ahead of {slow['variant']}."
            )
    return out


def lesson_sections(ctx: ReportContext) -> list[Section]:
    every = lesson_rows(ctx.df)
    labs, rows = every[every["mode"] == "lab"], every[every["mode"] != "lab"]
    sections = []
    if not labs.empty:
        text = [
            "The lessons without training, each lab timed whole per setting (torch against numpy, per-sample "
            "against batched transforms, DataLoader workers, ...) and per size where the lab has one.",
            *lab_sentences(labs),
            method_sentence(labs),
        ]
        sections.append(
            Section(
                "Lessons without training: the labs timed", text, [], [("median time per setting", lab_table(labs))]
            )
        )
    if rows.empty:
        return sections
    figures = []
    for lesson in sorted(rows["op"].unique(), key=lambda s: [int(p) for p in s.split()[1].split(".")]):
        d = rows[rows["op"] == lesson]
        name = lesson.replace(" ", "_").replace(".", "_")
        path = plots.by_size(
            d,
            ctx.out / f"{name}_throughput.png",
            f"{lesson}: throughput against batch size",
            "samples_per_s",
            "samples/s",
            xlabel="batch size",
        )
        figures.append((f"{lesson}: samples/s against batch size per backend (forward and training step)", path))
    text = [
        "Each training lesson's workload (its lab model, random inputs of its shape) timed as a forward pass "
        "without gradients and as one training step (forward, loss, backward, optimizer step), per backend. "
        "Throughput grows with batch size until the device is busy; tiny models stay overhead-bound."
    ]
    text += [*throughput_sentences(rows), method_sentence(rows)]
    sections.append(
        Section(
            "Lessons: throughput against batch size", text, figures, [("samples/s per backend", throughput_table(rows))]
        )
    )
    shares = shares_table(rows)
    if not shares.empty:
        note = (
            "Self time of the profiled ops (torch.profiler, device time on CUDA) grouped by hot op; 'other' is "
            "the rest (allocation, copies, autograd bookkeeping)."
        )
        sections.append(
            Section(
                "Lessons: where a training step's time goes",
                [note, *shares_sentences(shares)],
                [],
                [("share of an eager training step, %", shares.round(1))],  # sentences from the unrounded shares
            )
        )
    return sections
