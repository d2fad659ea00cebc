"""The GPU check's summary (dnnbench/gpu_check.py), written from the folder a run left: its steps, the ceilings and
speedups of the benchmark results, and each study's generated conclusion read from the study file's own header."""

import json

from dnnbench.gpu_check import write_summary
from tests.test_planted_report import planted_results


def test_the_summary_has_the_steps_the_figures_and_each_study_s_conclusion(tmp_path):
    planted_results(tmp_path / "results.json")
    header = {
        "study": "toy",
        "kind": "systems",
        "question": "?",
        "metric": "val_accuracy",
        "executions": [{"label": "NCHW"}, {"label": "channels_last"}],
        "figure": "largest_batch",
        "about": None,
    }
    rows = [
        {
            "study": "toy",
            "kind": "timing",
            "lesson": "6.4",
            "batch": 16,
            "setting": s,
            "device": "cpu",
            "seed": r,
            "step_s": t,
            "compile_s": 0.0,
            "version": "quick",
        }
        for s, t in (("NCHW", 2.0), ("channels_last", 1.0))
        for r in (0, 1)
    ]
    (tmp_path / "study-toy.jsonl").write_text("\n".join(json.dumps(r) for r in [{"header": header}, *rows]) + "\n")
    steps = [
        {"step": "tests", "exit": 0, "summary": "3 passed", "seconds": 1.0},
        {"step": "bench", "exit": "timeout", "summary": "(no summary)", "seconds": 240.0},
    ]
    text = write_summary(tmp_path, "cpu", steps).read_text()
    assert "- tests: exit 0, 3 passed, 1.0 s" in text and "- bench: exit timeout, (no summary), 240.0 s" in text
    assert "## Ceilings (measured in this run)" in text and "## Variants against eager" in text
    assert (
        "- toy: channels_last is faster than NCHW beyond the spread in 1 of 1 case and slower in 0, from 2.00x "
        "to 2.00x (best: lesson 6.4, batch 16). At the largest batch, channels_last against NCHW: 2.00x on 6.4 "
        "at batch 16 (faster beyond the spread)."
    ) in text


def test_the_device_selections_come_from_each_op_s_spec():
    from dnnbench.gpu_check import compiled_cases, target_benchmarks
    from kernels import registry

    for op in registry.ops():
        spec = registry.spec(op)
        assert spec.smoke_case in {c.name for c in spec.test_cases()}, f"{op}: smoke_case names no test case"
        assert spec.smoke_case in compiled_cases()
        assert (f"({op} and {spec.target_benchmarks})" in target_benchmarks()) == bool(spec.target_benchmarks)
    assert (
        compiled_cases()
        == "not compiled or pow2 or small or nchw or pad0 or k2_stride1 or digits or head or hidden or momentum or adam"
    )
    assert target_benchmarks().startswith("test_ceiling or (matmul and 4096x4096x4096) or ")
