"""Parametrizes the correctness tests from the registry and the run's options (bench/plugin.py)."""

from __future__ import annotations

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


def interpreted(c: CorrectnessCase) -> bool:
    return c.device == "cpu" and registry.get(c.op, c.variant).interpreted_on_cpu


def pytest_generate_tests(metafunc):
    options = metafunc.config.dnnbench
    if "correctness_case" in metafunc.fixturenames:
        params = [
            pytest.param(c, id=c.id, marks=[pytest.mark.interpreted] if interpreted(c) else [])
            for c in correctness_cases(options)
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
