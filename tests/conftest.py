"""Parametrizes the correctness tests from the registry and the run's options (bench/plugin.py)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import pytest

from kernels import registry
from kernels.spec import Case


@dataclass(frozen=True)
class CorrectnessCase:
    op: str
    variant: str
    device: str
    case: Case

    @property
    def id(self) -> str:
        return f"{self.op}-{self.variant}-{self.device}-{self.case.id}"


def correctness_cases(options) -> list[CorrectnessCase]:
    out = []
    for op in registry.ops():
        spec = registry.spec(op)
        cases = [c for c in spec.test_cases() if not options.dtypes or c.precision in options.dtypes]
        for v in registry.variants(op):
            for device in options.devices:
                out += [CorrectnessCase(op, v.name, device, c) for c in cases]
    return out


# On the CPU torch.compile generates C++ (on a GPU, Triton): every case x dtype is a C++ compile of its own, about
# 2.7 s each on a 2-core machine with a cold cache, the largest share of make test's time. make test checks the
# compiled rung in each dtype on the op's largest case (the vectorized C++), and in fp32 (and TF32) besides on the
# first case of each set of options and layout the op's spec has (each option reaches different generated code;
# shapes within one set differ mostly in the loops' tails, which the largest and the first case already take).
COMPILED_ON_CPU = (
    "the compiled rung on the CPU is checked on the op's largest case in each dtype, and in fp32 on the first case of "
    "each set of options and layout (each case x dtype is a ~2.7 s C++ compile here); make gpu-check and "
    "DNNBENCH_TESTS=all make test check every case"
)


KEPT = ("fp32", "tf32")  # the precisions in which make test checks each set of options of the compiled rung on the CPU


def sampled_out(cases: list[CorrectnessCase]) -> set[str]:
    """Ids of the compiled-on-CPU cases make test leaves out (none with DNNBENCH_TESTS=all)."""
    if os.environ.get("DNNBENCH_TESTS") == "all":
        return set()
    sampled = [c for c in cases if c.variant == "compiled" and c.device == "cpu"]
    kept = {}
    for c in sampled:
        key = (c.op, c.case.precision)  # -> its largest case: the one that exercises the vectorized C++ most
        if key not in kept or math.prod(c.case.shape) > math.prod(kept[key].case.shape):
            kept[key] = c
        if c.case.precision in KEPT:  # -> the first case of each set of options and layout
            kept.setdefault((*key, tuple(sorted(k for k, _ in c.case.params)), c.case.layout), c)
    return {c.id for c in sampled} - {c.id for c in kept.values()}


def interpreted(c: CorrectnessCase) -> bool:
    return c.device == "cpu" and registry.get(c.op, c.variant).interpreted_on_cpu


def pytest_generate_tests(metafunc):
    options = metafunc.config.dnnbench
    if "correctness_case" in metafunc.fixturenames:
        cases = correctness_cases(options)
        left = sampled_out(cases)
        params = [
            pytest.param(
                c,
                id=c.id,
                marks=([pytest.mark.interpreted] if interpreted(c) else [])
                + ([pytest.mark.skip(reason=COMPILED_ON_CPU)] if c.id in left else []),
            )
            for c in cases
        ]
        metafunc.parametrize("correctness_case", params)
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", options.devices)


@pytest.fixture
def seed(request) -> int:
    return request.config.dnnbench.seed


def _hypothesis_profiles() -> None:
    """`make test`: a fixed, derandomized budget (the same examples every run, inside CI's time); `make fuzz`
    (DNNBENCH_FUZZ=long): many more random examples, failures kept in .hypothesis/ and replayed first next time."""
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # the fuzz tests skip themselves, saying why
        return
    slow = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
    settings.register_profile(
        "ci",
        max_examples=20,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=slow,
        print_blob=True,
    )
    settings.register_profile("long", max_examples=300, deadline=None, suppress_health_check=slow, print_blob=True)
    settings.load_profile("long" if os.environ.get("DNNBENCH_FUZZ") == "long" else "ci")


_hypothesis_profiles()


def _share_the_cores() -> None:
    """`make test` runs the suite in pytest-xdist workers, one per core: each worker's torch (and each process a
    test starts) gets its share of the cores, so that their intra-op threads do not fight over the same cores."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        share = max(1, (os.cpu_count() or 1) // workers)
        torch.set_num_threads(share)
        os.environ["OMP_NUM_THREADS"] = str(share)  # and the pytest or dnnbench runs a test starts


_share_the_cores()


@pytest.fixture(scope="session", autouse=True)
def _children_are_not_xdist_workers():
    """A pytest or dnnbench run that a test starts must not inherit the worker's PYTEST_XDIST_* variables:
    pytest-benchmark takes them for an xdist worker of its own and turns its timing off."""
    inherited = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("PYTEST_XDIST_")}
    yield
    os.environ.update(inherited)
