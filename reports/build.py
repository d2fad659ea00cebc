"""`dnnbench report`: results -> DIR/report.md, DIR/index.html (self-contained: images embedded), PNG plots beside
them, and DIR/results.csv (the long table)."""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path

import pandas as pd

from reports import coverage, lessons, ops, peers, plots, studies
from reports.load import ResultsError, load
from reports.section import ReportContext, Section
from reports.summary import markdown_table, with_speedups

# The report's sections, in order: each builder takes the ReportContext and returns its Sections (none when its
# data is absent). A new section is one function and one entry here.
SECTIONS = (
    coverage.coverage_section,
    ops.overview,
    ops.op_sections,
    peers.peer_sections,
    ops.cpu_vs_gpu,
    ops.compile_break_even,
    lessons.lesson_sections,
    studies.study_sections,
)

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { border-bottom: 2px solid #333; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
p.lead { font-size: 1.05em; line-height: 1.5; background: #f6f8fa; padding: .6em .9em; border-left: 4px solid #1f77b4; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0 1.5em; }
th, td { border: 1px solid #ddd; padding: .25em .5em; text-align: right; } th { background: #f0f0f0; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figcaption { font-size: .9em; color: #555; } img { max-width: 100%; }
.small { color: #666; font-size: .85em; }
"""


def build_report(paths, out: Path, baseline: str = "eager", on_section=None, section_done=None) -> Path:
    """Write the report of `paths` into `out`; return the path of index.html. Raises ResultsError for unusable input.
    `on_section(name)` and `section_done(name)`, when given, are told each section builder's start and end, then
    those of "figures", the wait for the last figures (the progress display)."""
    df = load(paths)
    meta, df.attrs = dict(df.attrs), {}  # see ReportContext.meta
    if df.empty and not meta["studies"]:
        skipped = meta.get("skipped", 0)
        raise ResultsError(
            f"nothing to report: no dnnbench measurements in {len(paths)} file(s)"
            f" ({skipped} other benchmark entries skipped)"
        )
    df = with_speedups(df, baseline)
    ops = df[df["kind"] == "op"].copy()
    if not ops.empty and baseline not in set(ops["variant"]):
        raise ResultsError(
            f"--baseline {baseline}: no such variant in these results "
            f"(variants: {', '.join(sorted(ops['variant'].dropna().unique()))})"
        )
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "results.csv", index=False)
    ctx = ReportContext(df, ops, df[df["kind"] == "ceiling"], out, baseline, meta)
    sections = []
    with plots.rendering():  # figures are drawn in worker processes while the next sections build
        for build in SECTIONS:
            if on_section:
                on_section(build.__name__)
            sections += build(ctx)
            if section_done:
                section_done(build.__name__)
        if on_section:
            on_section("figures")  # leaving the block waits for the last figures
    if section_done:
        section_done("figures")
    title = "dnnbench report"
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    sources = ", ".join(Path(p).name for p in paths)
    note = f"Generated {stamp} from {sources}."
    if meta.get("skipped"):
        note += f" {meta['skipped']} entries without dnnbench fields were skipped."
    (out / "report.md").write_text(to_markdown(title, note, sections))
    index = out / "index.html"
    index.write_text(to_html(title, note, sections))
    return index


def to_markdown(title: str, note: str, sections: list[Section]) -> str:
    lines = [f"# {title}", "", note, ""]
    for s in sections:
        lines += [f"## {s.title}", "", " ".join(s.text), ""]
        for caption, path in s.figures:
            lines += [f"![{caption}]({path.name})", "", f"*{caption}*", ""]
        for caption, table in s.tables:
            lines += ([f"**{caption}**", ""] if caption else []) + [markdown_table(table), ""]
    return "\n".join(lines)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}">'


def to_html(title: str, note: str, sections: list[Section]) -> str:
    body = [f"<h1>{html.escape(title)}</h1>", f'<p class="small">{html.escape(note)}</p>']
    body.append(
        "<ul>"
        + "".join(f'<li><a href="#s{i}">{html.escape(s.title)}</a></li>' for i, s in enumerate(sections))
        + "</ul>"
    )
    for i, s in enumerate(sections):
        body += [f'<h2 id="s{i}">{html.escape(s.title)}</h2>', f'<p class="lead">{html.escape(" ".join(s.text))}</p>']
        for caption, path in s.figures:
            body.append(f"<figure>{_img(path)}<figcaption>{html.escape(caption)}</figcaption></figure>")
        for caption, table in s.tables:
            if caption:
                body.append(f"<h4>{html.escape(caption)}</h4>")
            body.append(pd.DataFrame(table).to_html(index=False, border=0, escape=True))
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
