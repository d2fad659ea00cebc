"""`dnnbench report` on small synthetic results from two machines (a CPU laptop; a server with CPU and CUDA)."""

import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pandas as pd
import pytest

from dnnbench.cli import main
from reports import build
from reports.build import build_report
from reports.load import ResultsError, load
from reports.section import Section
from tests.browser import open_page
from tests.fake_results import SHAPES, write_run

ROOT = Path(__file__).resolve().parents[1]
PLOTS = ["softmax_time", "softmax_speedup", "softmax_roofline", "softmax_accuracy", "cpu_vs_gpu", "compile_break_even"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    return [write_run(tmp / "laptop.json", "laptop", seed=1), write_run(tmp / "server.json", "server", seed=2)]


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    index = build_report(runs, out)
    return out, index, (out / "report.md").read_text()


def test_the_report_has_every_section_and_plot(report):
    out, index, md = report
    for title in ("## Overview", "## Op: softmax", "## CPU against GPU", "## torch.compile: compile time"):
        assert title in md
    for name in PLOTS:
        png = out / f"{name}.png"
        assert png.exists() and png.stat().st_size > 10_000, name
        assert f"({name}.png)" in md
        pixels = matplotlib.image.imread(png)
        assert pixels.std() > 0.01, f"{name}.png is blank"


def test_index_html_is_self_contained(report):
    _, index, _ = report
    page = index.read_text()
    sources = re.findall(r'<img src="([^"]{0,30})', page)
    assert len(sources) == len(PLOTS) and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in page and "https://" not in page


def test_results_csv_is_the_long_table(report, runs):
    out, _, _ = report
    csv = pd.read_csv(out / "results.csv")
    table = load(runs)
    assert len(csv) == len(table) > 0
    assert set(csv["machine"]) == {"laptop (Test CPU 8-core)", "server (Test GPU 80GB)"}
    assert {"median_s", "iqr_s", "rounds", "gbps", "gflops", "rel_error", "compile_s"} <= set(csv.columns)


def test_sentences_state_only_figures_that_are_in_the_data(report, runs):
    _, _, md = report
    ops = load(runs)
    ops = ops[ops["kind"] == "op"]
    text = md.split("## Op: softmax")[1].split("![")[0]
    assert "memory-bound" in text
    speedups = []
    for _, g in ops.groupby(["machine", "group"]):
        base = g[g["variant"] == "eager"]["median_s"].iloc[0]
        speedups += [round(base / m, 2) for m in g["median_s"]]
    for figure in re.findall(r"(\d+\.\d\d)x", text):
        assert float(figure) in speedups, f"{figure}x is not a measured speedup"
    rates = {f"{g:,.0f}" for g in ops["gbps"]} | {f"{g:.3g}" for g in ops["gbps"]}
    for figure in re.findall(r"moves ([\d.,]+) GB/s", text):
        assert figure in rates, f"{figure} GB/s is not a measured rate"


def test_noisy_measurements_are_flagged_in_the_tables(report):
    _, _, md = report
    noisy_rows = [line for line in md.splitlines() if line.startswith("|") and "~" in line]
    assert noisy_rows, "the fake results plant noisy lesson rows; no table flags them"
    assert all(f"{SHAPES[0][0]}x{SHAPES[0][1]}" in line for line in noisy_rows)


def test_the_gpu_crossover_is_found(report):
    _, _, md = report
    section = md.split("## CPU against GPU")[1]
    # the fake server: CPU 2 us + bytes / 40 GB/s, CUDA 8 us + bytes / 2500 GB/s: CUDA wins from 1024x256 on
    assert re.search(r"\| softmax \| eager \| fp32 \| forward \| from 1024x256 \(262,144 elements\) \|", section)
    assert "CPU faster at every size" not in section.split("| eager |")[1].split("\n")[0]


def test_compile_break_even_counts_calls_or_says_never(report):
    _, _, md = report
    section = md.split("## torch.compile")[1]
    assert "never" in section and re.search(r"\d[\d,]* calls", section)


def test_a_new_section_is_one_entry_in_the_ordered_tuple(runs, tmp_path, monkeypatch):
    def rows_seen(ctx):
        return [Section("Rows seen", [f"{len(ctx.df)} rows seen."])]

    monkeypatch.setattr(build, "SECTIONS", (rows_seen, *build.SECTIONS))
    md = (build_report(runs[:1], tmp_path).parent / "report.md").read_text()
    assert "## Rows seen" in md and "rows seen." in md
    assert md.index("## Rows seen") < md.index("## Overview")  # first in the tuple, first in the report


def test_the_section_order_does_not_depend_on_which_module_is_imported_first():
    orders = []
    for first in ("reports.studies", "reports.lessons", "reports.ops"):
        code = f"import {first}, reports.build; print([f.__name__ for f in reports.build.SECTIONS])"
        orders.append(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert orders[0] == orders[1] == orders[2]
    assert orders[0].strip() == str(
        [
            "coverage_section",
            "overview",
            "op_sections",
            "peer_sections",
            "cpu_vs_gpu",
            "compile_break_even",
            "lesson_sections",
            "study_sections",
        ]
    )


def test_another_baseline_can_be_chosen(runs, tmp_path):
    md = (build_report(runs[:1], tmp_path, baseline="compiled").parent / "report.md").read_text()
    assert "Speedup over compiled" in md
    with pytest.raises(ResultsError, match="--baseline nope: no such variant"):
        build_report(runs[:1], tmp_path, baseline="nope")


def cli(*argv):
    return subprocess.run(
        [sys.executable, "-m", "dnnbench.cli", *map(str, argv)], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def test_a_corrupted_file_gets_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"benchmarks": [')
    proc = cli("report", bad, "-o", tmp_path / "out")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert str(bad) in proc.stderr and "not valid JSON" in proc.stderr and "Traceback" not in proc.stderr


def test_a_foreign_pytest_benchmark_file_is_skipped_and_counted(tmp_path, runs):
    foreign = tmp_path / "foreign.json"
    foreign.write_text(
        '{"machine_info": {}, "benchmarks": [{"name": "test_x", "extra_info": {}, '
        '"stats": {"median": 1.0, "q1": 1.0, "q3": 1.0, "iqr": 0.0}}]}'
    )
    proc = cli("report", foreign, "-o", tmp_path / "out")
    assert proc.returncode == 2 and "nothing to report" in proc.stderr and "1 other benchmark" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert main(["report", str(foreign), str(runs[0]), "-o", str(tmp_path / "mixed")]) == 0
    assert "1 entries without dnnbench fields were skipped" in (tmp_path / "mixed" / "report.md").read_text()


def test_an_interrupted_stream_is_read_up_to_its_last_whole_line(tmp_path, runs):
    import json

    data = json.loads(runs[1].read_text())
    lines = [json.dumps({"machine_info": data["machine_info"]})] + [json.dumps(b) for b in data["benchmarks"][:10]]
    stream = tmp_path / "run.stream.jsonl"
    stream.write_text("\n".join(lines) + '\n{"name": "cut off mid-wri')
    assert len(load([stream])) == 10


def test_the_page_renders_in_headless_chromium(report, tmp_path):
    """index.html in a real browser: every image loads, every contents link leads to its section, no script or
    console error; the screenshot stays with the test's files (tmp_path/page.png)."""
    _, index, _ = report
    page = open_page(index, tmp_path)
    assert page.images == len(PLOTS) and not page.broken, page.broken
    assert page.links >= 4 and not page.dangling, page.dangling
    assert not page.errors, page.errors
    pixels = matplotlib.image.imread(page.screenshot)
    assert pixels.shape[0] == 2400 and pixels.std() > 0.05, "the rendered page is blank"


def test_the_schema_refuses_a_field_it_does_not_list_and_a_listed_one_left_out():
    from reports import schema

    full = dict.fromkeys(schema.OP)
    assert schema.check("op", full) is full
    with pytest.raises(ValueError, match=r"fields not in reports/schema.py: \['speed'\]; missing: \[\]"):
        schema.check("op", {**full, "speed": 1})
    with pytest.raises(ValueError, match=r"missing: \['gbps'\]"):
        schema.check("op", {k: v for k, v in full.items() if k != "gbps"})
    copy = {k: None for k in schema.CEILING if k not in ("flops", "gflops")}  # a copy ceiling measures bytes only
    assert schema.check("ceiling", copy) is copy
