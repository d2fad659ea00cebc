"""What every op's variants share, checked once over the registry rather than copied into each op's edge file: an
integer input is refused with its dtype named, two float operands of different dtypes are refused, and on CUDA TF32
is a precision of its own that the baseline and the Triton rung both follow."""

import pytest
import torch

from kernels import registry
from tests import helpers

CHECKED = [(op, name) for op in registry.ops() for name in helpers.checked_variants(op)]
# ops with two float operands that must share a dtype, and how to make a small pair of them
TWO_OPERANDS = {
    "matmul": lambda device: (torch.randn(3, 3, device=device), torch.randn(3, 3, device=device)),
    "conv2d": lambda device: (torch.randn(1, 1, 4, 4, device=device), torch.randn(1, 1, 2, 2, device=device)),
}
# ops with a TF32 precision: inputs large enough for TF32's rounding to show, and their keyword arguments
TF32_CASES = {
    "matmul": (lambda: (torch.randn(256, 1024), torch.randn(1024, 256)), {}),
    "conv2d": (lambda: (torch.randn(8, 64, 28, 28), torch.randn(64, 64, 3, 3) / 24), {"padding": 1}),
}


def first_fp32_inputs(op: str, device: str):
    spec = registry.spec(op)
    case = next(c for c in spec.test_cases() if c.dtype == torch.float32 and c.layout == "contiguous")
    return spec.make_inputs(case, device, seed=0)


@pytest.mark.parametrize("op, name", CHECKED, ids=[f"{op}-{name}" for op, name in CHECKED])
def test_an_integer_input_is_refused_with_its_dtype_named(op, name, device):
    fn = helpers.runnable(op, name, device)
    inputs = first_fp32_inputs(op, device)
    first = inputs.args[0]  # a tensor, or an optimizer step's list of parameters
    as_int = [t.detach().to(torch.int64) for t in first] if isinstance(first, list) else first.detach().to(torch.int64)
    args = (as_int, *inputs.args[1:])
    with pytest.raises(TypeError, match="int64"):
        fn(*args, **inputs.kwargs)


@pytest.mark.parametrize("op, name", [(op, n) for op, n in CHECKED if op in TWO_OPERANDS])
def test_operands_of_two_dtypes_are_refused(op, name, device):
    fn = helpers.runnable(op, name, device)
    first, second = TWO_OPERANDS[op](device)
    with pytest.raises(TypeError, match="one dtype"):
        fn(first, second.half())


def test_the_two_operand_and_tf32_tables_cover_the_ops_that_have_them():
    assert {op for op in registry.ops() if registry.spec(op).supports_tf32} == set(TF32_CASES)


@pytest.mark.parametrize("op", list(TF32_CASES))
def test_tf32_is_a_separate_precision_on_cuda(op):
    """With TF32 off, fp32 products are exact to fp32; with it on, operands lose 13 mantissa bits and the error shows
    it. The baseline and the Triton rung both follow the flags; the flags are given back whatever happens."""
    if not torch.cuda.is_available():
        pytest.skip("TF32 exists on CUDA only; on the CPU the flag changes nothing")
    make, kwargs = TF32_CASES[op]
    cpu = make()
    ref = registry.baseline(op).fn(*(t.double() for t in cpu), **kwargs)
    args = [t.cuda() for t in cpu]
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        for v in registry.variants(op):
            if v.rung != registry.RUNGS["triton"] and not v.baseline:
                continue
            errors = {}
            for tf32 in (False, True):
                torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
                errors[tf32] = ((v.fn(*args, **kwargs).double().cpu() - ref).norm() / ref.norm()).item()
            assert errors[False] < 1e-5 < errors[True] < 5e-3, (v.name, errors)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
