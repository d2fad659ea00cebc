"""The studies' sections of the report, from the study files alone (their headers say what each study is; the
summaries and conclusions come from reports/study_analysis.py). A training-dynamics study: its curves (metric
against epochs and against wall time, mean and range over seeds), the summary per setting and the generated
conclusion. A systems study: samples per second against the batch size per execution, the step times with their
range over rounds, what did not run and why, and its conclusion."""

from __future__ import annotations

import pandas as pd

from reports import plots
from reports.section import ReportContext, Section
from reports.study_analysis import outcome


def summary_table(summary: pd.DataFrame, also: tuple[str, ...] = ()) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lesson": summary["lesson"],
            "setting": summary["setting"],
            "seeds": summary["seeds"],
            "final (mean)": [f"{v:.4g}" for v in summary["mean"]],
            "range over seeds": [f"{a:.4g} to {b:.4g}" for a, b in zip(summary["min"], summary["max"], strict=True)],
            "seconds to target": [
                "no target" if pd.isna(target) else "not reached by every seed" if pd.isna(t) else f"{t:.3g} s"
                for t, target in zip(summary["seconds_to_target"], summary["target"], strict=True)
            ],
            "training s per epoch": [f"{v:.3g}" for v in summary["seconds_per_epoch"]],
            **{f"final {m} (mean)": [f"{v:.4g}" for v in summary[m]] for m in also if m in summary},
        }
    )


def study_sections(ctx: ReportContext) -> list[Section]:
    rows = pd.DataFrame(ctx.meta.get("studies") or [])
    if rows.empty:
        return []
    out = []
    for name, header in ctx.meta["study_headers"].items():
        d = rows[rows["study"] == name]
        if d.empty:
            out.append(Section(f"Study: {name}", [f"{header['question']} (its file holds no rows: nothing ran)"]))
            continue
        summary, text = outcome(header, d)
        out.append(
            (systems_section if header["kind"] == "systems" else dynamics_section)(ctx, header, d, summary, text)
        )
    return out


def dynamics_section(ctx: ReportContext, header: dict, d: pd.DataFrame, summary: pd.DataFrame, text: str) -> Section:
    name, metric, also = header["study"], header["metric"], tuple(header.get("also", ()))
    targets = ", ".join(f"{t:g}" for t in dict.fromkeys(summary["target"].dropna()))
    target = f"; target {metric} {targets}" if targets else ""
    metrics = [metric, *also]
    fig = plots.study_curves(d, metrics, ctx.out / f"study_{name}.png", f"study {name}")
    return Section(
        f"Study: {name}",
        [f"{header['question']} ({d['version'].iloc[0]} version, {d['device'].iloc[0]}{target})", text],
        [(f"{', '.join(metrics)} against epochs and wall time", fig)],
        [("final value per setting over seeds", summary_table(summary, also))],
    )


def systems_table(summary: pd.DataFrame) -> pd.DataFrame:
    def cell(r, f):
        return "not run" if isinstance(r["skipped"], str) else f(r)

    return pd.DataFrame(
        {
            "lesson": summary["lesson"],
            "batch": summary["batch"],
            "execution": summary["setting"],
            "step (ms)": [
                cell(r, lambda r: f"{r['step_ms']:.3g} ({r['step_ms_min']:.3g} to {r['step_ms_max']:.3g})")
                for _, r in summary.iterrows()
            ],
            "samples/s": [cell(r, lambda r: f"{r['samples_per_s']:,.0f}") for _, r in summary.iterrows()],
            "first call extra (s)": [cell(r, lambda r: f"{r['compile_s']:.3g}") for _, r in summary.iterrows()],
            "vs baseline": [
                r["skipped"] if isinstance(r["skipped"], str) else f"{r['speedup']:.2f}x, {r['apart']}"
                for _, r in summary.iterrows()
            ],
        }
    )


def systems_section(ctx: ReportContext, header: dict, d: pd.DataFrame, summary: pd.DataFrame, text: str) -> Section:
    name, timing = header["study"], d[d["kind"] == "timing"]
    devices = ", ".join(dict.fromkeys(timing["device"])) or "nothing ran"
    text = [
        f"{header['question']} ({d['version'].iloc[0]} version; ran on {devices}; baseline "
        f"{header['executions'][0]['label']}; a difference is claimed only where the ranges over rounds do not "
        "overlap)",
        text,
    ]
    figures = [
        (
            "training samples per second against the batch size",
            plots.systems_throughput(summary, ctx.out / f"study_{name}.png", f"study {name}"),
        )
    ]
    trained = d[d["kind"] == "training"]
    if not trained.empty:
        figures.append(
            (
                f"{header['metric']} of the lessons trained in each precision",
                plots.study_curves(
                    trained, [header["metric"]], ctx.out / f"study_{name}_training.png", f"study {name}: training"
                ),
            )
        )
    tables = [("step time per execution (mean and range over rounds)", systems_table(summary))]
    census = census_table(d)
    if census is not None:
        tables.append(
            (
                "whose kernels run one training step: launches of the suite's Triton kernels, PyTorch operators, the "
                "suite's share of them (and on CUDA of the kernel time)",
                census,
            )
        )
    return Section(f"Study: {name}", text, figures, tables)


def census_table(d: pd.DataFrame) -> pd.DataFrame | None:
    """The census rows of a study (bench/census.py), one per lesson, batch and execution; None without any."""
    fields = ["lesson", "batch", "setting", "reason", "suite_launches", "torch_ops", "suite_share", "suite_time_share"]
    rows = d[d["kind"] == "census"].reindex(columns=fields)
    if rows.empty:
        return None

    def count(v) -> str:
        return "-" if pd.isna(v) else f"{int(v)}"

    def pct(v) -> str:
        return "-" if pd.isna(v) else f"{100 * v:.0f}%"

    return pd.DataFrame(
        {
            "lesson": rows["lesson"],
            "batch": rows["batch"].astype(int),
            "execution": rows["setting"],
            "suite launches": rows["suite_launches"].map(count),
            "torch operators": rows["torch_ops"].map(count),
            "suite share (count)": [
                r if isinstance(r, str) else pct(v) for v, r in zip(rows["suite_share"], rows["reason"], strict=True)
            ],
            "suite share (kernel time)": rows["suite_time_share"].map(pct),
        }
    ).reset_index(drop=True)
