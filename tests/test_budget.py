"""The budget planner (bench/budget.py) and the quick profile's selection (bench/profiles.py), on the real cases."""

import json

import pytest

from bench import budget
from bench.calibration import ceiling_cases
from bench.harness import COMPILED_ONE_CASE, bench_cases
from bench.lessons import COMPILED_TRAINING_ONLY, lab_cases, lesson_cases
from bench.plugin import RunOptions
from bench.profiles import FAMILIES, PROFILES
from kernels import registry
from models import LESSONS
from models.backends import BACKENDS, STEP_BACKENDS, STEP_ONLY

pytest_plugins = ["pytester"]  # the profile test runs a pytest session in this process


def options(profile="quick", devices=("cpu",)):
    return RunOptions(devices, None, None, profile, 0, None)


@pytest.mark.parametrize(
    "text, seconds", [("300", 300), ("90s", 90), ("10m", 600), ("1.5h", 5400), ("1h30m", 5400), ("2m 30s", 150)]
)
def test_durations_read_as_people_write_them(text, seconds):
    assert budget.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten minutes", "10x", "0", "-5m", "m"])
def test_a_bad_duration_is_an_error_naming_it(text):
    with pytest.raises(ValueError, match="budget"):
        budget.parse_duration(text)


def test_ceilings_then_baselines_then_the_ladder_from_the_top():
    cases = bench_cases(options())
    by_variant = {c.variant: budget.priority(c) for c in cases if c.op == "matmul"}
    assert by_variant["eager"] == 1
    assert by_variant["triton_fused"] < by_variant["triton_tiled"] < by_variant["compiled"] < by_variant["lesson"]
    assert {budget.priority(c) for c in ceiling_cases(options())} == {0}
    lessons = {c.backend: budget.priority(c) for c in lesson_cases(options())}
    assert lessons["eager"] == 1 and lessons["triton"] < lessons["compiled"]
    labs = [c for c in lab_cases(options()) if c.lesson == "1.1"]
    assert sorted(budget.priority(c) for c in labs) == [1, 2]  # its first setting is the lab's baseline


def test_the_plan_takes_cases_by_priority_while_they_fit():
    cases = [("lesson", 6, 1.0), ("eager", 1, 3.0), ("ceiling", 0, 2.0), ("compiled", 4, 4.0), ("fused", 2, 1.0)]
    assert budget.plan(cases, 6.0) == (["ceiling", "eager", "fused"], ["compiled", "lesson"])
    # a case that does not fit is left out, and a smaller one after it still runs
    assert budget.plan(cases, 7.0) == (["ceiling", "eager", "fused", "lesson"], ["compiled"])
    assert budget.plan(cases, 100.0)[1] == []
    assert budget.plan(cases, 0.5) == ([], ["ceiling", "eager", "fused", "compiled", "lesson"])


def test_the_work_model_prices_compiles_sizes_and_skips():
    cases = {(c.op, c.variant, c.mode, c.case.shape): c for c in bench_cases(options())}
    small = cases[("softmax", "eager", "forward", (1024, 16))]
    large = cases[("softmax", "eager", "forward", (1024, 4096))]
    compiled = cases[("softmax", "compiled", "forward", (1024, 4096))]
    triton = cases[("softmax", "triton_online", "forward", (1024, 4096))]
    seconds = {k: budget.model_seconds(c, 0.1) for k, c in {"s": small, "l": large, "c": compiled, "t": triton}.items()}
    assert seconds["t"] < 0.1 < seconds["s"] <= seconds["l"] < seconds["c"]  # the interpreted Triton rung is a skip
    assert budget.model_seconds(large, 1.0) > budget.model_seconds(large, 0.1)
    lessons = {(c.lesson, c.backend, c.mode): c for c in lesson_cases(options())}
    resnet, mlp = lessons[("6.5", "eager", "train_step")], lessons[("4.3", "eager", "train_step")]
    assert budget.model_seconds(resnet, 0.1) > budget.model_seconds(mlp, 0.1)
    assert budget.model_seconds(lessons[("4.3", "compiled", "train_step")], 0.1) > budget.model_seconds(mlp, 0.1)


def test_wall_seconds_of_an_earlier_stream_replace_the_model(tmp_path):
    stream = tmp_path / "results.stream.jsonl"
    lines = [
        {"machine_info": {}, "dnnbench": {"profile": "quick"}},
        {"param": "softmax-forward-cpu-fp32-1024x16-eager", "stats": {"median": 1e-5}, "wall_s": 0.25},
        {"skipped": {"param": "softmax-forward-cpu-fp32-1024x16-triton_online", "reason": "x", "wall_s": 0.01}},
        {"left_out": {"param": "softmax-forward-cpu-fp32-1024x16-compiled", "reason": "budget"}},
    ]
    stream.write_text("\n".join(json.dumps(x) for x in lines) + "\n{trunc")
    seconds = budget.read_wall_seconds([stream])
    assert seconds == {
        "softmax-forward-cpu-fp32-1024x16-eager": 0.25,
        "softmax-forward-cpu-fp32-1024x16-triton_online": 0.01,
    }
    assert budget.read_wall_seconds([tmp_path]) == seconds  # the run's folder
    with pytest.raises(ValueError, match="results.json"):
        budget.read_wall_seconds([tmp_path / "results.json"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no .* in that folder"):
        budget.read_wall_seconds([empty])


def test_quick_times_one_lesson_per_family_at_its_lab_batch_and_full_times_all():
    quick = lesson_cases(options())
    assert {(c.lesson, c.batch) for c in quick} == {(k, b) for k, batches in FAMILIES.items() for b in batches}
    assert {(c.backend, c.mode, c.form) for c in quick if c.lesson == "4.3"} == {
        (b, m, "plain") for b in BACKENDS for m in ("forward", "train_step")
    }
    # each family of the course is there: weeks 2 to 6
    assert {k.split(".")[0] for k in FAMILIES} == {"2", "3", "4", "5", "6"}
    # triton_mlp times the training step of the lessons whose workload it trains (tests/test_mlp_step.py): apart here
    step_only = [c for c in quick if c.backend in STEP_BACKENDS]
    assert {c.skip for c in step_only if c.mode == "forward"} == {STEP_ONLY}
    assert {c.lesson for c in step_only if c.mode == "train_step" and not c.skip} == {"2.8", "4.3"}
    quick = [c for c in quick if c.backend not in STEP_BACKENDS]
    skipped = {(c.lesson, c.backend, c.mode): c.skip for c in quick if c.skip}
    compiling = ("compiled", "compiled_cudagraphs")
    assert {(lesson, b) for lesson, b, _ in skipped} == {(k, b) for k in FAMILIES for b in compiling}
    for b in compiling:
        assert skipped[("6.5", b, "train_step")] == PROFILES["quick"].lesson_skips[("6.5", b)]
    assert {m for (lesson, _, m), r in skipped.items() if r == COMPILED_TRAINING_ONLY} == {"forward"}
    full = lesson_cases(options("full"))
    assert {c.lesson for c in full} == {k for k, lesson in LESSONS.items() if lesson.trains}
    assert {c.batch for c in full} == set(PROFILES["full"].lesson_batches)
    assert not any(c.skip for c in full if c.backend not in STEP_BACKENDS)
    assert {c.form for c in full if c.lesson == "6.5"} == {"plain", "channels_last", "autocast"}


def test_quick_compiles_one_case_per_op_its_largest_with_its_fused_block_and_keeps_every_other_rung():
    quick, full = bench_cases(options()), bench_cases(options("full"))
    for op in registry.ops():
        spec = registry.spec(op)
        mine = [c for c in quick if c.op == op]
        timed = {(c.case.shape, c.case.params, c.mode) for c in mine if c.variant == "compiled" and not c.skip}
        flops = {c.case.shape: spec.flops(c.case, "forward") for c in mine}
        shapes = {s for s, _, _ in timed}
        assert len(timed) == len(spec.modes) and {m for *_, m in timed} == set(spec.modes), op
        assert len(shapes) == 1 and flops[shapes.pop()] == max(flops.values()), op
        most = max(len(c.case.params) for c in mine)
        assert all(len(p) == most for _, p, _ in timed), op  # the fused block: bias + relu, bn + relu ...
        assert {c.variant for c in mine if not c.skip} == {v.name for v in registry.variants(op)}
    assert all(c.skip == COMPILED_ONE_CASE for c in quick if c.skip)
    assert not any(c.skip for c in full)
    labs = lab_cases(options())
    assert {c.lesson for c in labs} == {c.lesson for c in lab_cases(options("full"))}
    assert len({(c.lesson, c.setting) for c in labs}) == len(labs)  # each lab once per setting


def benchmark_header(pytester, *args: str) -> str:
    """pytest-benchmark's line of defaults in the header of a session with the dnnbench plugin and `args` (in this
    process: nothing is run)."""
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "bench.plugin", "--collect-only", *args)
    assert result.ret == 0, "\n".join(result.outlines[-20:] + result.errlines[-20:])
    return next(line for line in result.outlines if line.startswith("benchmark:"))


def test_the_profile_sets_the_timing_unless_the_command_line_does(pytester):
    quick, full = benchmark_header(pytester, "--profile", "quick"), benchmark_header(pytester, "--profile", "full")
    assert "max_time=0.1 " in quick and "max_time=0.5 " in full
    given = benchmark_header(pytester, "--profile", "quick", "--benchmark-max-time", "0.3")
    assert "max_time=0.3 " in given


def test_a_budget_reads_in_minutes_from_one_minute_on():
    """The words of the skip reasons and of the report's coverage sentence (reports/schema.budget_text)."""
    from reports.schema import budget_text

    assert [budget_text(s) for s in (3, 59.5, 60, 90, 600)] == ["3 s", "59.5 s", "1 min", "1.5 min", "10 min"]


def test_a_cuda_row_is_planned_with_its_energy_window():
    """A CUDA row reads the GPU's energy counter over a window of calls after its rounds (bench/clocks.py): the plan
    counts it, so a budgeted GPU run is not overrun by it; a CPU row has none."""
    from bench import budget
    from bench.clocks import ENERGY_WINDOW_S

    timed = [
        c for c in bench_cases(RunOptions(("cpu", "cuda"), None, None, "quick", 0, None)) if not budget.skip_reason(c)
    ]
    cuda, cpu = (next(c for c in timed if c.device == d) for d in ("cuda", "cpu"))
    assert budget.model_seconds(cuda, 0.1) == pytest.approx(budget._work_seconds(cuda, 0.1) + ENERGY_WINDOW_S)
    assert budget.model_seconds(cpu, 0.1) == pytest.approx(budget._work_seconds(cpu, 0.1))
