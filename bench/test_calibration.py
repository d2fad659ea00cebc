"""This machine's ceilings, measured in the same run as the benchmarks: rooflines use these, not datasheets."""

from bench.calibration import run_ceiling


def test_ceiling(benchmark, ceiling_case, request):
    run_ceiling(benchmark, ceiling_case, request.config.dnnbench)
