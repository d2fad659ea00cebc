"""The report's plots (matplotlib, Agg): one PNG per figure, variants in ladder order with fixed colours, noisy
measurements (IQR above 10% of the median) drawn as hollow markers."""

from __future__ import annotations

import math
import multiprocessing
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator  # noqa: E402

from reports.ceilings import attainable, measured_roof  # noqa: E402
from reports.frame import largest_cases, matching, variant_order  # noqa: E402

# Colours by rung (kernels/registry.py RUNGS: lesson, eager, compiled, triton, triton_fused), so a variant keeps its
# colour whatever it is called; a second variant on a rung (softmax's triton_online) takes the next EXTRA colour.
RUNG_COLOURS = {0: "#8c8c8c", 1: "#000000", 2: "#1f77b4", 3: "#ff7f0e", 4: "#2ca02c"}
COMPILED_COLOUR = RUNG_COLOURS[2]
EXTRA = ["#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
DTYPE_MARKERS = {"fp32": "o", "tf32": "D", "fp16": "s", "bf16": "^", "fp64": "v"}
DTYPE_LEGEND = ", ".join(f"{marker} {dtype}" for dtype, marker in DTYPE_MARKERS.items())


def variant_colours(df: pd.DataFrame) -> dict[str, str]:
    """Each variant's colour: its rung's for the first variant (in ladder order) on a rung, the EXTRA palette in
    turn for the others and for variants without a rung."""
    rungs = df.groupby("variant")["rung"].min()
    colours, extra = {}, iter(EXTRA * (1 + len(rungs) // len(EXTRA)))
    for v in variant_order(df):
        rung = rungs.get(v)
        taken = rung in RUNG_COLOURS and RUNG_COLOURS[rung] in colours.values()
        colours[v] = RUNG_COLOURS[rung] if rung in RUNG_COLOURS and not taken else next(extra)
    return colours


def setting_colour(i: int) -> str:
    """A study's i-th setting: the first (its baseline) black, the others the EXTRA palette in turn."""
    return EXTRA[(i - 1) % len(EXTRA)] if i else "#000000"


def _scatter_line(ax, x, y, noisy, c, label, marker="o"):
    ax.plot(x, y, "-", color=c, alpha=0.7, label=label)
    ax.scatter(
        [a for a, n in zip(x, noisy, strict=True) if not n],
        [b for b, n in zip(y, noisy, strict=True) if not n],
        color=c,
        marker=marker,
        s=22,
        zorder=3,
    )
    ax.scatter(
        [a for a, n in zip(x, noisy, strict=True) if n],
        [b for b, n in zip(y, noisy, strict=True) if n],
        facecolors="none",
        edgecolors=c,
        marker=marker,
        s=30,
        zorder=3,
    )


PANEL = ["machine", "device", "dtype", "mode", "family"]


def _panels(df: pd.DataFrame) -> list[tuple]:
    """One panel per (machine, device, dtype, mode, parameter family) present, in a stable order."""
    keys = df[PANEL].drop_duplicates()
    return sorted(map(tuple, keys.to_numpy()), key=lambda k: (k[0], k[1], k[2], k[3] != "forward", k[4]))


def _grid(n: int, width: float = 4.2, height: float = 3.2):
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    _fixed_layout(fig, rows, cols)
    return fig, list(axes.flat)


def _fixed_layout(fig, rows: int, cols: int) -> None:
    """Margins and gaps in inches, room for two-line panel titles, axis labels, the legend row and the note: a grid
    of panels needs no tight_layout (which lays every tick label out twice, a third of a figure's drawing time), and
    savefig's tight bounding box keeps anything that still overflows."""
    w, h = fig.get_size_inches()
    left, right, top, bottom, gap_x, gap_y = 0.8, 0.2, 0.95, 0.6, 0.85, 1.0
    axis_w = (w - left - right - (cols - 1) * gap_x) / cols
    axis_h = (h - top - bottom - (rows - 1) * gap_y) / rows
    fig.subplots_adjust(
        left=left / w,
        right=1 - right / w,
        top=1 - top / h,
        bottom=bottom / h,
        wspace=gap_x / axis_w,
        hspace=gap_y / axis_h,
    )
    fig.dnnbench_fixed_layout = True


def _title(key: tuple, machines: int) -> str:
    machine, device, dtype, mode, family = key
    head = f"{device} {dtype} {mode}" + (f" [{family}]" if family else "")
    return f"{head}\n{machine}" if machines > 1 else head


def _legend(fig, axes) -> None:
    """One legend for the whole figure, with every variant that appears in any panel."""
    seen = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    fig.legend(seen.values(), seen.keys(), loc="upper right", fontsize=8, ncol=min(len(seen), 6))


def _tick(x: float, _pos=None, digits: int = 1) -> str:
    """A log axis' tick label as plain text (1e6, 300, 0.01; with more `digits`, 6.2e4): matplotlib's
    default writes each as math text, whose layout was most of a report's drawing time."""
    if x == 0:
        return "0"
    text = f"{x:.{digits - 1}e}" if abs(x) >= 1e4 or abs(x) < 1e-3 else f"{x:g}"
    return text.replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")


def _distinct_digits(values: list[float]) -> int:
    """The fewest significant digits that give every tick of an axis its own label: on an axis narrower than a
    decade, matplotlib puts linear ticks (60000, 61000, ...) that one digit would all write as 6e4."""
    for digits in range(1, 7):
        labels = [_tick(v, digits=digits) for v in values]
        exact = all(math.isclose(float(t), v, rel_tol=1e-9) for t, v in zip(labels, values, strict=True))
        if len(set(labels)) == len(labels) and exact:  # each its own, and each the tick's value (not 1.02 for 1.025)
            return digits
    return 7


def _plain_log_ticks(fig) -> None:
    """Plain-text labels on every log axis, each its own; minor ticks only where an axis spans a decade and a half
    or less (elsewhere their dozens of tick artists per axis cost more drawing time than the rest of the panel)."""
    for ax in fig.axes:
        for axis, lim in ((ax.xaxis, ax.get_xlim), (ax.yaxis, ax.get_ylim)):
            if axis.get_scale() != "log":
                continue
            lo, hi = sorted(lim())
            narrow = lo > 0 and hi / lo < 30  # a decade and a half or less: 2 and 5 times each power of ten too
            if narrow:
                axis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
            else:
                axis.set_minor_locator(NullLocator())
            shown = [
                v
                for locator in (axis.get_major_locator(), axis.get_minor_locator())
                for v in locator.tick_values(lo, hi)
                if lo <= v <= hi
            ]
            formatter = FuncFormatter(partial(_tick, digits=_distinct_digits(sorted(set(shown)))))
            axis.set_major_formatter(formatter)
            if narrow:
                axis.set_minor_formatter(formatter)


def visible_tick_labels(ax) -> dict[str, list[str]]:
    """The tick labels a reader sees on each axis of `ax` once drawn (inside the view, not empty)."""
    seen = {}
    for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
        lo, hi = sorted(axis.get_view_interval())
        ticks = axis.get_major_ticks() + axis.get_minor_ticks()
        seen[name] = [
            t.label1.get_text()
            for t in ticks
            if t.label1.get_visible() and t.label1.get_text() and lo <= t.get_loc() <= hi
        ]
    return seen


def _save(fig, path: Path, note: str | None = None) -> Path:
    """Write `fig` to `path` (in a worker process while `rendering()` is active) and close it; returns the path."""
    if note and getattr(fig, "dnnbench_fixed_layout", False):  # under the figure, below the x-axis labels: the
        fig.text(0.01, 0.0, note, fontsize=7, color="#555555", ha="left", va="top")  # tight bounding box takes it in
    elif note:
        fig.text(0.01, 0.005, note, fontsize=7, color="#555555", ha="left", va="bottom")
    if _RENDER["pool"] is None:
        _render(fig, path, note)
    else:  # a figure pickles in milliseconds; laying it out and drawing it takes most of a second
        _RENDER["pending"].append(_RENDER["pool"].submit(_render_pickled, pickle.dumps(fig), path, note))
        plt.close(fig)
    return path


def _render(fig, path: Path, note: str | None) -> None:
    _plain_log_ticks(fig)
    if getattr(fig, "dnnbench_fixed_layout", False):
        fig.savefig(path, dpi=90, bbox_inches="tight", pad_inches=0.1)
    else:
        fig.tight_layout(rect=(0, 0.025 * (note.count("\n") + 1) if note else 0, 1, 0.95))
        fig.savefig(path, dpi=90)
    plt.close(fig)


def _render_pickled(blob: bytes, path: Path, note: str | None) -> None:
    _render(pickle.loads(blob), path, note)


_RENDER: dict = {"pool": None, "pending": []}


@contextmanager
def rendering(workers: int | None = None):
    """While active, figures are drawn and written by `workers` processes (default: one per core) as the report's
    sections go on building the next ones; on exit every figure is on disk (a drawing error is raised here). One
    worker, or a platform without fork, draws them in this process."""
    workers = workers or os.cpu_count() or 1
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods() or _RENDER["pool"] is not None:
        yield
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    _RENDER.update(pool=pool, pending=[])
    try:
        yield
        for future in _RENDER["pending"]:
            future.result()
    finally:
        _RENDER.update(pool=None, pending=[])
        pool.shutdown(cancel_futures=True)


NOISY_NOTE = "hollow marker: noisy (IQR > 10% of the median)"


def by_size(
    ops: pd.DataFrame,
    path: Path,
    title: str,
    column: str,
    ylabel: str,
    scale: float = 1.0,
    reference: float | None = None,
    xlabel: str = "elements",
) -> Path:
    """`column` (times `scale`) against problem size (elements), log-log, one line per variant, one panel per
    (machine, device, dtype, mode); `reference` draws a dashed horizontal line (1 for speedups)."""
    order, panels = variant_order(ops), _panels(ops)
    colours = variant_colours(ops)
    fig, axes = _grid(len(panels))
    machines = ops["machine"].nunique()
    for ax, key in zip(axes, panels, strict=False):
        sub = matching(ops, PANEL, key)
        for v in order:
            d = sub[(sub["variant"] == v) & sub[column].notna()].sort_values("elements")
            if not d.empty:
                _scatter_line(ax, d["elements"], d[column] * scale, d["noisy"], colours[v], v)
        if reference is not None:
            ax.axhline(reference, color="#000000", lw=0.8, ls="--")
        ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel=ylabel, title=_title(key, machines))
        ax.grid(True, which="both", alpha=0.25)
    _legend(fig, axes)
    fig.suptitle(title, x=0.02, ha="left")
    return _save(fig, path, NOISY_NOTE)


def time_vs_size(ops: pd.DataFrame, path: Path, title: str) -> Path:
    """Median time against problem size, per variant."""
    return by_size(ops, path, title, "median_s", "median time (us)", scale=1e6)


def speedup_vs_size(ops: pd.DataFrame, path: Path, title: str, baseline: str) -> Path:
    """Speedup over the baseline against size; above 1 is faster than the baseline."""
    return by_size(ops, path, title, "speedup", f"speedup over {baseline}", reference=1.0)


LABEL_PT = 6  # the size of a point's label
# where a label may go beside its point, in points: right and above first, then below, to the left, further out
LABEL_SPOTS = ((3, 2), (3, -8), (-3, 2), (-3, -8), (3, 10), (3, -16), (-3, 10), (-3, -16))


def label_points(ax, labels: list[tuple[float, float, str]]) -> int:
    """Each (x, y, text) written beside its point where it overlaps no label already placed and no other point;
    a label with no free spot is left out. Returns how many were left out. Call it once the axes' scales are set."""
    ax.autoscale_view()
    to_px = ax.transData.transform
    scale = ax.figure.dpi / 72  # points to pixels
    points = [to_px((x, y)) for x, y, _ in labels]
    placed: list[tuple[float, float, float, float]] = []
    left_out = 0

    def free(box) -> bool:
        x0, y0, x1, y1 = box
        if any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in placed):
            return False
        return not any(x0 - 4 < px < x1 + 4 and y0 - 4 < py < y1 + 4 for px, py in points)  # a marker's radius

    for (x, y, text), (px, py) in sorted(zip(labels, points, strict=True), key=lambda item: -item[1][1]):
        w, h = 0.6 * LABEL_PT * len(text) * scale, LABEL_PT * scale
        for dx, dy in LABEL_SPOTS:
            x0 = px + dx * scale if dx > 0 else px + dx * scale - w
            box = (x0, py + dy * scale, x0 + w, py + dy * scale + h)
            if free(box):
                placed.append(box)
                ha = "left" if dx > 0 else "right"
                ax.annotate(text, (x, y), fontsize=LABEL_PT, xytext=(dx, dy), textcoords="offset points", ha=ha)
                break
        else:
            left_out += 1
    return left_out


def roofline(ops: pd.DataFrame, ceilings: pd.DataFrame, path: Path, title: str) -> Path | None:
    """Achieved GFLOP/s against arithmetic intensity, under the roof min(peak, intensity x bandwidth) drawn from the
    ceilings measured on the same machine and device; each point (the largest size of each variant, dtype and mode)
    is labelled with its % of that bound."""
    ops = largest_cases(ops)
    panels = sorted(map(tuple, ops[["machine", "device"]].drop_duplicates().to_numpy()))
    panels = [p for p in panels if measured_roof(ceilings, *p, "fp32")[0]]
    if not panels:
        return None
    order = variant_order(ops)
    colours = variant_colours(ops)
    fig, axes = _grid(len(panels), width=5.2, height=4.0)
    left_out = 0
    for ax, (machine, device) in zip(axes, panels, strict=False):
        sub = ops[(ops["machine"] == machine) & (ops["device"] == device) & ops["intensity"].notna()]
        bw = measured_roof(ceilings, machine, device, "fp32")[0]
        peaks = [measured_roof(ceilings, machine, device, d)[1] for d in sub["dtype"].unique()]
        balance = max([p / bw for p in peaks if p] or [10.0])
        lo, hi = sub["intensity"].min() / 4, max(sub["intensity"].max(), balance) * 4
        grid = [lo * (hi / lo) ** (i / 60) for i in range(61)]
        for dtype in sorted(sub["dtype"].unique()):
            peak = measured_roof(ceilings, machine, device, dtype)[1]
            if peak:
                ax.plot(grid, [min(peak, x * bw) for x in grid], "--", lw=1, label=f"roof {dtype}: {peak:,.0f} GFLOP/s")
        labels = []
        for _, r in sub.iterrows():
            bound = attainable(ceilings, machine, device, r["dtype"], r["intensity"])
            c = colours[r["variant"]]
            marker = DTYPE_MARKERS.get(r["dtype"], "o")
            ax.scatter(
                r["intensity"],
                r["gflops"],
                color="none" if r["noisy"] else c,
                edgecolors=c,
                marker=marker,
                s=26,
                zorder=3,
            )
            if bound:
                labels.append((r["intensity"], r["gflops"], f"{100 * r['gflops'] / bound:.0f}%"))
        for v in order:
            if v in set(sub["variant"]):
                ax.scatter([], [], color=colours[v], label=v, s=20)
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="arithmetic intensity (FLOP/byte)",
            ylabel="achieved GFLOP/s",
            title=f"{device}: copy {bw:,.0f} GB/s\n{machine}",
        )
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7)
        left_out += label_points(ax, labels)
    fig.suptitle(title)
    crowded = f" ({left_out} left out where they would overlap: the tables have them)" if left_out else ""
    return _save(
        fig,
        path,
        "largest size of each variant, dtype, mode and family; marker: dtype (" + DTYPE_LEGEND + ")\n"
        f"label: % of the roof at that intensity{crowded}; hollow: noisy",
    )


def accuracy_vs_speed(ops: pd.DataFrame, path: Path, title: str, baseline: str) -> Path:
    """Relative error against float64 (log) against speedup over the baseline, marker per dtype, colour per variant."""
    colours = variant_colours(ops)
    devices = sorted(ops["device"].unique())
    fig, axes = _grid(len(devices), width=5.0, height=3.8)
    for ax, device in zip(axes, devices, strict=False):
        sub = ops[(ops["device"] == device) & ops["speedup"].notna() & ops["rel_error"].notna()]
        for (v, dtype), d in sub.groupby(["variant", "dtype"]):
            err = d["rel_error"].clip(lower=1e-12)
            ax.scatter(
                d["speedup"],
                err,
                color=colours[v],
                marker=DTYPE_MARKERS.get(dtype, "o"),
                s=24,
                label=f"{v} {dtype}",
            )
        for dtype, tol in sub.groupby("dtype")["tolerance"].max().items():
            ax.axhline(tol, color="#aa0000", lw=0.7, ls=":")
            ax.annotate(
                f"{dtype} tolerance (widest case)",
                (ax.get_xlim()[0], tol),
                fontsize=6,
                color="#aa0000",
                xytext=(2, 2),
                textcoords="offset points",
            )
        ax.axvline(1.0, color="#000000", lw=0.8, ls="--")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel=f"speedup over {baseline}",
            ylabel="relative error vs float64",
            title=device,
        )
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=6, ncol=2)
    fig.suptitle(title)
    return _save(fig, path)


def cpu_vs_gpu(pairs: pd.DataFrame, path: Path, title: str) -> Path:
    """Median time against size on the CPU and on CUDA, one panel per (op, dtype, mode), for each variant timed on
    both; the dotted line marks where the GPU overtakes the CPU."""
    keys = sorted(map(tuple, pairs[["op", "dtype", "mode"]].drop_duplicates().to_numpy()))
    fig, axes = _grid(len(keys))
    order = variant_order(pairs)
    colours = variant_colours(pairs)
    for ax, key in zip(axes, keys, strict=False):
        sub = matching(pairs, ["op", "dtype", "mode"], key)
        for v in order:
            for device, ls in (("cpu", "--"), ("cuda", "-")):
                d = sub[(sub["variant"] == v) & (sub["device"] == device)].sort_values("elements")
                if not d.empty:
                    ax.plot(
                        d["elements"],
                        d["median_s"] * 1e6,
                        ls,
                        marker="o",
                        ms=3,
                        color=colours[v],
                        label=f"{v} {device}",
                    )
        cross = sub["crossover"].dropna()
        if not cross.empty:
            ax.axvline(cross.min(), color="#2ca02c", ls=":", lw=1.2)
        ax.set(xscale="log", yscale="log", xlabel="elements", ylabel="median time (us)", title=" ".join(key))
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=6)
    fig.suptitle(title)
    return _save(fig, path, "dashed: CPU, solid: CUDA; dotted green: smallest size where CUDA is faster")


def compile_cost(table: pd.DataFrame, path: Path, title: str) -> Path:
    """Compile seconds per compiled case, and the calls it takes to pay them back."""
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(table) + 1.5))
    labels = table["case"].tolist()
    ax.barh(labels, table["compile_s"], color=COMPILED_COLOUR)
    for i, calls in enumerate(table["break_even"]):
        ax.annotate(calls, (table["compile_s"].iloc[i], i), fontsize=7, xytext=(3, -3), textcoords="offset points")
    ax.set(xlabel="compile seconds (first call minus a steady call)", title=title)
    ax.invert_yaxis()
    return _save(fig, path, "label: calls to pay the compile back against the baseline ('never': not faster)")


def study_curves(rows: pd.DataFrame, metrics: list[str], path: Path, title: str) -> Path:
    """Each metric against epochs and against training wall time: a row of two panels per lesson (or the group its
    arms are compared in) and metric, one line per setting (the mean over seeds) with the band from the lowest to
    the highest seed."""
    by = "group" if "group" in rows and rows["group"].notna().all() else "lesson"
    panels = [(g, m) for g in dict.fromkeys(rows[by]) for m in metrics if rows.loc[rows[by] == g, m].notna().any()]
    fig, grid = plt.subplots(len(panels), 2, figsize=(10.4, 3.3 * len(panels)), squeeze=False)
    _fixed_layout(fig, len(panels), 2)
    for (group, metric), axes in zip(panels, grid, strict=True):
        of_group = rows[rows[by] == group]
        for ax, x in zip(axes, ("epoch", "seconds"), strict=True):
            for i, setting in enumerate(dict.fromkeys(of_group["setting"])):
                d = (
                    of_group[of_group["setting"] == setting]
                    .groupby("epoch")
                    .agg(mean=(metric, "mean"), lo=(metric, "min"), hi=(metric, "max"), seconds=("seconds", "mean"))
                )
                xs = d.index if x == "epoch" else d["seconds"]
                c = setting_colour(i)
                ax.plot(xs, d["mean"], "-", color=c, label=setting)
                ax.fill_between(xs, d["lo"], d["hi"], color=c, alpha=0.15)
            xlabel = "epoch" if x == "epoch" else "training wall time (s, mean over seeds)"
            ax.set(xlabel=xlabel, ylabel=metric, title=f"lesson {group}: {metric} against {x}")
            values = of_group[metric].dropna()
            if (values > 0).all() and values.max() > 100 * values.min():  # a loss falling by decades: log scale
                ax.set_yscale("log")
            ax.grid(True, alpha=0.25)
            ax.legend(fontsize=7)
    fig.suptitle(title, x=0.02, ha="left")
    return _save(fig, path, "line: mean over seeds; band: lowest to highest seed")


def systems_throughput(summary: pd.DataFrame, path: Path, title: str) -> Path:
    """A systems study's samples per second against the batch size, a panel per lesson, a line per execution
    (mean over rounds, bars from the slowest to the fastest round); the baseline is black."""
    ran = summary[summary["skipped"].isna()]
    lessons = list(dict.fromkeys(ran["lesson"]))
    fig, axes = _grid(max(1, len(lessons)), width=4.6, height=3.4)
    for ax, lesson in zip(axes, lessons, strict=False):
        of_lesson = ran[ran["lesson"] == lesson]
        for i, setting in enumerate(dict.fromkeys(summary["setting"])):
            d = of_lesson[of_lesson["setting"] == setting].sort_values("batch")
            if d.empty:
                continue
            c = setting_colour(i)
            lo, hi = d["batch"] / (d["step_ms_max"] / 1e3), d["batch"] / (d["step_ms_min"] / 1e3)
            ax.errorbar(
                d["batch"],
                d["samples_per_s"],
                yerr=[d["samples_per_s"] - lo, hi - d["samples_per_s"]],
                fmt="o-",
                color=c,
                label=setting,
                capsize=3,
                markersize=4,
            )
        ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="training samples / s", title=f"lesson {lesson}")
        ax.grid(True, which="both", alpha=0.25)
    _legend(fig, axes)
    fig.suptitle(title, x=0.02, ha="left")
    return _save(
        fig,
        path,
        "point: mean over rounds; bar: slowest to fastest round; executions that did not run are listed in the table",
    )
