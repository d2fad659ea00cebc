"""Parametrizes the benchmarks from the registry and the run's options (bench/plugin.py)."""

from bench.calibration import ceiling_cases
from bench.harness import bench_cases
from bench.lessons import lab_cases, lesson_cases

# fixture name -> the function that lists its cases from the run's options
CASES = {"bench_case": bench_cases, "lesson_case": lesson_cases, "lab_case": lab_cases, "ceiling_case": ceiling_cases}


def pytest_generate_tests(metafunc):
    for name, make in CASES.items():
        if name in metafunc.fixturenames:
            cases = make(metafunc.config.dnnbench)
            metafunc.parametrize(name, cases, ids=[c.id for c in cases])
