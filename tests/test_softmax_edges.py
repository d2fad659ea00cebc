"""Softmax behaviour beyond the correctness sweep: what the lesson formula does with large logits, bad input, empty
tensors, rows wider than the whole-row kernel, and the exact NaN / zero semantics of -inf rows."""

import math

import pytest
import torch
import torch.nn.functional as F

from kernels import registry
from kernels.softmax import triton_rowwise
from kernels.softmax.rows import as_rows
from tests import helpers

VARIANTS = [v.name for v in registry.variants("softmax")]


def runnable(name: str, device: str):
    return helpers.runnable("softmax", name, device)


@pytest.mark.parametrize("dtype, scale", [(torch.float32, 1e4), (torch.float16, 20.0)])
def test_lesson_formula_overflows_where_the_others_do_not(dtype, scale, device):
    """exp(x) / sum(exp(x)) without max subtraction: exp(1e4) is inf in fp32 (exp(20) in fp16), so the lesson's
    softmax returns NaN for these logits, while every other variant returns the right, finite answer."""
    x = (torch.randn(4, 100, dtype=torch.float64) * scale).to(device, dtype)
    x[:, 0] = scale  # at least one logit per row that overflows exp
    lesson = registry.get("softmax", "lesson").fn(x, -1)
    assert torch.isnan(lesson).any(), "the lesson formula was expected to overflow"
    ref = F.softmax(x.double().cpu(), -1)
    for name in VARIANTS:
        if name == "lesson" or registry.get("softmax", name).skip_reason(device):
            continue
        y = registry.get("softmax", name).fn(x, -1)
        assert torch.isfinite(y).all(), f"{name} overflowed"
        assert torch.allclose(y.double().cpu(), ref, atol=2e-3), name


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("dim", [2, -3])
def test_dim_out_of_range_is_an_index_error(name, dim, device):
    fn = runnable(name, device)
    with pytest.raises(IndexError, match="out of range"):
        fn(torch.randn(3, 4, device=device), dim)


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("shape", [(0, 7), (5, 0), (0,)])
def test_empty_tensor_gives_an_empty_result(name, shape, device):
    fn = runnable(name, device)
    y = fn(torch.randn(shape, device=device), -1)
    assert y.shape == torch.Size(shape) and y.dtype == torch.float32


@pytest.mark.parametrize("name", VARIANTS)
def test_zero_dim_tensor_is_one(name, device):
    fn = runnable(name, device)
    assert fn(torch.tensor(3.5, device=device), 0).item() == 1.0


@pytest.mark.parametrize("name", ["triton_rowwise", "triton_online"])
def test_triton_variants_reject_float64_clearly(name, device):
    fn = runnable(name, device)
    with pytest.raises(TypeError, match="float32, float16 or bfloat16, got torch.float64"):
        fn(torch.randn(2, 3, dtype=torch.float64, device=device), -1)


def test_whole_row_kernel_refuses_rows_wider_than_a_block(device):
    fn = runnable("triton_rowwise", device)
    too_wide = triton_rowwise.MAX_COLS + 1
    with pytest.raises(ValueError, match=f"at most {triton_rowwise.MAX_COLS} columns.*triton_online"):
        fn(torch.randn(1, too_wide, device=device), -1)


@pytest.mark.parametrize("name", VARIANTS)
def test_minus_inf_rows_match_torch_exactly(name, device):
    """A row of only -inf gives NaN (as torch.softmax); -inf entries of other rows give exact zeros, and so do their
    gradients."""
    fn = runnable(name, device)
    x = torch.randn(3, 37, device=device)
    x[0] = float("-inf")
    x[1, ::2] = float("-inf")
    x.requires_grad_(True)
    y = fn(x, -1)
    assert torch.isnan(y[0]).all()
    assert (y[1, ::2] == 0).all() and (y[1, 1::2] > 0).all()
    assert math.isclose(y[1].sum().item(), 1.0, rel_tol=1e-5) and math.isclose(y[2].sum().item(), 1.0, rel_tol=1e-5)
    (dx,) = torch.autograd.grad(y[1:].sum() + (y[1:] * torch.randn_like(y[1:])).sum(), x)
    assert (dx[1, ::2] == 0).all() and torch.isfinite(dx[1:]).all()


@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_triton_rows_are_a_view_of_the_input_in_any_common_layout(dim):
    """The Triton launchers read x as [d0, d1, d2, n] through four strides: sliced, transposed, permuted,
    expanded and channels_last inputs of up to 4 dims reach the kernel as they are, without a copy; only an input
    with more than three row dims that do not merge is copied (and the variants declare that `clone`)."""
    base = torch.randn(40, 60)
    cube = torch.randn(6, 7, 8)
    nhwc = torch.randn(2, 3, 4, 5).contiguous(memory_format=torch.channels_last)
    swapped = torch.randn(3, 2, 4, 5).transpose(0, 1)  # batch and channel swapped in memory
    expanded = torch.randn(1, 7, 8).expand(6, 7, 8)
    for x in (
        base,
        base[:, ::3],
        base.t(),
        base[5:, 7:],
        cube,
        cube.transpose(0, 2),
        cube[:, 1:, ::2],
        nhwc,
        swapped,
        expanded,
    ):
        x4, restore = as_rows(x, dim)
        assert x4.data_ptr() == x.data_ptr() and x4.shape[-1] == x.shape[dim]
        rows = x.movedim(dim, -1).reshape(-1, x.shape[dim])  # the rows in the kernels' order
        assert x4.reshape(-1, x.shape[dim]).equal(rows)
        assert restore(rows.contiguous()).equal(x)
    scrambled_5d = torch.randn(7, 6, 5, 4, 3).permute(4, 2, 0, 3, 1)  # no two row dims merge
    x4, restore = as_rows(scrambled_5d, -1)
    assert x4.data_ptr() != scrambled_5d.data_ptr()
    assert restore(x4.reshape(-1, 6).contiguous()).equal(scrambled_5d)
