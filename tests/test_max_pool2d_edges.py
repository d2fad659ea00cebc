"""max_pool2d beyond the correctness sweep: the worked examples of lesson 6.2 with their hand-computed outputs and
gradients, ties and NaN as torch treats them, bad arguments, memory formats."""

import pytest
import torch

from kernels import registry
from kernels.max_pool2d import triton_window
from tests import helpers

VARIANTS = [v.name for v in registry.variants("max_pool2d")]
CHECKED = [n for n in VARIANTS if n != "eager"]  # eager is F.max_pool2d itself, with torch's own errors
LESSON_IMAGE = [[1.0, 2.0, 3.0, -4.0], [0.0, 2.0, -3.0, 0.0], [0.0, 2.0, 3.0, 1.0], [0.0, 0.0, 0.0, 0.0]]


def runnable(name: str, device: str):
    return helpers.runnable("max_pool2d", name, device)


def lesson_image(device, sign=1.0):
    return (sign * torch.tensor(LESSON_IMAGE, device=device)).view(1, 1, 4, 4)


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize(
    "stride, expected",
    [(1, [[2.0, 3.0, 3.0], [2.0, 3.0, 3.0], [2.0, 3.0, 3.0]]), (None, [[2.0, 3.0], [2.0, 3.0]])],
    ids=["maxpool-s1", "maxpool-s2"],
)
def test_lesson_6_2_max_pool_gives_the_hand_computed_output(name, stride, expected, device):
    fn = runnable(name, device)
    out = fn(lesson_image(device), 2, stride)
    torch.testing.assert_close(out.cpu(), torch.tensor(expected).view(1, 1, len(expected), -1))


@pytest.mark.parametrize("name", VARIANTS)
def test_lesson_6_2_relu_then_pool(name, device):
    """relu then MaxPool2d(2) on the negated lesson image: windows with no positive value give 0."""
    fn = runnable(name, device)
    out = fn(lesson_image(device, sign=-1.0), 2, activation="relu")
    torch.testing.assert_close(out.cpu(), torch.tensor([[0.0, 4.0], [0.0, 0.0]]).view(1, 1, 2, 2))


@pytest.mark.parametrize("name", VARIANTS)
def test_gradient_goes_to_the_first_maximum_of_each_window(name, device):
    """MaxPool2d(2, stride=1) on the lesson image: the first window holds 2 twice; each of the nine windows sends
    its gradient to its first maximum in row-major order, and overlapping windows add up."""
    fn = runnable(name, device)
    x = lesson_image(device).requires_grad_(True)
    (dx,) = torch.autograd.grad(fn(x, 2, 1).sum(), x)
    expected = [[0.0, 1.0, 2.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 4.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    torch.testing.assert_close(dx.cpu(), torch.tensor(expected).view(1, 1, 4, 4))


@pytest.mark.parametrize("name", VARIANTS)
def test_nan_propagates_to_its_windows(name, device):
    fn = runnable(name, device)
    x = torch.arange(16.0, device=device).view(1, 1, 4, 4)
    x[0, 0, 0, 1] = float("nan")
    out = fn(x, 2).cpu()
    assert out[0, 0, 0, 0].isnan() and not out[0, 0, 1:].isnan().any() and not out[0, 0, 0, 1].isnan()


@pytest.mark.parametrize("name", CHECKED)
@pytest.mark.parametrize(
    "shape, args, kwargs, error, message",
    [
        ((8, 8), (2,), {}, ValueError, r"x must be 4-D \[N, C, H, W\] \(or one \[C, H, W\] image\), got 2-D"),
        ((1, 1, 8, 8), (2,), {"return_indices": 1}, ValueError, "return_indices must be True or False"),
        ((1, 1, 8, 8), (2,), {"padding": 2}, ValueError, "pad should be at most half of kernel size"),
        ((1, 1, 4, 4), (6,), {}, ValueError, "larger than the padded input"),
        ((1, 1, 8, 8), (0,), {}, ValueError, "must be positive"),
        ((1, 1, 8, 8), ((2, 2, 2),), {}, ValueError, "kernel_size must be an int or a pair"),
        ((1, 1, 8, 8), (2,), {"activation": "tanh"}, ValueError, "activation must be None or 'relu'"),
    ],
)
def test_bad_arguments_name_the_problem(name, shape, args, kwargs, error, message, device):
    fn = runnable(name, device)
    with pytest.raises(error, match=message):
        fn(torch.randn(shape, device=device), *args, **kwargs)


@pytest.mark.parametrize("name", ["triton_window", "triton_fused"])
def test_strided_inputs_reach_the_kernel_without_a_copy_and_keep_their_memory_format(name, device, monkeypatch):
    fn = runnable(name, device)
    seen = helpers.spy_on(monkeypatch, "max_pool2d_launch", triton_window)
    sliced = torch.randn(2, 3, 9, 20, device=device)[..., ::2]
    nhwc = torch.randn(2, 3, 9, 10, device=device).contiguous(memory_format=torch.channels_last)
    for x in (sliced, nhwc):
        out = fn(x, 3, 2, 1)
        assert seen[-1][0] == (x.data_ptr(), x.stride())
        torch.testing.assert_close(out, torch.nn.functional.max_pool2d(x, 3, 2, 1))
    assert out.is_contiguous(memory_format=torch.channels_last)  # as F.max_pool2d returns a channels_last input


def test_no_positions_are_saved_without_a_gradient(device, monkeypatch):
    """Inference saves no argmax buffer: the kernel writes y only."""
    fn = runnable("triton_window", device)
    saved = []
    launch = triton_window.max_pool2d_launch

    def spy(x, geo, relu, save_index):
        saved.append(save_index)
        return launch(x, geo, relu, save_index)

    monkeypatch.setattr(triton_window, "max_pool2d_launch", spy)
    x = torch.randn(1, 2, 6, 6, device=device)
    with torch.no_grad():
        fn(x.requires_grad_(True), 2)
    fn(x, 2)
    assert saved == [False, True]
