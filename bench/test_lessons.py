"""One parametrized benchmark over every training lesson's workload (see bench/lessons.py)."""

from bench.lessons import run_lesson_case
from bench.plugin import append_stream


def test_lesson(benchmark, lesson_case, request):
    run_lesson_case(benchmark, lesson_case, request.config.dnnbench.seed, lambda e: append_stream(request.config, e))
