"""Bugs of torch itself that the suite's fuzz found and leaves out of its own checks (kernels/fuzz.py torch_bug): each
test asserts the bug is still there, so that it fails, and the exclusion can go, once torch fixes it."""

import torch
import torch.nn.functional as F


def test_cpu_fp16_batch_norm_backward_with_a_channels_last_gradient_overflows():
    """Training-mode batch norm of fp16 values of a few thousand: with a contiguous output gradient torch's CPU
    backward is right; with a channels_last one it accumulates sum(dy * (x - mean)) in fp16 and returns inf."""
    x = (torch.randn(5, 2, 7, 7, generator=torch.Generator().manual_seed(0)) * 3000).half().requires_grad_(True)
    dy = torch.randn(5, 2, 7, 7, generator=torch.Generator().manual_seed(0)).half()  # overflows for some dy, not all
    grads = {}
    for layout in (torch.contiguous_format, torch.channels_last):
        y = F.batch_norm(x, None, None, None, None, True, 0.1, 1e-5)
        (grads[layout],) = torch.autograd.grad(y, x, dy.contiguous(memory_format=layout))
    assert torch.isfinite(grads[torch.contiguous_format]).all()
    assert not torch.isfinite(grads[torch.channels_last]).all(), "torch fixed it: drop kernels/fuzz.py torch_bug's case"


def test_fp16_label_smoothing_sums_the_smoothing_term_in_fp16():
    """F.cross_entropy with label smoothing adds -log p over every class of every row in the logits' dtype before
    it scales the sum by eps / C: for 12 rows of 1030 fp16 logits that sum (9.2e4) passes fp16's 65504 and the mean,
    7.34 in float64, comes out inf."""
    g = torch.Generator().manual_seed(0)
    x, target = torch.randn(12, 1030, generator=g).half(), torch.randint(0, 1030, (12,), generator=g)
    want = F.cross_entropy(x.double(), target, label_smoothing=0.1)
    assert torch.isfinite(want) and torch.isfinite(F.cross_entropy(x, target))  # without smoothing: finite
    got = F.cross_entropy(x, target, label_smoothing=0.1)
    assert not torch.isfinite(got), "torch fixed it: drop kernels/fuzz.py torch_bug's cross_entropy case"
