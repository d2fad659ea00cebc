"""linear_cross_entropy's edges: what each rung keeps for its backward (the fused rung nothing the size of the
logits), the same loss and gradients as the two torch ops it replaces on the 4.3 head, and bad input named."""

import pytest
import torch
import torch.nn.functional as F

from kernels import registry
from tests import helpers


def largest_saved(fn, *args, **kwargs) -> int:
    """Elements of the largest tensor autograd keeps from one call for its backward."""
    sizes = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: sizes.append(t.numel()) or t, lambda t: t):
        fn(*args, **kwargs)
    return max(sizes, default=0)


def test_the_fused_rung_keeps_nothing_the_size_of_the_logits():
    n, d, c = 64, 32, 3000  # logits N*C = 192,000 elements; x 2,048 and W 96,000
    x = torch.randn(n, d, requires_grad=True)
    w = torch.randn(c, d, requires_grad=True)
    target = torch.randint(0, c, (n,))
    assert largest_saved(registry.get("linear_cross_entropy", "eager").fn, x, w, target) >= n * c
    fused = helpers.runnable("linear_cross_entropy", "triton_fused", "cpu")
    assert largest_saved(fused, x, w, target) == c * d  # W itself; per row only the loss's m and log(d)


def test_it_is_linear_then_cross_entropy_on_the_4_3_head():
    fused = helpers.runnable("linear_cross_entropy", "triton_fused", "cpu")
    head = torch.nn.Linear(64, 10)
    x, target = torch.randn(100, 64), torch.randint(0, 10, (100,))
    want = F.cross_entropy(head(x), target)
    want.backward()
    grads = [p.grad.clone() for p in head.parameters()]
    head.zero_grad()
    got = fused(x, head.weight, target, head.bias)
    got.backward()
    torch.testing.assert_close(got, want)
    for p, g in zip(head.parameters(), grads, strict=True):
        torch.testing.assert_close(p.grad, g)


@pytest.mark.parametrize("name", helpers.checked_variants("linear_cross_entropy"))
@pytest.mark.parametrize(
    "args, error, match",
    [
        (((4, 8), (5, 7), 4), ValueError, r"x must be \[N, D\] and weight \[C, D\]"),
        (((4, 8), (5, 8), 3), ValueError, r"target must be \[4\] class indices"),
        (((4, 8), (5, 8), 4, "sideways"), ValueError, "reduction must be one of"),
    ],
    ids=["features", "rows", "reduction"],
)
def test_bad_arguments_are_named(name, args, error, match):
    fn = helpers.runnable("linear_cross_entropy", name, "cpu")
    x_shape, w_shape, rows, *reduction = args
    with pytest.raises(error, match=match):
        fn(
            torch.randn(x_shape),
            torch.randn(w_shape),
            torch.zeros(rows, dtype=torch.long),
            None,
            reduction=reduction[0] if reduction else "mean",
        )


def test_a_half_weight_with_float_x_is_refused():
    fn = helpers.runnable("linear_cross_entropy", "triton_fused", "cpu")
    with pytest.raises(TypeError, match="one dtype"):
        fn(torch.randn(4, 8), torch.randn(5, 8).half(), torch.zeros(4, dtype=torch.long))
