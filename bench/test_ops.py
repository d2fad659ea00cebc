"""One parametrized benchmark over every op variant in the registry (see bench/harness.py)."""

from bench.harness import run_case


def test_op(benchmark, bench_case, request):
    run_case(benchmark, bench_case, request.config.dnnbench)
