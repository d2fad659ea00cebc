"""conv2d beyond the correctness sweep: the worked examples of lessons 6.1 and 6.3 with their hand-computed outputs,
bad arguments, memory formats (integer input, mixed dtypes and TF32, shared by the ops, are in
tests/test_op_contract.py)."""

import pytest
import torch

from kernels import registry
from kernels.conv2d import triton_implicit_gemm
from tests import helpers

VARIANTS = [v.name for v in registry.variants("conv2d")]
CHECKED = [n for n in VARIANTS if n != "eager"]  # eager is F.conv2d itself, with torch's own errors

SOBEL_X = [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]
SOBEL_Y = [[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]
ONES3 = [[1.0] * 3] * 3


def runnable(name: str, device: str):
    return helpers.runnable("conv2d", name, device)


def image(rows, device):
    return torch.tensor(rows, device=device).view(1, 1, len(rows), len(rows[0]))


def kernels(*taps, device):
    """weight [K, C, R, S] from taps[k][c] = an R x S list."""
    return torch.tensor(taps, device=device)


def vertical_line(device):  # 5x5 zeros with a vertical line of ones in column 2 (lesson 6.1)
    return image([[1.0 if j == 2 else 0.0 for j in range(5)] for _ in range(5)], device)


def horizontal_line(device):
    return vertical_line(device).transpose(-1, -2).contiguous()


@pytest.mark.parametrize("name", VARIANTS)
def test_lesson_6_1_sobel_finds_the_vertical_edge(name, device):
    fn = runnable(name, device)
    out = fn(vertical_line(device), kernels([SOBEL_X], device=device), torch.zeros(1, device=device))
    torch.testing.assert_close(out.cpu(), torch.tensor([[-4.0, 0.0, 4.0]] * 3).view(1, 1, 3, 3))


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize(
    "stride, padding, expected",
    [
        (1, 0, [[4.0] * 3] * 3),
        (2, 0, [[4.0] * 2] * 2),
        (3, 0, [[4.0]]),  # floor((4 - 2) / 3) + 1 = 1
        (3, 1, [[1.0, 2.0], [2.0, 4.0]]),  # floor((4 + 2 - 2) / 3) + 1 = 2; the padding counts zeros
    ],
)
def test_lesson_6_1_stride_and_padding_give_the_hand_computed_output(name, stride, padding, expected, device):
    fn = runnable(name, device)
    ones = image([[1.0] * 4] * 4, device)
    out = fn(ones, torch.ones(1, 1, 2, 2, device=device), None, stride=stride, padding=padding)
    side = (4 + 2 * padding - 2) // stride + 1
    assert out.shape == (1, 1, side, side)
    torch.testing.assert_close(out.cpu(), torch.tensor(expected).view(1, 1, side, side))


@pytest.mark.parametrize("name", VARIANTS)
def test_lesson_6_2_relu_after_sobel(name, device):
    fn = runnable(name, device)
    out = fn(vertical_line(device), kernels([SOBEL_X], device=device), None, activation="relu")
    torch.testing.assert_close(out.cpu(), torch.tensor([[0.0, 0.0, 4.0]] * 3).view(1, 1, 3, 3))


@pytest.mark.parametrize("name", VARIANTS)
def test_lesson_6_3_each_output_channel_is_its_own_kernels_response(name, device):
    """Conv2d(1, 3, 3) with Sobel-x, Sobel-y and all-ones kernels on the vertical line."""
    fn = runnable(name, device)
    out = fn(vertical_line(device), kernels([SOBEL_X], [SOBEL_Y], [ONES3], device=device))
    expected = torch.stack([torch.tensor([[-4.0, 0.0, 4.0]] * 3), torch.zeros(3, 3), torch.full((3, 3), 3.0)])
    torch.testing.assert_close(out.cpu(), expected.unsqueeze(0))


@pytest.mark.parametrize("name", VARIANTS)
def test_lesson_6_3_input_channels_sum(name, device):
    """Conv2d(2, 1, 3) and Conv2d(2, 3, 3) on a vertical line (channel 0) and a horizontal line (channel 1)."""
    fn = runnable(name, device)
    x = torch.cat([vertical_line(device), horizontal_line(device)], dim=1)
    vertical_by_x = torch.tensor([[-4.0, 0.0, 4.0]] * 3)  # Sobel-x on the vertical line
    horizontal_by_y = vertical_by_x.t()  # Sobel-y on the horizontal line: [-4, 0, 4] down the rows
    # Conv2d(2, 1, 3): Sobel-x on channel 0 plus Sobel-y on channel 1
    out = fn(x, kernels([SOBEL_X, SOBEL_Y], device=device))
    torch.testing.assert_close(out.cpu(), (vertical_by_x + horizontal_by_y).view(1, 1, 3, 3))
    # Conv2d(2, 3, 3): the same, each channel alone, and all-ones kernels (3 ones under each window, twice)
    zeros = [[0.0] * 3] * 3
    out = fn(x, kernels([SOBEL_X, SOBEL_Y], [SOBEL_X, zeros], [ONES3, ONES3], device=device))
    expected = torch.stack([vertical_by_x + horizontal_by_y, vertical_by_x, torch.full((3, 3), 6.0)])
    torch.testing.assert_close(out.cpu(), expected.unsqueeze(0))


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize(
    "x, w, kwargs, message",
    [
        ((2, 3, 8, 8), (4, 2, 3, 3), {}, r"x has 3 channels|expected input.*to have 2 channels"),
        ((2, 6, 8, 8), (4, 3, 3, 3), {"groups": 3}, r"groups=3 must divide|weight to be divisible by 3"),
        ((2, 6, 8, 8), (4, 2, 3, 3), {"groups": 2}, r"x has 6 channels|expected input.*to have 4 channels"),
    ],
)
def test_mismatched_channels_or_groups_are_an_error(name, x, w, kwargs, message, device):
    fn = runnable(name, device)
    with pytest.raises((ValueError, RuntimeError), match=message):
        fn(torch.randn(x, device=device), torch.randn(w, device=device), **kwargs)


@pytest.mark.parametrize("name", CHECKED)
@pytest.mark.parametrize(
    "x, w, kwargs, error, message",
    [
        ((8, 8), (4, 3, 3, 3), {}, ValueError, r"x must be 4-D \[N, C, H, W\] \(or one \[C, H, W\] image\), got 2-D"),
        ((2, 3, 8, 8), (4, 3, 3, 3), {"stride": 2, "padding": "same"}, ValueError, "'same' is not supported for str"),
        ((2, 3, 8, 8), (4, 3, 3, 3), {"padding": "full"}, ValueError, "padding must be an int, a pair"),
        ((2, 3, 4, 4), (4, 3, 5, 5), {}, ValueError, "larger than the padded input"),
        ((2, 3, 8, 8), (4, 3, 3, 3), {"stride": 0}, ValueError, "stride and dilation must be positive"),
        ((2, 3, 8, 8), (4, 3, 3, 3), {"bias": (3,)}, ValueError, "bias must be a tensor of K=4 values"),
        ((2, 3, 8, 8), (4, 3, 3, 3), {"activation": "gelu"}, ValueError, "activation must be None or 'relu'"),
        ((2, 3, 8, 8), (4, 3, 3, 3), {"bn": (3,)}, ValueError, r"bn must be a tuple \(running_mean"),
    ],
)
def test_bad_arguments_name_the_problem(name, x, w, kwargs, error, message, device):
    fn = runnable(name, device)
    if "bias" in kwargs:
        kwargs = {"bias": torch.randn(kwargs["bias"], device=device)}
    with pytest.raises(error, match=message):
        fn(torch.randn(x, device=device), torch.randn(w, device=device), **kwargs)


@pytest.mark.parametrize("name", ["triton_implicit_gemm", "triton_fused"])
def test_strided_inputs_reach_the_kernel_without_a_copy_and_keep_their_memory_format(name, device, monkeypatch):
    fn = runnable(name, device)
    seen = helpers.spy_on(monkeypatch, "conv2d_launch", triton_implicit_gemm)
    sliced = torch.randn(2, 3, 9, 20, device=device)[..., ::2]
    nhwc = torch.randn(2, 3, 9, 10, device=device).contiguous(memory_format=torch.channels_last)
    w = torch.randn(4, 3, 3, 3, device=device)
    for x in (sliced, nhwc):
        out = fn(x, w, padding=1)
        assert seen[-1][0] == (x.data_ptr(), x.stride())
        torch.testing.assert_close(out, torch.nn.functional.conv2d(x, w, padding=1), rtol=1e-4, atol=1e-4)
    assert out.is_contiguous(memory_format=torch.channels_last)  # as F.conv2d returns a channels_last input


@pytest.mark.parametrize("splits", [2, 4])
def test_weight_gradient_split_over_programs_adds_up(splits, device, monkeypatch):
    """On CUDA the weight gradient's N*P*Q reduction is split over programs (split-K) into fp32 partial sums; the
    interpreter would use one split, so the split path is forced here."""
    fn = runnable("triton_implicit_gemm", device)
    monkeypatch.setattr(triton_implicit_gemm, "_weight_grad_splits", lambda *args: splits)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, 9, 9, generator=g).to(device)
    w = (torch.randn(6, 4, 3, 3, generator=g) / 6).to(device).requires_grad_(True)
    dy = torch.randn(3, 6, 9, 9, generator=g).to(device)
    (dw,) = torch.autograd.grad(fn(x, w, padding=1), w, dy)
    (want,) = torch.autograd.grad(torch.nn.functional.conv2d(x.double(), w.double(), padding=1), w, dy.double())
    # 243 output pixels in shares of 128 or 64 (multiples of SPLIT_QUANTUM): the last share is partial
    torch.testing.assert_close(dw, want, rtol=1e-5, atol=1e-5)


def test_folded_batch_norm_trains_gamma_and_beta():
    """The fused block folds the batch norm before its kernel; torch's autograd still reaches gamma and beta."""
    from kernels.conv2d.triton_fused import fold_batch_norm

    g = torch.Generator().manual_seed(0)
    x, w, b = (torch.randn(s, generator=g, dtype=torch.float64) for s in ((2, 3, 6, 6), (4, 3, 3, 3), (4,)))
    mean, var = torch.randn(4, generator=g, dtype=torch.float64), torch.rand(4, generator=g, dtype=torch.float64) + 0.5
    gamma, beta = (torch.randn(4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(2))
    folded = torch.nn.functional.conv2d(x, *fold_batch_norm(w, b, (mean, var, gamma, beta), 1e-5))
    unfused = registry.get("conv2d", "eager").fn(x, w, b, bn=(mean, var, gamma, beta))
    torch.testing.assert_close(folded, unfused)
    dy = torch.randn(unfused.shape, generator=g, dtype=torch.float64)
    torch.testing.assert_close(
        torch.autograd.grad(folded, (gamma, beta), dy), torch.autograd.grad(unfused, (gamma, beta), dy)
    )


def test_int32_offsets_are_checked_on_the_farthest_element_not_the_count():
    """A sliced input has fewer elements than the span its strides reach: the kernels' int32 offsets must cover the
    span (meta tensors: nothing is allocated)."""
    from kernels.triton_support import check_int32_offsets

    wide = torch.empty(1, 1, 4, 2**29 + 64, device="meta")[..., ::4]  # 2**29 elements reaching past 2**31
    assert wide.numel() < 2**31 - 1
    with pytest.raises(ValueError, match=r"conv2d: 2,147,483,\d+ elements exceed the kernels' int32 offsets"):
        check_int32_offsets("conv2d", wide)
    check_int32_offsets("conv2d", wide[..., : 2**25], 2**31 - 1)  # within reach: no error
