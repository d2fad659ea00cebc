"""The history's page (`dnnbench history -o DIR`): changes.csv, history.md and a self-contained index.html, made as
the reports are (reports/build.py): the runs with their dates and commits, every change found (the run where it
began, the commits between which it happened, before and after, the evidence), each series' latest change, and a
trend plot per changed benchmark (each run's median with its IQR, the change marked)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from reports.history import SERIES, Run, regressions_in_force  # noqa: E402

MAX_PLOTS = 30  # trend plots: the largest changes first


def trend_plot(table: pd.DataFrame, key: tuple, changes: pd.DataFrame, runs: list[Run], path: Path) -> Path:
    group = table.set_index(SERIES).loc[[key]].sort_values("run")
    x = [runs[i].date for i in group["run"]]
    median = group["median_s"].to_numpy() * 1e6
    half = group["iqr_s"].fillna(0).to_numpy() * 1e6 / 2
    fig, ax = plt.subplots(figsize=(7.0, 3.2))
    ax.errorbar(x, median, yerr=half, fmt="o-", ms=4, lw=1, capsize=2, label="median, IQR")
    for _, c in changes.iterrows():
        when = runs[int(c["run_index"])].date
        ax.axvline(when, color="crimson" if c["direction"] == "slower" else "seagreen", ls="--", lw=1)
        ax.annotate(
            f"x{c['ratio']:.2f}",
            (when, ax.get_ylim()[1]),
            fontsize=7,
            va="top",
            xytext=(3, -3),
            textcoords="offset points",
        )
    ax.set(ylabel="median (us)", title=f"{key[0]}\n{key[1]} {key[2]}")
    ax.title.set_fontsize(8)
    ax.grid(True, alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write(out: Path, runs: list[Run], table: pd.DataFrame, changed: pd.DataFrame, series: pd.DataFrame) -> Path:
    from reports.build import to_html, to_markdown
    from reports.section import Section

    out.mkdir(parents=True, exist_ok=True)
    public = [c for c in changed.columns if c not in ("run_index", "latest_only")]
    changed[public].to_csv(out / "changes.csv", index=False)
    run_table = pd.DataFrame(
        [
            {"run": Path(r.label).name, "date": r.date.isoformat(timespec="seconds"), "commit": r.commit or "?"}
            for r in runs
        ]
    )
    regressions = regressions_in_force(changed)
    lead = [
        f"{len(runs)} runs from {runs[0].date:%Y-%m-%d} to {runs[-1].date:%Y-%m-%d}; {len(series)} series "
        f"(a benchmark on one machine, device, timer and cache state); {len(changed)} change(s) found, "
        f"{len(regressions)} regression(s) in force at the latest run."
    ]
    shown = changed.assign(size=(changed["ratio"] - 1).abs()).sort_values("size", ascending=False)
    figures = []
    for key in list(dict.fromkeys(map(tuple, shown[SERIES].itertuples(index=False))))[:MAX_PLOTS]:
        mine = changed[(changed[SERIES] == pd.Series(key, index=SERIES)).all(axis=1)]
        path = trend_plot(table, key, mine, runs, out / f"trend_{len(figures)}.png")
        figures.append((f"{key[0]} on {key[1]} ({key[2]})", path))
    fmt = changed[public].assign(
        before_s=(changed["before_s"] * 1e6).map("{:,.2f} us".format),
        after_s=(changed["after_s"] * 1e6).map("{:,.2f} us".format),
        ratio=changed["ratio"].map("{:.3f}".format),
    )
    sections = [
        Section("Runs", ["The runs in date order, with the commits they measured."], [], [("", run_table)]),
        Section("Changes", lead, figures, [("Every change found", fmt)] if len(fmt) else []),
        Section("Every series' latest change", [], [], [("", series)] if len(series) else []),
    ]
    title, note = "dnnbench history", f"Generated from {len(runs)} runs."
    (out / "history.md").write_text(to_markdown(title, note, sections))
    (out / "index.html").write_text(to_html(title, note, sections))
    return out / "index.html"
