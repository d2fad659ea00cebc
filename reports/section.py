"""What every report section is made of: a Section (title, generated sentences, figures, tables) and the
ReportContext a section builder reads. The builders live in reports/ops.py, reports/lessons.py and
reports/studies.py; reports/build.py lists them, in report order, in SECTIONS."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)  # generated sentences, shown first
    figures: list[tuple[str, Path]] = field(default_factory=list)  # (caption, png)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)  # (caption, table of strings)


@dataclass
class ReportContext:
    df: pd.DataFrame  # every row (reports.load)
    ops: pd.DataFrame  # op rows, with `speedup` over the baseline
    ceilings: pd.DataFrame  # calibration rows
    out: Path
    baseline: str
    # what load() put in the frame's attrs (studies, study_headers, runs, coverage, skipped), kept here: pandas
    # deep-copies a frame's attrs into every frame derived from it, which made each operation copy every study row
    meta: dict = field(default_factory=dict)
