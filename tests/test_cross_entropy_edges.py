"""Cross-entropy's edges: the course's worked example on every rung, the lesson formula's overflow, what fp16
log-probabilities do to eager's loss (and why the online rung keeps its loss finite), and bad input named."""

import math

import pytest
import torch
import torch.nn.functional as F

from kernels import registry
from kernels.cross_entropy.spec import check_args
from tests import helpers

VARIANTS = [v.name for v in registry.variants("cross_entropy")]


def run(name: str, *args, **kwargs) -> torch.Tensor:
    return helpers.runnable("cross_entropy", name, "cpu")(*args, **kwargs)


@pytest.mark.parametrize("name", VARIANTS)
def test_the_worked_example_of_the_course(name):
    """Logits (2, 1, 0.1), class 0: softmax (0.659, 0.242, 0.099), loss -ln(0.659) = 0.4170; a second sample of
    class 2 with logits (0, 0, 0) adds ln(3) = 1.0986; the mean of the two is 0.7578."""
    x = torch.tensor([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]], requires_grad=True)
    target = torch.tensor([0, 2])
    per_sample = run(name, x, target, reduction="none")
    assert per_sample.detach().tolist() == pytest.approx([0.4170, math.log(3)], abs=1e-4)
    loss = run(name, x, target)
    assert loss.item() == pytest.approx(0.7578, abs=1e-4)
    loss.backward()
    # d loss / d x = (softmax - onehot) / 2 for the mean over two samples
    want = (torch.softmax(x.detach(), 1) - F.one_hot(target, 3)) / 2
    torch.testing.assert_close(x.grad, want, rtol=1e-5, atol=1e-6)


def test_the_lesson_formula_overflows_where_the_shifted_one_does_not():
    x = torch.tensor([[100.0, 0.0, -1.0]])  # exp(100) is inf in fp32: inf / inf = NaN
    target = torch.tensor([0])
    assert torch.isnan(run("lesson", x, target))
    assert run("eager", x, target).item() == pytest.approx(0.0, abs=1e-6)


def test_fp16_log_probabilities_make_eagers_loss_inf_and_the_online_rung_stays_finite():
    """eager writes log_softmax's output in fp16: x - max = -3e4 - 4e4 is beyond fp16's range (65504), so the
    log-probability is -inf and so is the loss; the online rung computes in fp32 and writes only the mean, 3.5e4,
    which fp16 holds."""
    x = torch.tensor([[4e4, -3e4, 0.0], [0.0, 1.0, 2.0]], dtype=torch.float16)
    target = torch.tensor([1, 2])
    want = F.cross_entropy(x.double(), target).item()  # (7e4 + 0.41) / 2
    assert math.isinf(run("eager", x, target).item())
    assert run("triton_online", x, target).item() == pytest.approx(want, rel=1e-3)


@pytest.mark.parametrize(
    "args, kwargs, error, words",
    [
        ((torch.randn(4, 3), torch.tensor([0, 1, 3, 2])), {}, IndexError, "target 3 is out of range for 3 classes"),
        ((torch.randn(4, 3), torch.tensor([0, -1, 2, 2])), {}, IndexError, "target -1 is out of range"),
        ((torch.randn(4, 3), torch.rand(4, 3)), {}, TypeError, "class-probability targets"),
        ((torch.randn(4, 3), torch.tensor([0, 1])), {}, ValueError, "target must be [4] for x of [4, 3]"),
        ((torch.randn(4, 3), torch.tensor([0, 1, 2, 0])), {"reduction": "avg"}, ValueError, "reduction must be"),
        (
            (torch.randn(4, 3), torch.tensor([0, 1, 2, 0])),
            {"weight": torch.ones(4)},
            ValueError,
            "weight must be a [3]",
        ),
        ((torch.randn(4, 3), torch.tensor([0, 1, 2, 0])), {"label_smoothing": 1.5}, ValueError, "label_smoothing"),
    ],
)
def test_bad_input_is_refused_with_the_problem_named(args, kwargs, error, words):
    with pytest.raises(error, match=None) as info:
        check_args(*args, **kwargs)
    assert words in str(info.value)


def test_an_ignored_target_outside_the_classes_is_not_an_error():
    x, target = torch.randn(3, 4), torch.tensor([1, -100, 3])
    check_args(x, target)
    torch.testing.assert_close(run("triton_online", x, target), F.cross_entropy(x, target))
