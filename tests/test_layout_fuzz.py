"""Layout fuzz: every variant of every op, on inputs whose every tensor argument (and the output gradient) is stored
in a drawn memory layout, against the float64 reference: outputs, in-place state and all gradients.

Shapes, parameters, dtypes, values and layouts are drawn by hypothesis (kernels/fuzz.py). `make test` runs a fixed,
derandomized budget of examples per variant; `make fuzz` runs a longer, random one (DNNBENCH_FUZZ=long). A failure
prints the shrunk example as a reproduction to paste into Python.
"""

import pytest
import torch

hypothesis = pytest.importorskip("hypothesis", reason="the layout fuzz needs hypothesis (pip install hypothesis)")

from hypothesis import given, settings  # noqa: E402

from kernels import registry  # noqa: E402
from kernels.spec import Case  # noqa: E402
from tests import fuzz  # noqa: E402

VARIANTS = [(op, v.name) for op in registry.ops() for v in registry.variants(op)]


def test_every_op_has_a_fuzz_strategy():
    assert sorted(fuzz.CASES) == sorted(registry.ops()) == sorted(fuzz.TEMPLATES)


# torch.compile compiles one graph per layout (seconds each on the CPU): its layouts come from the random test only
PER_LAYOUT = [(op, name, lay) for op, name in VARIANTS if name != "compiled" for lay in fuzz.LAYOUTS]


@pytest.mark.parametrize("op, name, layout", PER_LAYOUT, ids=["-".join(p) for p in PER_LAYOUT])
def test_variant_matches_float64_in_each_layout(op, name, layout, device):
    """Each layout on its own, every tensor argument and the output gradient stored in it."""
    v = registry.get(op, name)
    reason = v.skip_reason(device)
    if reason:
        pytest.skip(reason)
    example = fuzz.layout_example(op, layout)
    why = v.unsupported_reason(example.case, device) or fuzz.known_wrong(name, example, device)
    if why:
        pytest.skip(f"{op}/{name} declares it: {why}")
    bad = fuzz.check_example(name, example, device)
    assert not bad, f"{op}/{name} in layout {layout}: " + "; ".join(bad)


def examples_for(v) -> int:
    """Interpreted Triton and torch.compile (one compilation per layout) cost seconds per example."""
    budget = settings.default.max_examples
    return max(2, budget // 3) if v.name == "compiled" else max(3, budget // 2) if v.interpreted_on_cpu else budget


def runnable_dtypes(v, device: str) -> list[torch.dtype]:
    """The dtypes this variant runs on `device` (bf16 Triton dots are wrong under the interpreter: skipped)."""
    spec = registry.spec(v.op)
    probe = next(c for c in spec.test_cases() if c.fill == "randn")
    return [
        d for d in spec.dtypes if v.unsupported_reason(Case(probe.name, probe.shape, d, probe.params), device) is None
    ]


@pytest.mark.parametrize("op, name", VARIANTS, ids=[f"{op}-{name}" for op, name in VARIANTS])
def test_variant_matches_float64_in_every_layout(op, name, device):
    v = registry.get(op, name)
    reason = v.skip_reason(device)
    if reason:
        pytest.skip(reason)
    dtypes = runnable_dtypes(v, device)

    @settings(max_examples=examples_for(v))
    @given(example=fuzz.examples(op, dtypes))
    def check(example):
        why = v.unsupported_reason(example.case, device)
        hypothesis.assume(why is None)  # a declared limit (the lesson's overflow on large logits): not this test's
        hypothesis.assume(fuzz.torch_bug(name, example, device) is None)  # torch's own, tested in test_torch_bugs
        hypothesis.assume(fuzz.known_wrong(name, example, device) is None)  # a peer's declared defect
        bad = fuzz.check_example(name, example, device)
        assert not bad, (
            f"{op}/{name}: "
            + "; ".join(bad)
            + f"\nreproduce: from tests.fuzz import *; check_example({name!r}, {example!r})"
        )

    check()
