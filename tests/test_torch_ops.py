"""The torch-op guard of the correctness test (kernels/torch_ops.py): it sees a Triton rung's hidden PyTorch
compute, accepts what the rung declares, and does not count allocation, views or the Triton interpreter's own
copies."""

import pytest
import torch
import torch.nn.functional as F

from kernels import registry
from kernels.registry import Variant
from kernels.torch_ops import AtenRecorder, undeclared_ops


def fake(torch_ops=None) -> Variant:
    return Variant("softmax", "triton_fake", lambda x, dim=-1: x, 3, torch_ops=torch_ops or {})


def test_a_hidden_torch_softmax_is_caught_and_a_declared_one_is_not():
    x, dy = torch.randn(4, 8, requires_grad=True), torch.randn(4, 8)
    recorder = AtenRecorder()
    with recorder:
        y = F.softmax(x, -1)
    with recorder:
        torch.autograd.grad(y, x, dy)
    assert undeclared_ops(fake(), recorder) == ["_softmax", "_softmax_backward_data"]
    declared = fake({"_softmax": "why", "_softmax_backward_data": "why"})
    assert undeclared_ops(declared, recorder) == []


@pytest.mark.parametrize("call", ["mm", "conv2d", "contiguous"])
def test_matmul_convolution_and_copies_are_compute(call):
    a = torch.randn(5, 6).t()
    recorder = AtenRecorder()
    with recorder:
        if call == "mm":
            torch.mm(a, a.t())
        elif call == "conv2d":
            F.conv2d(torch.randn(1, 2, 5, 5), torch.randn(3, 2, 3, 3))
        else:
            a.contiguous()
    assert undeclared_ops(fake(), recorder), f"{call} went unseen: {recorder.ops}"


def test_allocation_and_views_are_free():
    recorder = AtenRecorder()
    with recorder:
        x = torch.empty(3, 4, 5)
        x.view(12, 5).t().unsqueeze(0).permute(2, 1, 0)[1:].expand(2, -1, -1, -1)
        torch.empty_like(x).transpose(0, 1).reshape(4, 3, 5)[::2]
    assert recorder.ops and undeclared_ops(fake(), recorder) == []


def test_the_interpreters_own_copies_are_not_the_variants(device):
    v = registry.get("softmax", "triton_rowwise")
    if v.skip_reason(device):
        pytest.skip(v.skip_reason(device))
    x = torch.randn(6, 40, device=device, requires_grad=True)
    dy = torch.randn(6, 40, device=device)
    recorder = AtenRecorder()
    with recorder:
        y = v.fn(x, -1)
        torch.autograd.grad(y, x, dy)
    assert recorder.computing() == set()


def test_the_readme_table_of_torch_parts_is_the_registrys():
    from pathlib import Path

    from kernels.torch_ops import torch_ops_markdown

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    table = readme.split("<!-- torch-ops:start -->\n", 1)[1].split("\n<!-- torch-ops:end -->", 1)[0]
    assert table == torch_ops_markdown(), "README.md is out of date: paste `python -m kernels.torch_ops` there"
