"""Trade-off studies: each quick study runs over its seeds and writes long-format rows; the conclusion claims a
difference only beyond the spread over seeds."""

import json

import pandas as pd
import pytest

from bench.cli import main
from models.studies import STUDIES, Arm, Study, conclusion, run_study, summarize

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
    summary = summarize(study, df)
    assert (summary["min"] <= summary["mean"]).all() and (summary["mean"] <= summary["max"]).all()
    text = conclusion(study, summary)
    panels = {a.panel for a in study.arms}
    assert text.startswith(f"{name}: " if len(panels) == 1 else f"{name} on ")
    assert all(f"{name} on {panel}: " in text for panel in panels if len(panels) > 1)
    assert set(study.also) <= set(summary.columns)


def _rows(values: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"lesson": "2.7", "setting": s, "seed": i, "epoch": 1, "seconds": 1.0, "loss": v}
         for s, vs in values.items() for i, v in enumerate(vs)]
    )  # fmt: skip


def test_a_difference_inside_the_spread_is_not_claimed():
    study = Study("toy", "?", (Arm("a", "2.7", "batch=1"), Arm("b", "2.7", "batch=5")), "loss")
    close = summarize(study, _rows({"a": [1.0, 1.4, 1.2], "b": [1.3, 1.5, 1.1]}))
    assert "no difference is claimed" in conclusion(study, close)
    apart = summarize(study, _rows({"a": [1.0, 1.1, 1.05], "b": [2.0, 2.2, 2.1]}))
    text = conclusion(study, apart)
    assert text.startswith("toy: a reaches the best final loss, 1.05 (range 1 to 1.1 over 3 seeds).")
    assert "larger than the spread" in text


def test_time_to_target_is_nan_unless_every_seed_reaches_it():
    study = Study("toy", "?", (Arm("a", "2.7", "batch=1"),), "loss", target=0.5)
    rows = pd.DataFrame([
        {"lesson": "2.7", "setting": "a", "seed": 0, "epoch": 1, "seconds": 1.0, "loss": 0.9},
        {"lesson": "2.7", "setting": "a", "seed": 0, "epoch": 2, "seconds": 2.0, "loss": 0.4},
        {"lesson": "2.7", "setting": "a", "seed": 1, "epoch": 1, "seconds": 1.5, "loss": 0.3},
    ])  # fmt: skip
    assert summarize(study, rows)["seconds_to_target"].iloc[0] == pytest.approx(1.75)
    assert summarize(study, rows)["seconds_per_epoch"].iloc[0] == pytest.approx((2.0 / 2 + 1.5 / 1) / 2)
    rows.loc[2, "loss"] = 0.8
    assert pd.isna(summarize(study, rows)["seconds_to_target"].iloc[0])


def test_dnnbench_study_writes_the_rows_and_prints_the_conclusion(tmp_path, capsys):
    assert main(["study", "batchnorm", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [json.loads(line) for line in (tmp_path / "study-batchnorm.jsonl").read_text().splitlines()]
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


def test_a_study_file_that_is_not_study_rows_is_one_clear_error(tmp_path):
    from reports.load import ResultsError, load

    bad = tmp_path / "study-x.jsonl"
    bad.write_text('{"benchmarks": []}\n')
    with pytest.raises(ResultsError, match="line 1 is not a study row"):
        load([bad])


def test_the_conclusion_names_the_first_setting_to_reach_the_target():
    study = Study("toy", "?", (Arm("a", "2.7", "batch=1"), Arm("b", "2.7", "batch=5")), "loss", target=0.5)
    rows = pd.DataFrame([
        {"lesson": "2.7", "setting": s, "seed": seed, "epoch": e, "seconds": t, "loss": v}
        for s, seed, e, t, v in [("a", 0, 1, 1.0, 0.9), ("a", 0, 2, 2.0, 0.4), ("b", 0, 1, 0.5, 0.45),
                                 ("b", 0, 2, 1.0, 0.42)]
    ])  # fmt: skip
    text = conclusion(study, summarize(study, rows))
    assert text.startswith("toy: a reaches the best final loss, 0.4")
    assert text.endswith("; the first to reach loss 0.5 is b, after 0.5 s of training.")
    rows["loss"] = 0.9
    assert "no setting reaches loss 0.5 with every seed" in conclusion(study, summarize(study, rows))


def test_the_conclusion_says_when_the_training_loss_would_choose_otherwise():
    arms = (Arm("lr=0.1", "2.9", "lr=0.1"), Arm("lr=0.01", "2.9", "lr=0.01"))
    study = Study("toy", "?", arms, "val_loss", also=("loss",), contrast="loss")
    rows = pd.DataFrame([
        {"lesson": "2.9", "setting": s, "seed": seed, "epoch": 1, "seconds": 1.0, "val_loss": v, "loss": t}
        for s, v, t in [("lr=0.1", 1.0, 9.0), ("lr=0.01", 5.0, 2.0)] for seed in (0, 1)
    ])  # fmt: skip
    summary = summarize(study, rows)
    assert list(summary["loss"]) == [9.0, 2.0]
    assert "by the final loss alone the choice would be lr=0.01 (2)" in conclusion(study, summary)
    rows.loc[rows["setting"] == "lr=0.1", "loss"] = 1.0
    assert "the final loss makes the same choice" in conclusion(study, summarize(study, rows))
