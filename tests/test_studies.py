"""Trade-off studies: each quick study runs over its seeds and writes long-format rows; the conclusion claims a
difference only beyond the spread over seeds."""

import json

import pandas as pd
import pytest

from dnnbench.cli import main
from models.studies import STUDIES, run_study
from reports.study_analysis import outcome

ROW_FIELDS = {"study", "lesson", "setting", "seed", "epoch", "seconds", "device", "version"}


@pytest.mark.parametrize("name", list(STUDIES))
def test_each_quick_study_runs_every_arm_over_its_seeds(name):
    study = STUDIES[name]
    df = pd.DataFrame(run_study(name))
    assert ROW_FIELDS | {study.metric} <= set(df.columns)
    per_arm = df.groupby(["lesson", "setting"])["seed"].nunique()
    assert per_arm.to_dict() == {(a.lesson, a.label): len(study.seeds) for a in study.arms}
    # wall time of training grows epoch by epoch within each run
    for _, run in df.groupby(["lesson", "setting", "seed"]):
        assert run.sort_values("epoch")["seconds"].is_monotonic_increasing
    summary, text = outcome(study.header(), df)
    assert (summary["min"] <= summary["mean"]).all() and (summary["mean"] <= summary["max"]).all()
    panels = {a.panel for a in study.arms}
    assert text.startswith(f"{name}: " if len(panels) == 1 else f"{name} on ")
    assert all(f"{name} on {panel}: " in text for panel in panels if len(panels) > 1)
    assert set(study.also) <= set(summary.columns)


def test_dnnbench_study_writes_the_rows_and_prints_the_conclusion(tmp_path, capsys):
    assert main(["study", "batchnorm", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    header, *rows = [json.loads(line) for line in (tmp_path / "study-batchnorm.jsonl").read_text().splitlines()]
    wall = header["header"].pop("wall_s")  # the study's own seconds, which a later --budget plans from
    assert header == {"header": json.loads(json.dumps(STUDIES["batchnorm"].header()))}
    assert isinstance(wall, float) and wall > 0
    assert {(r["lesson"], r["setting"]) for r in rows} == {(a.lesson, a.label) for a in STUDIES["batchnorm"].arms}
    assert all(r["study"] == "batchnorm" for r in rows)
    assert "batchnorm on 5.5: batchnorm reaches the best final val_loss" in out
    assert main(["study", "nope", "-o", str(tmp_path)]) == 2


def test_the_report_has_a_section_per_study_with_its_conclusion(tmp_path, capsys):
    from reports.build import build_report

    assert main(["study", "batchnorm", "-o", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    build_report([tmp_path / "study-batchnorm.jsonl"], tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Study: batchnorm" in text and (tmp_path / "report" / "study_batchnorm.png").exists()
    sentence = next(line for line in printed.splitlines() if line.startswith("batchnorm on 5.5: "))
    assert sentence in text  # the same conclusion, from the same rows


@pytest.mark.parametrize(
    "lines, problem",
    [
        (['{"benchmarks": []}'], "line 1 is not the study header"),
        (['{"study": "x", "lesson": "2.7", "setting": "a"}'], "line 1 is not the study header"),  # rows, no header
        (['{"header": {"study": "x", "kind": "dynamics"}}'], "the study header lacks metric, question"),
        (['{"header": {"study": "x", "kind": "speed", "question": "?", "metric": "loss"}}'], "unknown study kind"),
        (
            ['{"header": {"study": "x", "kind": "dynamics", "question": "?", "metric": "loss"}}', '{"study": "y"}'],
            "line 2 is not a row of study 'x'",
        ),
        ([""], "empty"),
    ],
)
def test_a_study_file_without_its_header_or_with_foreign_rows_is_one_clear_error(tmp_path, lines, problem):
    from reports.load import ResultsError, load

    bad = tmp_path / "study-x.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ResultsError, match=problem):
        load([bad])
