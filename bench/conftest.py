"""Parametrizes the benchmarks from the registry and the run's options (bench/plugin.py)."""

from bench.calibration import ceiling_cases
from bench.harness import bench_cases
from bench.lessons import lab_cases, lesson_cases


def pytest_generate_tests(metafunc):
    options = metafunc.config.dnnbench
    if "bench_case" in metafunc.fixturenames:
        cases = bench_cases(options)
        metafunc.parametrize("bench_case", cases, ids=[c.id for c in cases])
    if "lesson_case" in metafunc.fixturenames:
        cases = lesson_cases(options)
        metafunc.parametrize("lesson_case", cases, ids=[c.id for c in cases])
    if "lab_case" in metafunc.fixturenames:
        cases = lab_cases(options)
        metafunc.parametrize("lab_case", cases, ids=[c.id for c in cases])
    if "ceiling_case" in metafunc.fixturenames:
        cases = ceiling_cases(options)
        metafunc.parametrize("ceiling_case", cases, ids=[c.id for c in cases])
