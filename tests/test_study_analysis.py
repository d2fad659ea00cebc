"""Study summaries and conclusions (reports/study_analysis.py) from a study's header and hand-made rows whose
answers are known: a difference is claimed only beyond the spread (over seeds for a dynamics study, over rounds for
a systems study), and each study's second sentence (time to target, the training loss's choice, compile break-even,
the CPU/GPU crossover, accuracy in each precision, the speedup at the largest batch and its share of the ideal)
says the planted figure."""

import pandas as pd
import pytest

from bench.systems import SYSTEMS_STUDIES, SystemsStudy
from models.studies import Arm, Study
from reports import study_analysis
from reports.study_analysis import summarize_systems, systems_conclusion


def summarize(study: Study, rows: pd.DataFrame) -> pd.DataFrame:
    """The summary a report computes from the study's header and rows."""
    return study_analysis.summarize(study.header(), rows)


def conclusion(study: Study, summary: pd.DataFrame) -> str:
    return study_analysis.conclusion(study.header(), summary)


def _rows(values: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"lesson": "2.7", "setting": s, "seed": i, "epoch": 1, "seconds": 1.0, "loss": v}
            for s, vs in values.items()
            for i, v in enumerate(vs)
        ]
    )


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
    rows = pd.DataFrame(
        [
            {"lesson": "2.7", "setting": "a", "seed": 0, "epoch": 1, "seconds": 1.0, "loss": 0.9},
            {"lesson": "2.7", "setting": "a", "seed": 0, "epoch": 2, "seconds": 2.0, "loss": 0.4},
            {"lesson": "2.7", "setting": "a", "seed": 1, "epoch": 1, "seconds": 1.5, "loss": 0.3},
        ]
    )
    assert summarize(study, rows)["seconds_to_target"].iloc[0] == pytest.approx(1.75)
    assert summarize(study, rows)["seconds_per_epoch"].iloc[0] == pytest.approx((2.0 / 2 + 1.5 / 1) / 2)
    rows.loc[2, "loss"] = 0.8
    assert pd.isna(summarize(study, rows)["seconds_to_target"].iloc[0])


def test_the_conclusion_names_the_first_setting_to_reach_the_target():
    study = Study("toy", "?", (Arm("a", "2.7", "batch=1"), Arm("b", "2.7", "batch=5")), "loss", target=0.5)
    rows = pd.DataFrame(
        [
            {"lesson": "2.7", "setting": s, "seed": seed, "epoch": e, "seconds": t, "loss": v}
            for s, seed, e, t, v in [
                ("a", 0, 1, 1.0, 0.9),
                ("a", 0, 2, 2.0, 0.4),
                ("b", 0, 1, 0.5, 0.45),
                ("b", 0, 2, 1.0, 0.42),
            ]
        ]
    )
    text = conclusion(study, summarize(study, rows))
    assert text.startswith("toy: a reaches the best final loss, 0.4")
    assert text.endswith("; the first to reach loss 0.5 is b, after 0.5 s of training.")
    rows["loss"] = 0.9
    assert "no setting reaches loss 0.5 with every seed" in conclusion(study, summarize(study, rows))


def test_the_conclusion_says_when_the_training_loss_would_choose_otherwise():
    arms = (Arm("lr=0.1", "2.9", "lr=0.1"), Arm("lr=0.01", "2.9", "lr=0.01"))
    study = Study("toy", "?", arms, "val_loss", also=("loss",), contrast="loss")
    rows = pd.DataFrame(
        [
            {"lesson": "2.9", "setting": s, "seed": seed, "epoch": 1, "seconds": 1.0, "val_loss": v, "loss": t}
            for s, v, t in [("lr=0.1", 1.0, 9.0), ("lr=0.01", 5.0, 2.0)]
            for seed in (0, 1)
        ]
    )
    summary = summarize(study, rows)
    assert list(summary["loss"]) == [9.0, 2.0]
    assert "by the final loss alone the choice would be lr=0.01 (2)" in conclusion(study, summary)
    rows.loc[rows["setting"] == "lr=0.1", "loss"] = 1.0
    assert "the final loss makes the same choice" in conclusion(study, summarize(study, rows))


def _timing(values: dict[tuple[str, int], list[float]], compile_s: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "kind": "timing",
                "lesson": "4.3",
                "batch": b,
                "setting": s,
                "device": s if s in ("cpu", "cuda") else "cpu",
                "seed": r,
                "step_s": v,
                "compile_s": compile_s if s == "compiled" else 0.0,
            }
            for (s, b), vs in values.items()
            for r, v in enumerate(vs)
        ]
    )


def conclude(study: SystemsStudy, rows: pd.DataFrame) -> str:
    """The conclusion a report writes from the study's header and rows."""
    return systems_conclusion(study.header(), summarize_systems(study.header(), rows), rows)


def test_a_speedup_inside_the_spread_is_not_claimed():
    header = SYSTEMS_STUDIES["layout"].header()
    close_rows = _timing({("NCHW", 16): [1.0, 1.3, 1.1], ("channels_last", 16): [0.9, 1.2, 1.0]})
    close = summarize_systems(header, close_rows)
    assert list(close["apart"]) == ["within", "within"]
    text = systems_conclusion(header, close, close_rows)
    assert "faster than NCHW beyond the spread in 0 of 1 case and slower in 0" in text
    apart = summarize_systems(header, _timing({("NCHW", 16): [2.0, 2.1], ("channels_last", 16): [1.0, 1.05]}))
    assert apart.set_index("setting").loc["channels_last", "apart"] == "faster"
    assert apart.set_index("setting").loc["channels_last", "speedup"] == pytest.approx(2.05 / 1.025)


def test_compiling_pays_back_after_its_cost_over_the_time_saved_per_step():
    study = SYSTEMS_STUDIES["backend"]
    rows = _timing({("eager", 64): [0.010, 0.0101], ("compiled", 64): [0.005, 0.0051]}, compile_s=1.0)
    text = conclude(study, rows)
    # 1 s of compiling over 5 ms saved per step
    assert "pays back soonest on lesson 4.3 at batch 64, after 200 steps" in text
    slower = _timing({("eager", 64): [0.010, 0.0101], ("compiled", 64): [0.020, 0.021]}, compile_s=1.0)
    assert "never pays back" in conclude(study, slower)


def test_each_first_call_cost_gets_its_own_payback():
    """The CUDA graph capture and triton_mlp's kernel compile are paid back by their own saving per step."""
    study = SYSTEMS_STUDIES["backend"]
    rows = _timing(
        {
            ("eager", 64): [0.010, 0.0101],
            ("compiled", 64): [0.005, 0.0051],
            ("cudagraphs", 64): [0.002, 0.0021],
            ("triton_mlp", 64): [0.001, 0.0011],
        },
        compile_s=1.0,
    )
    rows.loc[rows["setting"] == "cudagraphs", "compile_s"] = 0.4  # 0.4 s over 8 ms saved per step
    rows.loc[rows["setting"] == "triton_mlp", "compile_s"] = 0.8  # 0.8 s over 9 ms
    text = conclude(study, rows)
    assert (
        "On cudagraphs, warming up and capturing the step costs 0.4 to 0.4 s on the first call; it pays back "
        "soonest on lesson 4.3 at batch 64, after 50 steps." in text
    )
    assert (
        "On triton_mlp, compiling its two Triton kernels costs 0.8 to 0.8 s on the first call; it pays back "
        "soonest on lesson 4.3 at batch 64, after 89 steps." in text
    )


def test_the_crossover_is_the_smallest_batch_from_which_the_gpu_always_wins():
    study = SYSTEMS_STUDIES["device"]
    rows = _timing(
        {
            ("cpu", 1): [1.0, 1.0],
            ("cuda", 1): [2.0, 2.0],
            ("cpu", 8): [1.0, 1.0],
            ("cuda", 8): [0.5, 0.5],
            ("cpu", 64): [1.0, 1.0],
            ("cuda", 64): [0.9, 1.1],
            ("cpu", 512): [4.0, 4.0],
            ("cuda", 512): [1.0, 1.0],
        }
    )
    text = conclude(study, rows)
    assert "cuda beats cpu from batch 512 on 4.3" in text  # at 8 it wins, at 64 it is within the spread


def test_parallel_efficiency_counts_the_cores_of_the_machine_the_rows_came_from():
    study = SYSTEMS_STUDIES["threads"]
    rows = _timing({("1 thread", 256): [4.0, 4.1], ("all cores", 256): [1.0, 1.02]})
    rows["threads"] = [1, 1, 8, 8]
    text = conclude(study, rows)
    assert "4.01x on 4.3 at batch 256 (faster beyond the spread, 50% of the ideal 8x)" in text


def test_the_first_sentence_counts_faster_and_slower_cases_and_names_the_best():
    study = SYSTEMS_STUDIES["layout"]
    rows = _timing(
        {
            ("NCHW", 16): [2.0, 2.0],
            ("channels_last", 16): [1.0, 1.0],
            ("NCHW", 64): [1.0, 1.0],
            ("channels_last", 64): [2.0, 2.0],
            ("NCHW", 256): [1.0, 1.1],
            ("channels_last", 256): [1.05, 1.0],
        }
    )
    text = conclude(study, rows)
    assert text.startswith(
        "layout: channels_last is faster than NCHW beyond the spread in 1 of 3 cases and slower in "
        "1, from 0.50x to 2.00x (best: lesson 4.3, batch 16). "
    )
    # the second sentence of a study without its own figure: the largest batch, within the spread there
    assert text.endswith(
        "At the largest batch, channels_last against NCHW: 1.02x on 4.3 at batch 256 (within the spread)."
    )


def test_an_execution_without_rows_did_not_run_and_its_figure_says_so():
    rows = _timing({("eager", 64): [0.01, 0.01]})
    rows = pd.concat(
        [
            rows,
            pd.DataFrame(
                [{"kind": "skipped", "lesson": "4.3", "batch": 64, "setting": "compiled", "reason": "no compiler here"}]
            ),
        ]
    )
    text = conclude(SYSTEMS_STUDIES["backend"], rows)
    assert "compiled did not run here (no compiler here); triton did not run here (not run);" in text
    assert "cudagraphs did not run here (not run); compiled_cudagraphs did not run here (not run)." in text
    assert text.endswith("Compile cost was not measured (compiled did not run).")
    cpu_only = _timing({("cpu", 8): [1.0, 1.0]})
    assert "cuda did not run here, so there is no crossover" in conclude(SYSTEMS_STUDIES["device"], cpu_only)


def test_the_accuracy_sentence_compares_each_precision_with_the_baseline_over_seeds():
    study = SYSTEMS_STUDIES["precision"]
    trained = pd.DataFrame(
        [
            {"kind": "training", "lesson": "4.3", "setting": s, "seed": seed, "epoch": e, "val_accuracy": v}
            for s, finals in {
                "fp32": (0.90, 0.92),
                "bf16-autocast": (0.91, 0.93),
                "fp16-autocast": (0.50, 0.52),
            }.items()
            for seed, final in enumerate(finals)
            for e, v in ((1, 0.1), (2, final))
        ]
    )
    rows = pd.concat([_timing({("fp32", 64): [1.0, 1.0], ("bf16-autocast", 64): [0.5, 0.5]}), trained])
    text = conclude(study, rows)
    assert text.endswith(
        "Accuracy: on 4.3 bf16-autocast reaches val_accuracy 0.920 (0.910 to 0.930) against 0.910 in fp32, within "
        "the spread; on 4.3 fp16-autocast reaches val_accuracy 0.510 (0.500 to 0.520) against 0.910 in fp32, a "
        "difference beyond the spread over seeds."
    )
    untrained = _timing({("fp32", 64): [1.0, 1.0]})
    assert conclude(study, untrained).endswith("No lesson was trained here, so no accuracy is compared.")


def test_an_unknown_kind_or_figure_is_a_clear_error():
    header = SYSTEMS_STUDIES["layout"].header()
    with pytest.raises(ValueError, match="unknown kind 'speed'"):
        study_analysis.outcome(dict(header, kind="speed"), _timing({("NCHW", 16): [1.0]}))
    with pytest.raises(ValueError, match="unknown figure 'roofline'"):
        study_analysis.outcome(dict(header, figure="roofline"), _timing({("NCHW", 16): [1.0]}))


def test_the_step_in_ms_its_range_and_samples_per_second_come_from_the_rounds():
    summary = summarize_systems(SYSTEMS_STUDIES["layout"].header(), _timing({("NCHW", 16): [0.5, 1.5]}))
    row = summary.set_index("setting").loc["NCHW"]
    assert (row["step_ms"], row["step_ms_min"], row["step_ms_max"]) == pytest.approx((1000.0, 500.0, 1500.0))
    assert row["samples_per_s"] == pytest.approx(16 / 1.0)


def test_ranges_that_touch_are_not_apart():
    header = SYSTEMS_STUDIES["layout"].header()
    touching = summarize_systems(header, _timing({("NCHW", 16): [1.0, 1.2], ("channels_last", 16): [0.8, 1.0]}))
    assert touching.set_index("setting").loc["channels_last", "apart"] == "within"


def test_each_arm_is_summarized_from_its_own_lesson_s_rows_in_the_order_the_study_ran():
    # the same setting label in two lessons, the later-declared lesson's rows first in the file
    study = Study(
        "toy", "?", (Arm("a", "6.4", "x"), Arm("b", "6.4", "y"), Arm("a", "4.3", "x"), Arm("b", "4.3", "y")), "loss"
    )
    rows = pd.DataFrame(
        [
            {"lesson": lesson, "setting": s, "seed": seed, "epoch": 1, "seconds": 1.0, "loss": v}
            for lesson, base in (("6.4", 10.0), ("4.3", 1.0))
            for s, v in (("a", base), ("b", base + 5))
            for seed in (0, 1)
        ]
    )
    summary = summarize(study, rows)
    assert list(zip(summary["lesson"], summary["setting"], summary["mean"], strict=True)) == [
        ("6.4", "a", 10.0),
        ("6.4", "b", 15.0),
        ("4.3", "a", 1.0),
        ("4.3", "b", 6.0),
    ]
    text = conclusion(study, summary)  # two lessons: each sentence says which
    assert text.startswith("toy on 6.4: a reaches the best final loss, 10 ") and "toy on 4.3: a reaches" in text
    timing = pd.concat([_timing({("NCHW", 64): [1.0, 1.0]}).assign(lesson="6.4"), _timing({("NCHW", 16): [1.0]})])
    assert list(dict.fromkeys(summarize_systems(SYSTEMS_STUDIES["layout"].header(), timing)["lesson"])) == [
        "6.4",
        "4.3",
    ]


def test_a_target_reached_or_passed_counts_in_either_direction():
    for higher, values in ((False, (0.9, 0.5)), (True, (0.1, 0.5)), (False, (0.9, 0.3)), (True, (0.1, 0.7))):
        study = Study("toy", "?", (Arm("a", "2.7", "x"),), "m", higher_is_better=higher, target=0.5)
        rows = pd.DataFrame(
            [
                {"lesson": "2.7", "setting": "a", "seed": 0, "epoch": e + 1, "seconds": float(e + 1), "m": v}
                for e, v in enumerate(values)
            ]
        )
        assert summarize(study, rows)["seconds_to_target"].iloc[0] == 2.0
        # not reached: the metric moves the wrong way
        rows["m"] = [0.7, 0.6] if not higher else [0.3, 0.2]
        assert pd.isna(summarize(study, rows)["seconds_to_target"].iloc[0])


def test_higher_is_better_claims_a_lead_only_when_the_ranges_are_apart():
    arms = (Arm("a", "2.7", "x"), Arm("b", "2.7", "y"))
    study = Study("toy", "?", arms, "acc", higher_is_better=True)

    def finals(a, b):
        return pd.DataFrame(
            [
                {"lesson": "2.7", "setting": s, "seed": i, "epoch": 1, "seconds": 1.0, "acc": v}
                for s, vs in (("a", a), ("b", b))
                for i, v in enumerate(vs)
            ]
        )

    assert "larger than the spread" in conclusion(study, summarize(study, finals((0.9, 0.95), (0.5, 0.6))))
    touching = conclusion(study, summarize(study, finals((0.8, 0.95), (0.7, 0.8))))
    assert touching.startswith("toy: a reaches the best final acc, 0.875") and "no difference is claimed" in touching
    assert "no difference is claimed" in conclusion(study, summarize(study, finals((0.7, 0.95), (0.75, 0.8))))


def test_an_arm_s_own_target_is_the_one_named():
    study = Study("toy", "?", (Arm("a", "2.7", "x", target=0.5), Arm("b", "2.7", "y")), "loss")
    rows = pd.DataFrame(
        [
            {"lesson": "2.7", "setting": s, "seed": 0, "epoch": 1, "seconds": 2.0, "loss": v}
            for s, v in (("a", 0.4), ("b", 0.9))
        ]
    )
    assert conclusion(study, summarize(study, rows)).endswith(
        "the first to reach loss 0.5 is a, after 2 s of training."
    )


def test_the_fusion_sentence_compares_each_fusion_with_the_unfused_triton_and_counts_launches():
    study = SYSTEMS_STUDIES["fusion"]
    timing = _timing(
        {
            ("eager", 256): [4.0, 4.0],
            ("triton", 64): [9.0, 9.0],  # not the largest batch: not in the sentence
            ("triton", 256): [2.0, 2.0],
            ("epilogues", 256): [1.6, 1.6],
            ("head", 256): [1.0, 1.0],
            ("triton_fused", 256): [0.8, 0.8],
        }
    )
    census = pd.DataFrame(
        [
            {"kind": "census", "lesson": "4.3", "batch": 4, "setting": s, "suite_launches": n, "reason": None}
            for s, n in (("eager", 0), ("triton", 14), ("epilogues", 14), ("head", 12), ("triton_fused", 12))
        ]
    )
    text = conclude(study, pd.concat([timing, census]))
    assert "Against triton, at the largest batch: 4.3 at batch 256: epilogues 1.25x, head 2.00x, triton_fused " in text
    assert "2.50x." in text
    assert text.endswith("Suite kernel launches per step, triton -> triton_fused: 4.3 14 -> 12.")
    cpu = pd.concat([_timing({("eager", 64): [1.0, 1.0]}), census])
    assert "No fused execution ran beside triton here." in conclude(study, cpu)
    assert len(summarize_systems(study.header(), cpu)) == len(study.executions)  # census rows are not cases


def test_the_census_table_shows_counts_shares_and_reasons():
    from reports.studies import census_table

    rows = pd.DataFrame(
        [
            {
                "kind": "census",
                "lesson": "6.4",
                "batch": 4,
                "setting": "triton",
                "suite_launches": 15,
                "torch_ops": 5,
                "suite_share": 0.75,
                "suite_time_share": None,
                "reason": None,
            },
            {"kind": "census", "lesson": "6.5", "batch": 4, "setting": "triton", "reason": "3.6 GFLOP per step"},
            {"kind": "timing", "lesson": "6.4", "batch": 64, "setting": "eager", "step_s": 1.0},
        ]
    )
    table = census_table(rows)
    assert table.to_dict("records") == [
        {
            "lesson": "6.4",
            "batch": 4,
            "execution": "triton",
            "suite launches": "15",
            "torch operators": "5",
            "suite share (count)": "75%",
            "suite share (kernel time)": "-",
        },
        {
            "lesson": "6.5",
            "batch": 4,
            "execution": "triton",
            "suite launches": "-",
            "torch operators": "-",
            "suite share (count)": "3.6 GFLOP per step",
            "suite share (kernel time)": "-",
        },
    ]
    assert census_table(rows[rows["kind"] == "timing"]) is None
