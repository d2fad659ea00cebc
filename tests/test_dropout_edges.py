"""Dropout's edges: what each rung keeps for its backward (the Triton rungs draw the mask again instead of storing
it), the lesson formula's 0 / 0 at p = 1, eval mode returning x itself, in-place on a strided x, and bad input
named. The property checks every rung passes are in kernels/dropout/properties.py, run by test_correctness."""

import pytest
import torch

from kernels import registry
from tests import helpers

VARIANTS = [v.name for v in registry.variants("dropout")]


def saved_bytes(fn, x: torch.Tensor, **kwargs) -> dict[str, int]:
    """Bytes of each dtype autograd keeps from one call of fn(x) for its backward, x itself not counted."""
    saved: dict[str, int] = {}

    def pack(t):
        if t.data_ptr() != x.data_ptr():
            name = str(t.dtype).replace("torch.", "")
            saved[name] = saved.get(name, 0) + t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x, **kwargs)
    return saved


def test_the_triton_rung_keeps_no_mask_where_eager_keeps_one():
    """Eager keeps a mask per element: on CUDA native_dropout's bool mask (1 byte), on the CPU the scaled noise it
    multiplied by, in x's dtype (4 bytes in fp32)."""
    x = torch.randn(64, 300, requires_grad=True)
    eager = saved_bytes(registry.get("dropout", "eager").fn, x, p=0.2)
    assert eager in ({"bool": 64 * 300}, {"float32": 64 * 300 * 4}), eager
    lesson = saved_bytes(registry.get("dropout", "lesson").fn, x, p=0.2)
    assert lesson.get("float32", 0) >= 64 * 300 * 4, lesson  # the float mask
    assert saved_bytes(helpers.runnable("dropout", "triton_philox", "cpu"), x, p=0.2) == {}


def test_the_fused_relu_keeps_only_its_output_which_the_next_layer_keeps_anyway():
    x = torch.randn(64, 300, requires_grad=True)
    fused = helpers.runnable("dropout", "triton_fused", "cpu")
    saved: list[torch.Tensor] = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        out = fused(x, p=0.2, activation="relu")
    assert len(saved) == 1 and saved[0].data_ptr() == out.data_ptr()


def test_the_lesson_formula_divides_zero_by_zero_at_p_1_where_torch_gives_zeros():
    x = torch.randn(10, 10)
    assert torch.isnan(registry.get("dropout", "lesson").fn(x, p=1.0)).all()
    assert torch.equal(registry.get("dropout", "eager").fn(x, p=1.0), torch.zeros_like(x))
    assert registry.get("dropout", "lesson").unsupported["p1"]


@pytest.mark.parametrize("name", VARIANTS)
def test_eval_mode_returns_x_itself(name):
    """F.dropout(x, training=False) is x, not a copy: a model in eval() pays nothing for its dropout layers."""
    fn = helpers.runnable("dropout", name, "cpu")
    x = torch.randn(20, 30)
    assert fn(x, p=0.5, training=False) is x


@pytest.mark.parametrize("name", VARIANTS)
def test_in_place_on_a_strided_x_writes_its_values_and_leaves_the_gaps(name):
    fn = helpers.runnable("dropout", name, "cpu")
    wide = torch.randn(40, 200)
    x = wide[:, ::2]
    before, gaps = x.clone(), wide[:, 1::2].clone()
    out = fn(x, p=0.5, inplace=True)
    assert out.data_ptr() == x.data_ptr() and torch.equal(wide[:, 1::2], gaps)
    kept = x != 0
    torch.testing.assert_close(x[kept], 2 * before[kept])
    assert 0.3 < kept.float().mean().item() < 0.7


@pytest.mark.parametrize("name", helpers.checked_variants("dropout"))
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"p": 1.5}, ValueError, r"p must be a number in \[0, 1\], got 1.5"),
        ({"p": -0.1}, ValueError, r"p must be a number in \[0, 1\]"),
        ({"p": True}, ValueError, r"p must be a number in \[0, 1\], got True"),
        ({"training": 1}, TypeError, "training and inplace must be bools"),
        ({"activation": "gelu"}, ValueError, "activation must be one of"),
    ],
)
def test_bad_arguments_are_named(name, kwargs, error, match):
    fn = helpers.runnable("dropout", name, "cpu")
    with pytest.raises(error, match=match):
        fn(torch.randn(4, 4), **kwargs)
