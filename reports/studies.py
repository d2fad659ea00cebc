"""The studies' sections of the report. A training-dynamics study (models/studies.py): its curves (metric against
epochs and against wall time, mean and range over seeds), the summary per setting and the generated conclusion. A
systems study (bench/systems.py): samples per second against the batch size per execution, the step times with
their range over rounds, what did not run and why, and its conclusion."""

from __future__ import annotations

import pandas as pd

from reports import plots
from reports.sections import ReportContext, Section, section


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
    )  # fmt: skip


@section
def study_sections(ctx: ReportContext) -> list[Section]:
    from bench.systems import SYSTEMS_STUDIES, study_outcome
    from models.studies import STUDIES

    rows = pd.DataFrame(ctx.df.attrs.get("studies") or [])
    if rows.empty:
        return []
    out = []
    for name in dict.fromkeys(rows["study"]):
        d = rows[rows["study"] == name]
        if name not in STUDIES and name not in SYSTEMS_STUDIES:
            out.append(Section(f"Study: {name}", [f"{len(d)} rows of a study this version does not declare: not "
                                                   "summarized."], [], []))  # fmt: skip
            continue
        study, summary, text = study_outcome(name, d)
        out.append((systems_section if name in SYSTEMS_STUDIES else dynamics_section)(ctx, study, d, summary, text))
    return out


def dynamics_section(ctx: ReportContext, study, d: pd.DataFrame, summary: pd.DataFrame, text: str) -> Section:
    targets = ", ".join(f"{t:g}" for t in dict.fromkeys(summary["target"].dropna()))
    target = f"; target {study.metric} {targets}" if targets else ""
    metrics = [study.metric, *study.also]
    fig = plots.study_curves(d, metrics, ctx.out / f"study_{study.name}.png", f"study {study.name}")
    return Section(f"Study: {study.name}",
                   [f"{study.question} ({d['version'].iloc[0]} version, {d['device'].iloc[0]}{target})", text],
                   [(f"{', '.join(metrics)} against epochs and wall time", fig)],
                   [("final value per setting over seeds", summary_table(summary, study.also))])  # fmt: skip


def systems_table(summary: pd.DataFrame) -> pd.DataFrame:
    def cell(r, f):
        return "not run" if isinstance(r["skipped"], str) else f(r)

    return pd.DataFrame(
        {
            "lesson": summary["lesson"],
            "batch": summary["batch"],
            "execution": summary["setting"],
            "step (ms)": [cell(r, lambda r: f"{r['step_ms']:.3g} ({r['step_ms_min']:.3g} to {r['step_ms_max']:.3g})")
                          for _, r in summary.iterrows()],
            "samples/s": [cell(r, lambda r: f"{r['samples_per_s']:,.0f}") for _, r in summary.iterrows()],
            "first call extra (s)": [cell(r, lambda r: f"{r['compile_s']:.3g}") for _, r in summary.iterrows()],
            "vs baseline": [r["skipped"] if isinstance(r["skipped"], str) else
                            f"{r['speedup']:.2f}x, {r['apart']}" for _, r in summary.iterrows()],
        }
    )  # fmt: skip


def systems_section(ctx: ReportContext, study, d: pd.DataFrame, summary: pd.DataFrame, text: str) -> Section:
    timing = d[d["kind"] == "timing"]
    devices = ", ".join(dict.fromkeys(timing["device"])) or "nothing ran"
    text = [f"{study.question} ({d['version'].iloc[0]} version; ran on {devices}; baseline "
            f"{study.baseline.label}; a difference is claimed only where the ranges over rounds do not overlap)",
            text]  # fmt: skip
    figures = [
        (
            "training samples per second against the batch size",
            plots.systems_throughput(summary, ctx.out / f"study_{study.name}.png", f"study {study.name}"),
        )
    ]
    trained = d[d["kind"] == "training"]
    if not trained.empty:
        figures.append((f"{study.metric} of the lessons trained in each precision",
                        plots.study_curves(trained, [study.metric], ctx.out / f"study_{study.name}_training.png",
                                           f"study {study.name}: training")))  # fmt: skip
    return Section(
        f"Study: {study.name}",
        text,
        figures,
        [("step time per execution (mean and range over rounds)", systems_table(summary))],
    )
