"""The studies' sections of the report: per study its curves (metric against epochs and against wall time, mean
and range over seeds), the summary per setting and the generated two-sentence conclusion (models/studies.py)."""

from __future__ import annotations

import pandas as pd

from reports import plots
from reports.sections import ReportContext, Section, section


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
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
        }
    )  # fmt: skip


@section
def study_sections(ctx: ReportContext) -> list[Section]:
    from models.studies import STUDIES, conclusion, summarize

    rows = pd.DataFrame(ctx.df.attrs.get("studies") or [])
    if rows.empty:
        return []
    out = []
    for name in dict.fromkeys(rows["study"]):
        if name not in STUDIES:
            continue
        study, d = STUDIES[name], rows[rows["study"] == name]
        summary = summarize(study, d)
        targets = ", ".join(f"{t:g}" for t in dict.fromkeys(summary["target"].dropna()))
        target = f"; target {study.metric} {targets}" if targets else ""
        text = [f"{study.question} ({d['version'].iloc[0]} version, {d['device'].iloc[0]}{target})",
                conclusion(study, summary)]  # fmt: skip
        fig = plots.study_curves(d, study.metric, ctx.out / f"study_{name}.png", f"study {name}")
        out.append(Section(f"Study: {name}", text, [(f"{study.metric} against epochs and wall time", fig)],
                           [("final value per setting over seeds", summary_table(summary))]))  # fmt: skip
    return out
