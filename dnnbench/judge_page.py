"""The judge's verdicts as a page (`dnnbench judge -o DIR`): report.md and a self-contained index.html, made as the
reports are (reports/build.py). Each variant gets its checks with their evidence, the table of the candidate timed
with the ladder (speedups over eager with their 95% intervals, the share of the roofline's time), and a roofline
figure: every timed variant's achieved FLOP/s against its arithmetic intensity, under the roof of this device's
measured copy bandwidth and matmul peak, the candidate marked."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def timing_row(r: dict) -> dict:
    """One timed variant as the page shows it: its time, its speedup over eager with the interval, and how close it
    comes to the roofline's time for its work."""
    speedup = f"{r['speedup']:.2f}x ({r['speedup_lo']:.2f}-{r['speedup_hi']:.2f})" if "speedup" in r else "-"
    return {
        "case": r["case"],
        "variant": r["variant"] + (" (yours)" if r["candidate"] else ""),
        "median": f"{r['median_s'] * 1e6:,.1f} us",
        "speedup over eager": speedup,
        "of the roofline": f"{100 * r['of_roofline']:.0f}%",
    }


def roofline_figure(timings: list[dict], ceilings: dict, path: Path, title: str) -> Path | None:
    """Achieved GFLOP/s against FLOPs per byte for every timed variant and case, under min(peak, intensity x
    bandwidth); None where nothing timed does arithmetic (no intensity to place it at)."""
    timed = [r for r in timings if "median_s" in r and r["flops"] > 0 and r["bytes"] > 0]
    if not timed or not ceilings:
        return None
    bandwidth, peak = ceilings["copy"], ceilings["matmul"]
    intensity = [r["flops"] / r["bytes"] for r in timed]
    lo, hi = min(intensity + [peak / bandwidth]) / 4, max(intensity + [peak / bandwidth]) * 4
    grid = [lo * (hi / lo) ** (i / 60) for i in range(61)]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot(grid, [min(peak, x * bandwidth) / 1e9 for x in grid], "k--", lw=1, label="roofline (measured ceilings)")
    yours = {r["variant"] for r in timed if r["candidate"]}
    variants = sorted({r["variant"] for r in timed}, key=lambda v: (v in yours, v))  # the candidate drawn last, on top
    for i, name in enumerate(variants):
        rows = [r for r in timed if r["variant"] == name]
        mine = rows[0]["candidate"]
        x = [r["flops"] / r["bytes"] for r in rows]
        y = [r["flops"] / r["median_s"] / 1e9 for r in rows]
        ax.scatter(
            x,
            y,
            marker="*" if mine else "o",
            s=140 if mine else 30,
            zorder=4 if mine else 3,
            color="crimson" if mine else plt.cm.tab10(i % 10),
            label=name + (" (yours)" if mine else ""),
        )
        for r, xi, yi in zip(rows, x, y, strict=True):
            ax.annotate(
                f"{100 * r['of_roofline']:.0f}%", (xi, yi), fontsize=7, xytext=(4, 3), textcoords="offset points"
            )
    ax.set(xscale="log", yscale="log", xlabel="FLOPs per byte", ylabel="GFLOP/s", title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_page(verdicts, path: Path, out: Path) -> Path:
    """The verdicts as a page (report.md and a self-contained index.html)."""
    import pandas as pd

    from reports.build import to_html, to_markdown
    from reports.section import Section

    out.mkdir(parents=True, exist_ok=True)
    sections = []
    for v in verdicts:
        checks = [{"check": c.name, "ok": "yes" if c.ok else "NO", "evidence": c.detail} for c in v.checks]
        tables = [("Checks", pd.DataFrame(checks))]
        timed = [timing_row(r) for r in v.timings if "median_s" in r]
        if timed:
            caption = (
                "Timed in one process with the ladder (the roofline: this device's measured copy and matmul ceilings)"
            )
            tables.append((caption, pd.DataFrame(timed)))
        figure = roofline_figure(v.timings, v.ceilings, out / f"roofline_{v.op}_{v.name}.png", f"{v.op}: {v.name}")
        figures = [("Each timed variant on this device's roofline; the % is its share of the roof there", figure)]
        passed = f"{sum(c.ok for c in v.checks)} of {len(v.checks)} checks passed."
        sections.append(Section(f"{v.op}/{v.name}: {v.verdict}", [passed], figures if figure else [], tables))
    title, note = f"dnnbench judge: {path.name}", f"Verdicts on {path}."
    (out / "report.md").write_text(to_markdown(title, note, sections))
    (out / "index.html").write_text(to_html(title, note, sections))
    return out / "index.html"
