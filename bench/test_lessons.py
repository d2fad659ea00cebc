"""One parametrized benchmark over every training lesson's workload, one over every other lesson's lab (see
bench/lessons.py)."""

from bench.lessons import run_lab_case, run_lesson_case
from bench.plugin import append_stream


def test_lesson(benchmark, lesson_case, request):
    run_lesson_case(benchmark, lesson_case, request.config.dnnbench, lambda e: append_stream(request.config, e))


def test_lesson_lab(benchmark, lab_case, request):
    run_lab_case(benchmark, lab_case, request.config.dnnbench)
