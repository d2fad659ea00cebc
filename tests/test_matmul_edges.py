"""Matmul behaviour beyond the correctness sweep: bad input, TF32 as its own precision, operands read in place."""

import sys

import pytest
import torch

from kernels import registry
from kernels.matmul import triton_tiled
from tests import helpers

VARIANTS = [v.name for v in registry.variants("matmul")]
CHECKED = [n for n in VARIANTS if n != "eager"]  # eager is torch.matmul itself, with torch's own errors


def runnable(name: str, device: str):
    return helpers.runnable("matmul", name, device)


@pytest.mark.parametrize("name", VARIANTS)
def test_mismatched_inner_dimensions_are_an_error(name, device):
    fn = runnable(name, device)
    with pytest.raises((ValueError, RuntimeError), match=r"inner dimensions differ|cannot be multiplied"):
        fn(torch.randn(3, 4, device=device), torch.randn(5, 6, device=device))


@pytest.mark.parametrize("name", CHECKED)
@pytest.mark.parametrize(
    "a, b, kwargs, error, message",
    [
        ((3, 4), (4, 5), {"activation": "gelu"}, ValueError, "unknown activation 'gelu'"),
        (
            (2, 3, 3, 4),
            (4, 4, 5),
            {},
            ValueError,
            r"batch dims do not broadcast: a is \(2, 3, 3, 4\), b is \(4, 4, 5\)",
        ),
        ((3, 4), (4, 5), {"bias": (4,)}, ValueError, "bias must be a 1-D tensor of N=5"),
        ((2, 3, 4), (3, 4, 5), {}, ValueError, "batch dims do not broadcast"),
    ],
)
def test_bad_arguments_name_the_problem(name, a, b, kwargs, error, message, device):
    fn = runnable(name, device)
    if "bias" in kwargs:
        kwargs = {"bias": torch.randn(kwargs["bias"], device=device)}
    with pytest.raises(error, match=message):
        fn(torch.randn(a, device=device), torch.randn(b, device=device), **kwargs)


@pytest.mark.parametrize("name", CHECKED)
def test_integer_and_mixed_dtypes_are_rejected(name, device):
    fn = runnable(name, device)
    ints = torch.ones(3, 3, dtype=torch.int64, device=device)
    with pytest.raises(TypeError, match="floating point.*int64"):
        fn(ints, ints)
    with pytest.raises(TypeError, match="one dtype"):
        fn(torch.randn(3, 3, device=device), torch.randn(3, 3, device=device).half())


@pytest.mark.parametrize("name", ["triton_tiled", "triton_fused"])
def test_transposed_and_sliced_operands_reach_the_kernel_without_a_copy(name, device, monkeypatch):
    fn = runnable(name, device)
    seen = []
    launch = triton_tiled.matmul_launch

    def spy(a, b, *args):
        seen.append((a.data_ptr(), a.stride(), b.data_ptr(), b.stride()))
        return launch(a, b, *args)

    monkeypatch.setattr(triton_tiled, "matmul_launch", spy)
    monkeypatch.setattr(sys.modules[fn.__module__], "matmul_launch", spy)  # triton_fused imports it by name
    a_t = torch.randn(40, 30, device=device).t()  # [30, 40] stored transposed
    b_s = torch.randn(40, 100, device=device)[:, ::2]  # [40, 50], every other column
    out = fn(a_t, b_s)
    assert seen[0] == (a_t.data_ptr(), a_t.stride(), b_s.data_ptr(), b_s.stride())
    torch.testing.assert_close(out, a_t @ b_s, rtol=1e-4, atol=1e-4)


def test_tf32_is_a_separate_precision_on_cuda():
    """With TF32 off, fp32 products are exact to fp32; with it on, operands lose 13 mantissa bits, and the error
    shows it. Both the eager baseline and the Triton kernel follow the flag."""
    if not torch.cuda.is_available():
        pytest.skip("TF32 exists on CUDA only; on the CPU the flag changes nothing")
    a, b = torch.randn(256, 1024, device="cuda"), torch.randn(1024, 256, device="cuda")
    ref = a.double() @ b.double()
    for name in ("eager", "triton_tiled"):
        fn = registry.get("matmul", name).fn
        errors = {}
        for tf32 in (False, True):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            errors[tf32] = ((fn(a, b).double() - ref).norm() / ref.norm()).item()
        torch.backends.cuda.matmul.allow_tf32 = False
        assert errors[False] < 1e-5 < errors[True] < 5e-3, (name, errors)
