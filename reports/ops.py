"""The op sections of the report: the overview (machines, counts), one section per op in the results (its
generated sentences, plots and speedup table; a new op needs nothing here), the CPU-against-GPU comparison and
torch.compile's cost and break-even. reports/build.py puts them in report order."""

from __future__ import annotations

import pandas as pd

from reports import plots
from reports.frame import matching, variant_order
from reports.narrative import op_sentences
from reports.section import ReportContext, Section


def noisy_mark(noisy: bool) -> str:
    return " ~" if noisy else ""


def overview(ctx: ReportContext) -> list[Section]:
    df = ctx.df
    machines = df.groupby("machine")["device"].agg(lambda d: ", ".join(sorted(set(d.dropna())))).reset_index()
    machines.columns = ["machine", "devices"]
    text = [
        f"{len(ctx.ops)} op measurements, {int((df['kind'] == 'lesson').sum())} lesson measurements and "
        f"{len(ctx.ceilings)} ceilings from {len(machines)} machine(s). "
        f"Speedups are ratios of medians measured in the same run on the same machine, against `{ctx.baseline}`; "
        f"a '~' marks a noisy measurement (IQR above 10% of its median)."
    ]
    text += machine_state_sentences(df)
    tables = [("Machines", machines)]
    if not ctx.ceilings.empty:
        c = ctx.ceilings.copy()
        c["measured"] = [
            f"{g:,.1f} GFLOP/s" if k == "matmul" else f"{b:,.1f} GB/s"
            for k, g, b in zip(c["ceiling"], c["gflops"], c["gbps"], strict=True)
        ]
        tables.append(
            ("Ceilings measured with these results", c[["machine", "device", "ceiling", "dtype", "measured"]])
        )
    return [Section("Overview", text, [], tables)]


def machine_state_sentences(df: pd.DataFrame) -> list[str]:
    """What the machine did while the rows were measured: throttling (rows flagged, with the reasons seen), the
    clocks' range on each device, and where energy was or was not measured (with the reasons)."""
    out = []
    throttled = df[df["throttled"].map(lambda t: t is True)]
    if not throttled.empty:
        reasons = sorted({r for rs in throttled["throttle_reasons"] for r in (rs or [])})
        out.append(
            f"{len(throttled)} of {len(df)} measurements were taken while the machine throttled "
            f"({', '.join(reasons)}): their figures are marked '!' in the tables and are below what the hardware "
            "gives unthrottled."
        )
    clocks = []
    for column, what in (("gpu_sm_mhz_after", "GPU SM clock"), ("cpu_mhz_after", "CPU clock")):
        values = df[column].dropna()
        if not values.empty:
            span = f"{values.min():,.0f}" + (f" to {values.max():,.0f}" if values.max() > values.min() else "")
            clocks.append(f"the {what} read {span} MHz after the rounds")
    if clocks:
        out.append("While measuring, " + "; ".join(clocks) + ".")
    energy = df[df["energy_j_per_call"].notna()]
    skipped = df[df["energy_j_per_call"].isna() & df["energy_skip"].notna()]
    if not energy.empty or not skipped.empty:
        reasons = "; ".join(f"{n} rows ({why})" for why, n in skipped["energy_skip"].value_counts().items())
        if energy.empty:
            out.append(f"Energy per call was not measured: {reasons}.")
        else:
            out.append(
                f"Energy per call was measured on {len(energy)} rows" + (f"; not on {reasons}" if reasons else "") + "."
            )
    return out


def speedup_cell(r) -> str:
    """'12.3 us (1.52x, 1.45-1.60)': the median, and the speedup with its 95% interval; '~' noisy, '!' throttled."""
    marks = noisy_mark(r["noisy"]) + (" !" if r["throttled"] is True else "")
    if pd.isna(r["speedup"]):
        return f"{r['median_s'] * 1e6:,.1f} us{marks}"
    interval = "" if pd.isna(r["speedup_lo"]) else f", {r['speedup_lo']:.2f}-{r['speedup_hi']:.2f}"
    return f"{r['median_s'] * 1e6:,.1f} us ({r['speedup']:.2f}x{interval}){marks}"


def speedup_table(ops: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """One row per case and way of timing it (timer, cache state), one column per variant: 'median (speedup,
    interval)', '~' where noisy, '!' where throttled."""
    order = variant_order(ops)
    cell = ops.assign(cell=[speedup_cell(r) for _, r in ops.iterrows()])
    index = ["device", "timer", "cache", "dtype", "mode", "shape"]
    if ops["machine"].nunique() > 1:
        index = ["machine", *index]
    table = cell.pivot_table(index=index, columns="variant", values="cell", aggfunc="first")
    table = table[[v for v in order if v in table.columns]].reset_index().fillna("-")
    sizes = cell.groupby("shape")["elements"].first()
    table["_size"] = table["shape"].map(sizes)
    table = table.sort_values([*index[:-1], "_size"]).drop(columns="_size")
    table.columns.name = None
    return table


def _mib(b) -> str:
    return f"{b / 2**20:,.2f} MiB"


def memory_table(ops: pd.DataFrame) -> pd.DataFrame | None:
    """Backward cases: what each variant's forward keeps for the backward (autograd's saved tensors, measured) and,
    on CUDA, the peak allocation of one backward call; shown where the variants keep different amounts."""
    fwd = ops[(ops["mode"] == "backward") & ops["saved_bytes"].notna()]
    if fwd.empty or fwd.groupby(["machine", "device", "dtype", "shape"])["saved_bytes"].nunique().max() <= 1:
        return None
    cell = fwd.assign(
        cell=[
            _mib(kept) + (f" (peak {_mib(peak)})" if pd.notna(peak) else "")
            for kept, peak in zip(fwd["saved_bytes"], fwd["peak_memory_bytes"], strict=True)
        ]
    )
    table = cell.pivot_table(index=["device", "dtype", "shape"], columns="variant", values="cell", aggfunc="first")
    table = table[[v for v in variant_order(ops) if v in table.columns]].reset_index().fillna("-")
    table.columns.name = None
    return table


METHOD_WORDS = {
    "wall": "the host clock (synchronized)",
    "cuda_events": "CUDA events",
    "cuda_graph": "CUDA graph replays",
    "kernel": "the profiler's kernel time",
}
CACHE_WORDS = {"warm": "warm cache", "cold": "cold cache (flushed before each timed call)"}


def primary(ops: pd.DataFrame) -> pd.DataFrame:
    """Per machine and device, the rows of its most common way of timing (timer, cache; cold first on a tie): the
    rows the plots and sentences read, so that one line never mixes warm and cold figures."""
    keep = []
    for _, sub in ops.groupby(["machine", "device"]):
        counts = sub.groupby(["timer", "cache"]).size().reset_index(name="n")
        counts = counts.sort_values(["n", "cache", "timer"], ascending=[False, True, True])
        timer, cache = counts.iloc[0][["timer", "cache"]]
        keep.append(sub[(sub["timer"] == timer) & (sub["cache"] == cache)])
    return pd.concat(keep) if keep else ops


def method_sentence(ops: pd.DataFrame) -> str:
    """How the figures were timed, per device: 'Timed on cuda with CUDA events, cold cache (...); ...'."""
    parts = []
    for device, sub in ops.groupby("device"):
        ways = sub.groupby(["timer", "cache"]).size().index
        parts.append(f"on {device} with " + " and ".join(f"{METHOD_WORDS[t]}, {CACHE_WORDS[c]}" for t, c in ways))
    outliers = int(ops["outliers"].fillna(0).sum())
    text = "Timed " + "; ".join(parts) + "."
    if outliers:
        text += f" {outliers} rounds beyond 1.5 IQR are kept in the statistics (the median is robust to them)."
    if ops["rse"].notna().any():
        text += (
            f" The medians' relative standard error is {100 * ops['rse'].median():.2g}% typically, "
            f"{100 * ops['rse'].max():.2g}% at most; a speedup's 95% interval follows from both medians' errors."
        )
    return text


def cache_table(ops: pd.DataFrame) -> pd.DataFrame | None:
    """Cases measured both warm and cold (same machine, device, timer): the two medians and GB/s side by side."""
    key = ["machine", "device", "timer", "variant", "dtype", "mode", "shape"]
    both = ops.groupby(key)["cache"].transform("nunique") > 1
    if not both.any():
        return None
    pivot = ops[both].pivot_table(index=key, columns="cache", values=["median_s", "gbps"], aggfunc="first")
    table = pd.DataFrame(
        {
            "warm": pivot[("median_s", "warm")].map(lambda s: f"{s * 1e6:,.1f} us"),
            "cold": pivot[("median_s", "cold")].map(lambda s: f"{s * 1e6:,.1f} us"),
            "cold / warm": (pivot[("median_s", "cold")] / pivot[("median_s", "warm")]).map(lambda r: f"{r:.2f}x"),
            "GB/s warm": pivot[("gbps", "warm")].map(lambda v: f"{v:,.1f}"),
            "GB/s cold": pivot[("gbps", "cold")].map(lambda v: f"{v:,.1f}"),
        }
    ).reset_index()
    return table if ops["machine"].nunique() > 1 else table.drop(columns="machine")


def energy_table(ops: pd.DataFrame) -> pd.DataFrame | None:
    """Joules per call and GFLOP per joule, where the GPU's energy counter was read."""
    e = ops[ops["energy_j_per_call"].notna()]
    if e.empty:
        return None
    cell = e.assign(
        cell=[
            f"{j:.3g} J ({g:,.1f} GFLOP/J)" if pd.notna(g) else f"{j:.3g} J"
            for j, g in zip(e["energy_j_per_call"], e["gflop_per_j"], strict=True)
        ]
    )
    table = cell.pivot_table(
        index=["device", "dtype", "mode", "shape"], columns="variant", values="cell", aggfunc="first"
    )
    table = table[[v for v in variant_order(ops) if v in table.columns]].reset_index().fillna("-")
    table.columns.name = None
    return table


def op_sections(ctx: ReportContext) -> list[Section]:
    out = []
    for op in sorted(ctx.ops["op"].dropna().unique()):
        every = ctx.ops[ctx.ops["op"] == op]
        ops = primary(every)
        figures = [
            (
                "Median time against size, per variant (log-log)",
                plots.time_vs_size(ops, ctx.out / f"{op}_time.png", f"{op}: time against size"),
            ),
            (
                f"Speedup over {ctx.baseline} (above 1: faster)",
                plots.speedup_vs_size(
                    ops, ctx.out / f"{op}_speedup.png", f"{op}: speedup over {ctx.baseline}", ctx.baseline
                ),
            ),
        ]
        roof = plots.roofline(ops, ctx.ceilings, ctx.out / f"{op}_roofline.png", f"{op}: roofline")
        if roof:
            figures.append(("Roofline against the ceilings measured on the same machine", roof))
        figures.append(
            (
                "Accuracy against speed: relative error vs float64 per dtype",
                plots.accuracy_vs_speed(ops, ctx.out / f"{op}_accuracy.png", f"{op}: accuracy vs speed", ctx.baseline),
            )
        )
        caption = f"Median time and speedup over {ctx.baseline} with its 95% interval ('!': measured while throttled)"
        tables = [(caption, speedup_table(every, ctx.baseline))]
        for title, table in (
            ("Warm and cold cache side by side", cache_table(every)),
            ("Energy per call (the GPU's counter over a window of back-to-back calls)", energy_table(every)),
            ("Memory the forward keeps for the backward (and the CUDA peak of one backward)", memory_table(ops)),
        ):
            if table is not None:
                tables.append((title, table))
        text = [*op_sentences(op, ops, ctx.ceilings, ctx.baseline), method_sentence(every)]
        out.append(Section(f"Op: {op}", text, figures, tables))
    return out


def device_pairs(ops: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """CPU and CUDA rows of the same cases, with the crossover size per (op, variant, dtype, mode). Pairs within a
    machine that has both; failing that, across the one CPU machine and the one CUDA machine (said so)."""
    both = [m for m, d in ops.groupby("machine")["device"] if {"cpu", "cuda"} <= set(d)]
    if both:
        pairs, where = ops[ops["machine"].isin(both)], "on the same machine"
    else:
        cpu_m, gpu_m = ops[ops["device"] == "cpu"]["machine"].unique(), ops[ops["device"] == "cuda"]["machine"].unique()
        if len(cpu_m) != 1 or len(gpu_m) != 1:
            return ops.iloc[0:0].assign(crossover=None), ""
        pairs, where = ops.copy(), f"across machines: CPU on {cpu_m[0]}, CUDA on {gpu_m[0]}"
    keys = ["op", "variant", "dtype", "mode", "shape"]
    devices = pairs.groupby(keys)["device"].transform("nunique")
    pairs = pairs[devices == 2].copy()
    pairs["crossover"] = None
    for key, d in pairs.groupby(["op", "variant", "dtype", "mode"]):
        times = d.pivot_table(index="elements", columns="device", values="median_s").sort_index()
        faster = times[times["cuda"] < times["cpu"]]
        if not faster.empty:
            rows = matching(pairs, ["op", "variant", "dtype", "mode"], key).index
            pairs.loc[rows, "crossover"] = faster.index[0]
    return pairs, where


def cpu_vs_gpu(ctx: ReportContext) -> list[Section]:
    # ops by size, lessons by batch size (or by the size of a lab without training, as lesson 1.1's sweep); each
    # kind's main way of timing per device (ops cold, lessons warm on CUDA by default), so that a warm and a cold row
    # of one case are never both a point
    lessons = ctx.df[ctx.df["kind"] == "lesson"]
    pairs, where = device_pairs(pd.concat([primary(ctx.ops), primary(lessons)], ignore_index=True))
    if pairs.empty:
        return []
    rows = []
    for (op, variant, dtype, mode), d in pairs.groupby(["op", "variant", "dtype", "mode"]):
        cross = d["crossover"].dropna()
        if cross.empty:
            at = "CPU faster at every size measured"
        else:
            shape = d[d["elements"] == cross.iloc[0]]["shape"].iloc[0]
            at = f"from {shape} ({int(cross.iloc[0]):,} elements)"
        rows.append({"op": op, "variant": variant, "dtype": dtype, "mode": mode, "GPU overtakes the CPU": at})
    table = pd.DataFrame(rows)
    eager = table[table["variant"] == ctx.baseline]
    first = eager.iloc[0] if not eager.empty else table.iloc[0]
    text = [
        f"CPU and CUDA timings of the same cases, {where}. For {first['op']} {first['variant']} {first['dtype']} "
        f"{first['mode']}, the GPU overtakes the CPU {first['GPU overtakes the CPU']}."
    ]
    fig = plots.cpu_vs_gpu(pairs, ctx.out / "cpu_vs_gpu.png", "CPU against CUDA")
    return [Section("CPU against GPU", text, [("Time against size on each device", fig)], [("Crossover", table)])]


def compile_break_even(ctx: ReportContext) -> list[Section]:
    comp = ctx.ops[(ctx.ops["variant"] == "compiled") & ctx.ops["compile_s"].notna()].copy()
    if comp.empty:
        return []
    comp["base_s"] = comp["median_s"] * comp["speedup"]  # the baseline's median in the same group (speedups())
    saved = comp["base_s"] - comp["median_s"]
    comp["calls"] = (comp["compile_s"] / saved).where(saved > 0)
    comp["break_even"] = ["never" if pd.isna(c) else f"{c:,.0f} calls" for c in comp["calls"]]
    comp["case"] = [
        f"{o} {m} {d} {dt} {s}"
        for o, m, d, dt, s in zip(comp["op"], comp["mode"], comp["device"], comp["dtype"], comp["shape"], strict=True)
    ]
    comp = comp.sort_values(["op", "device", "dtype", "mode", "elements"])
    paying = comp[comp["calls"].notna()]
    text = [
        f"torch.compile took {comp['compile_s'].min():.2f} to {comp['compile_s'].max():.2f} s per case (paid once "
        "per shape, with Inductor's on-disk cache as the machine had it; measured apart from the timings). "
        f"It is faster than {ctx.baseline} in {len(paying)} of {len(comp)} cases"
    ]
    if not paying.empty:
        best = paying.loc[paying["calls"].idxmin()]
        text[0] += f"; the quickest to pay back is {best['case']}, after {best['calls']:,.0f} calls"
    text[0] += "."
    fig = plots.compile_cost(comp, ctx.out / "compile_break_even.png", "torch.compile: cost and break-even")
    table = comp.assign(
        compile=comp["compile_s"].map(lambda s: f"{s:.2f} s"),
        time=comp["median_s"].map(lambda s: f"{s * 1e6:,.1f} us"),
        baseline=comp["base_s"].map(lambda s: f"{s * 1e6:,.1f} us"),
    )
    table = table[["case", "compile", "time", "baseline", "break_even"]]
    return [Section("torch.compile: compile time and break-even", text, [("Compile cost", fig)], [("", table)])]
