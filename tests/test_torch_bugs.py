"""Bugs of torch itself that the suite's fuzz found and leaves out of its own checks (tests/fuzz.py torch_bug): each
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
    assert not torch.isfinite(grads[torch.channels_last]).all(), "torch fixed it: drop tests/fuzz.py torch_bug's case"
