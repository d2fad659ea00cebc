"""Batch norm behaviour beyond the correctness sweep: torch's error for one value per channel, variance 0, the
module's cumulative average (momentum=None), eval after training, and bad input."""

import pytest
import torch
import torch.nn.functional as F

from kernels import registry
from kernels.batchnorm.module import BatchNorm
from tests import helpers

VARIANTS = [v.name for v in registry.variants("batchnorm")]
CHECKED = [n for n in VARIANTS if n != "eager"]


def runnable(name: str, device: str):
    return helpers.runnable("batchnorm", name, device)


def stats(c, device):
    return torch.zeros(c, device=device), torch.ones(c, device=device)


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1, 1)])
def test_training_with_one_value_per_channel_raises_torchs_error(name, shape, device):
    fn = runnable(name, device)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        fn(torch.randn(shape, device=device), *stats(shape[1], device), training=True)


@pytest.mark.parametrize("name", VARIANTS)
def test_a_constant_channel_gives_beta_without_nan(name, device):
    fn = runnable(name, device)
    x = torch.randn(6, 3, 4, 4, device=device)
    x[:, 1] = 2.5
    bias = torch.tensor([0.1, -0.7, 0.3], device=device)
    y = fn(x, *stats(3, device), torch.ones(3, device=device), bias, training=True)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y[:, 1], torch.full_like(y[:, 1], -0.7), atol=1e-3, rtol=0)


@pytest.mark.parametrize("name", VARIANTS)
def test_batch_of_one_with_spatial_size_trains(name, device):
    fn = runnable(name, device)
    x = torch.randn(1, 4, 5, 5, device=device)
    rm, rv = stats(4, device)
    y = fn(x, rm, rv, training=True)
    ref = F.batch_norm(
        x.double().cpu(), torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64), training=True
    )
    torch.testing.assert_close(y.double().cpu(), ref, rtol=1e-4, atol=1e-4)
    assert not torch.equal(rm, torch.zeros(4, device=device)), "running_mean was not updated"


@pytest.mark.parametrize("name", VARIANTS)
def test_module_momentum_none_is_the_cumulative_average(name, device):
    """Over three training batches, BatchNorm(momentum=None) matches torch.nn.BatchNorm2d(momentum=None): the
    running statistics are the plain average of the batch statistics; then evaluation uses them."""
    runnable(name, device)
    ours = BatchNorm(5, momentum=None, variant=name).to(device)
    ref = torch.nn.BatchNorm2d(5, momentum=None).to(device)
    for step in range(3):
        x = torch.randn(4, 5, 6, 6, device=device) * (step + 1) + step
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ours.running_mean, ref.running_mean, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.running_var, ref.running_var, rtol=1e-5, atol=1e-5)
    assert int(ours.num_batches_tracked) == 3
    ours.eval()
    ref.eval()
    x = torch.randn(2, 5, 6, 6, device=device)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", CHECKED)
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"momentum": None}, ValueError, "momentum must be a number"),
        ({"activation": "gelu"}, ValueError, "activation must be None or 'relu'"),
        ({"weight": (4,)}, ValueError, "weight must be a tensor of C=3 values"),
        ({"training": False, "running": False}, ValueError, "must be given in evaluation mode"),
        ({"x": (5,)}, ValueError, "at least 2 dimensions"),
        ({"x_dtype": torch.int64}, TypeError, "floating point.*int64"),
    ],
)
def test_bad_arguments_name_the_problem(name, kwargs, error, message, device):
    fn = runnable(name, device)
    kwargs = dict(kwargs)
    x = torch.randn(kwargs.pop("x", (4, 3)), device=device)
    if "x_dtype" in kwargs:
        x = x.to(kwargs.pop("x_dtype"))
    rm, rv = stats(3, device) if kwargs.pop("running", True) else (None, None)
    if "weight" in kwargs:
        kwargs["weight"] = torch.ones(kwargs["weight"], device=device)
    kwargs.setdefault("training", True)
    with pytest.raises(error, match=message):
        fn(x, rm, rv, **kwargs)


@pytest.mark.parametrize("name", ["triton_twopass", "triton_fused"])
@pytest.mark.parametrize("splits", [3, 8])
def test_statistics_split_over_programs_merge_exactly(name, splits, device, monkeypatch):
    """On CUDA each channel's values are shared by several programs whose partial (mean, M2) and backward sums are
    merged; the interpreter would use one program per channel, so the split is forced here. The images of the batch
    have different means, so the chunks do too and the merge's spread term matters; the last chunk is partial."""
    from kernels.batchnorm import triton_twopass

    fn = runnable(name, device)
    monkeypatch.setattr(triton_twopass, "wanted_splits", lambda *args: splits)
    g = torch.Generator().manual_seed(3)
    x = (torch.randn(5, 3, 37, 41, generator=g) + 4 * torch.arange(5.0).view(5, 1, 1, 1)).to(device)
    w, b = (torch.rand(3, generator=g) + 0.5).to(device), torch.randn(3, generator=g).to(device)
    rm, rv = stats(3, device)
    x64, w64, b64 = (t.double().cpu().requires_grad_(True) for t in (x, w, b))
    rm64, rv64 = (t.double().cpu() for t in (rm, rv))
    leaves = [t.requires_grad_(True) for t in (x, w, b)]
    y = fn(*leaves[:1], rm, rv, *leaves[1:], training=True, activation="relu")
    want = F.relu(F.batch_norm(x64, rm64, rv64, w64, b64, training=True))
    torch.testing.assert_close(y.double().cpu(), want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(rv.double().cpu(), rv64, rtol=1e-5, atol=1e-5)  # unbiased, from the merged M2
    torch.testing.assert_close(rm.double().cpu(), rm64, rtol=1e-5, atol=1e-5)
    dy = torch.randn(y.shape, generator=g)
    got = torch.autograd.grad(y, leaves, dy.to(device))
    ref = torch.autograd.grad(want, (x64, w64, b64), dy.double())
    for a, e in zip(got, ref, strict=True):
        torch.testing.assert_close(a.double().cpu(), e, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("sliced", ["running_stats", "weight", "bias"])
def test_evaluation_gradients_with_sliced_per_channel_vectors(name, sliced, device):
    """Per-channel vectors that are every other element of a larger, NaN-filled tensor: torch's own CPU batch-norm
    backward (2.14) reads the running statistics and the weight as contiguous in evaluation mode for [N, C] inputs
    (BatchNorm1d's) and gives NaN; every variant, the baseline included, must give the float64 gradients."""
    fn = runnable(name, device)
    g = torch.Generator().manual_seed(5)

    def every_other(values: torch.Tensor) -> torch.Tensor:
        wide = torch.full((2 * len(values),), float("nan"))
        wide[::2] = values
        return wide[::2]

    x = torch.randn(3, 4, generator=g)
    rm, rv, w, b = torch.randn(4, generator=g), torch.rand(4, generator=g) + 0.5, torch.rand(4) + 0.5, torch.randn(4)
    if sliced == "running_stats":
        rm, rv = every_other(rm), every_other(rv)
    leaves = [t.to(device).requires_grad_(True) for t in (x, w, b)]
    # the view of a NaN-filled leaf, so that autograd differentiates through the slice as a layer's weight would
    if sliced in ("weight", "bias"):
        i = 1 if sliced == "weight" else 2
        wide = torch.full((8,), float("nan"), device=device)
        wide[::2] = leaves[i].detach()
        leaves[i] = wide.requires_grad_(True)[::2]
    x_, w_, b_ = leaves
    dy = torch.randn(3, 4, generator=g).to(device)
    got = torch.autograd.grad(fn(x_, rm.to(device), rv.to(device), w_, b_, training=False), (x_, w_, b_), dy)
    ref_leaves = [t.detach().double().cpu().contiguous().requires_grad_(True) for t in (x_, w_, b_)]
    want = F.batch_norm(ref_leaves[0], rm.double().contiguous(), rv.double().contiguous(), *ref_leaves[1:])
    for a, e in zip(got, torch.autograd.grad(want, ref_leaves, dy.double().cpu()), strict=True):
        torch.testing.assert_close(a.double().cpu(), e, rtol=1e-5, atol=1e-6)
