"""Systems studies (bench/systems.py): every quick study runs here, each execution timed or skipped with its reason;
speedups, compile break-even and the CPU/GPU crossover are claimed only beyond the spread over rounds; the
precisions train correctly."""

import json

import pandas as pd
import pytest
import torch

from bench.systems import SYSTEMS_STUDIES, Execution, SystemsStudy, run_systems_study
from dnnbench.cli import main
from models import LESSONS
from models.precision import loss_scaler, precision
from models.studies import STUDIES
from reports.study_analysis import outcome


def test_study_names_are_unique_across_both_kinds():
    assert not set(STUDIES) & set(SYSTEMS_STUDIES)


@pytest.mark.parametrize("name", list(SYSTEMS_STUDIES))
def test_each_quick_systems_study_times_or_explains_every_execution(name):
    study = SYSTEMS_STUDIES[name]
    threads = torch.get_num_threads()
    df = pd.DataFrame(run_systems_study(study))
    assert torch.get_num_threads() == threads  # the threads study gives the setting back
    timing, skipped = df[df["kind"] == "timing"], df[df["kind"] == "skipped"]
    assert not timing.empty, "the baseline at least runs on the CPU"
    assert (timing["step_s"] > 0).all() and (timing["first_call_s"] > 0).all()
    assert skipped.empty or skipped["reason"].map(lambda r: isinstance(r, str) and len(r) > 10).all()
    for lesson in study.lessons["quick"]:
        for batch in study.batches["quick"]:
            for ex in study.executions:
                mine = df[(df["lesson"] == lesson) & (df["batch"] == batch) & (df["setting"] == ex.label)]
                ran = mine[mine["kind"] == "timing"]
                assert len(ran) == study.rounds["quick"] or (mine["kind"] == "skipped").sum() == 1, (lesson, ex)
    if not torch.cuda.is_available():
        on_cuda = skipped[skipped["device"] == "cuda"]
        assert on_cuda["reason"].str.contains("CUDA").all()
    text = outcome(study.header(), df)[1]
    assert text.startswith(f"{name}: ") and text.count(". ") >= 1


def test_an_execution_that_cannot_run_is_a_row_with_its_reason():
    executions = (Execution("eager"), Execution("nhwc", form="channels_last"))
    study = SystemsStudy("toy", "?", {"quick": ("4.3",)}, {"quick": (8,)}, executions, rounds={"quick": 1})
    df = pd.DataFrame(run_systems_study(study))
    nhwc = df[df["setting"] == "nhwc"]
    assert list(nhwc["kind"]) == ["skipped"] and "no images" in nhwc["reason"].iloc[0]
    assert "nhwc did not run here (lesson 4.3 has no images" in outcome(study.header(), df)[1]


def test_a_batch_that_batch_norm_cannot_train_is_a_skipped_row():
    study = SystemsStudy("bn1", "?", {"quick": ("5.5",)}, {"quick": (1, 8)}, (Execution("eager"),), rounds={"quick": 1})
    df = pd.DataFrame(run_systems_study(study))
    one = df[df["batch"] == 1]
    assert list(one["kind"]) == ["skipped"]
    assert "lesson 5.5 cannot train at batch 1: Expected more than 1 value per channel" in one["reason"].iloc[0]
    assert list(df[df["batch"] == 8]["kind"]) == ["timing"]


def test_bf16_autocast_trains_as_well_as_fp32_on_the_digits():
    # the whole lab runs inside the precision context: with autocast's weight cache on, every step would reuse the
    # first step's bf16 weights and the classifier would stay at chance (~0.1)
    fp32 = LESSONS["4.3"].run(epochs=2).final["val_accuracy"]
    with precision("bf16-autocast", "cpu"):
        bf16 = LESSONS["4.3"].run(epochs=2).final["val_accuracy"]
    assert fp32 > 0.5 and abs(bf16 - fp32) < 0.05


def test_precision_names_its_problems_and_restores_tf32():
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    with pytest.raises(RuntimeError, match="TF32 is a CUDA tensor-core format"), precision("tf32", "cpu"):
        pass
    with pytest.raises(ValueError, match="unknown precision 'fp8'"), precision("fp8", "cpu"):
        pass
    with precision("fp32", "cpu"):
        assert torch.backends.cudnn.allow_tf32 is False
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before


def test_fit_scales_the_loss_under_fp16_autocast_only():
    with torch.autocast("cpu", dtype=torch.float16):
        assert isinstance(loss_scaler("cpu"), torch.amp.GradScaler)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert loss_scaler("cpu") is None
    assert loss_scaler("cpu") is None


def test_dnnbench_study_writes_systems_rows_and_the_report_shows_them(tmp_path, capsys):
    from reports.build import build_report

    assert main(["study", "backend", "-o", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    header, *rows = [json.loads(line) for line in (tmp_path / "study-backend.jsonl").read_text().splitlines()]
    labels = ["eager", "compiled", "triton", "triton_mlp", "cudagraphs", "compiled_cudagraphs"]
    assert header["header"]["executions"] == [{"label": label} for label in labels]
    assert {r["setting"] for r in rows} == set(labels)
    if not torch.cuda.is_available():  # the CUDA graph backends: a skipped row with the reason, per lesson and batch
        graphs = [r for r in rows if r["setting"] in ("cudagraphs", "compiled_cudagraphs")]
        assert graphs and all(
            r["kind"] == "skipped" and "replays CUDA graphs: it needs CUDA" in r["reason"] for r in graphs
        )
    build_report([tmp_path / "study-backend.jsonl"], tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Study: backend" in text and (tmp_path / "report" / "study_backend.png").exists()
    sentence = next(line for line in printed.splitlines() if line.startswith("backend: compiled is "))
    assert sentence in text
    if not torch.cuda.is_available():
        assert "triton did not run here (backend 'triton' on cpu: interpreted, not a performance figure" in text


def test_a_failing_study_does_not_lose_the_others(tmp_path, monkeypatch, capsys):
    from dnnbench.cli import run_studies

    fast = SystemsStudy("fast", "?", {"quick": ("4.3",)}, {"quick": (8,)}, (Execution("eager"),), rounds={"quick": 1})
    broken = SystemsStudy("broken", "?", {"quick": ("9.9",)}, {"quick": (8,)}, (Execution("eager"),))
    monkeypatch.setitem(SYSTEMS_STUDIES, "fast", fast)
    monkeypatch.setitem(SYSTEMS_STUDIES, "broken", broken)
    written, failed = run_studies(["broken", "fast"], False, "cpu", tmp_path)
    assert failed == ["broken"] and written == [tmp_path / "study-fast.jsonl"]
    assert "study broken failed" in capsys.readouterr().err
    assert main(["study", "broken,fast", "-o", str(tmp_path)]) == 1
