"""The triton_fused backend (models/fusion.py): which layers it fuses in each lesson model, that a fused step writes
neither the fused activations nor the head's logits, that evaluation gives eager's logits, and the census that counts
whose kernels run a step (bench/census.py). Its losses against eager's: tests/test_lesson_backends.py."""

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from bench.census import counting_launches, kernel_time_share, step_census
from kernels import registry
from kernels.torch_ops import _called_by_interpreter
from models import LESSONS
from models.backends import apply_backend, step_parts
from models.fusion import fuse, fused_layers
from models.layers import RegistryConvBlock
from models.train import train_step
from models.week6 import DigitsCNN
from tests import helpers

# lesson -> what the backend fuses in its workload's model (with its loss)
FUSED = {
    "3.3": ["0+sigmoid"],  # BCE loss: the head stays
    "4.3": ["0+cross_entropy"],
    "4.4": ["linear1+sigmoid", "linear2+cross_entropy"],
    "5.2": ["drop+relu", "drop+relu", "l3+cross_entropy"],
    "5.3": ["hidden.0+relu", "hidden.1+relu", "hidden.2+relu", "hidden.3+cross_entropy"],
    "5.5": ["hidden.2+cross_entropy"],  # batch norm + sigmoid: no kernel applies a sigmoid after a batch norm
    "6.4": ["cnn1+relu", "cnn2+relu", "fc1+cross_entropy"],
}


def fused_step(lesson_id: str, backend: str = "triton_fused", batch: int = 8, fusions=("epilogue", "head")):
    work = LESSONS[lesson_id].workload
    torch.manual_seed(0)
    model = apply_backend(work.model().train(), backend, fusions)
    loss, optimizer = step_parts(model, work.loss(), work.optimizer([p for p in model.parameters() if p.requires_grad]))
    x, y = work.batch(model, batch, "cpu", torch.float32)
    return model, loss, (lambda: train_step(model, loss, optimizer, x, y))


@pytest.fixture(autouse=True)
def _triton_here():
    helpers.runnable("matmul", "triton_fused", "cpu")


@pytest.mark.parametrize("lesson_id", list(FUSED))
def test_what_each_lesson_model_fuses(lesson_id):
    model, loss, _ = fused_step(lesson_id)
    assert fused_layers(model, loss) == FUSED[lesson_id]


def test_the_digits_cnn_with_batch_norm_fuses_conv_batch_norm_and_relu():
    fused = fuse(DigitsCNN(batchnorm=True).train())
    assert fused.fused == ["cnn1+bn1+relu", "cnn2+bn2+relu"]  # fc1 -> bn_fc: the head is not the output
    assert sum(isinstance(m, RegistryConvBlock) for m in fused.modules()) == 2


def test_each_fusion_alone():
    assert fuse(LESSONS["5.3"].workload.model(), ("epilogue",)).fused == FUSED["5.3"][:-1]
    assert fuse(LESSONS["5.3"].workload.model(), ("head",)).fused == FUSED["5.3"][-1:]
    with pytest.raises(ValueError, match="unknown fusions"):
        fuse(nn.Linear(2, 2), ("bias",))


class Branchy(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


def test_a_model_torch_fx_cannot_trace_is_a_clear_error():
    with pytest.raises(ValueError, match="Branchy cannot be traced by torch.fx"):
        fuse(Branchy())


class Shapes(TorchDispatchMode):
    """The operators and output shapes of everything PyTorch runs (not the interpreter's own copies)."""

    def __init__(self):
        super().__init__()
        self.ops, self.shapes = set(), set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not _called_by_interpreter():
            self.ops.add(func.overloadpacket.__name__)
            self.shapes |= {
                tuple(t.shape)
                for t in (out if isinstance(out, (tuple, list)) else [out])
                if isinstance(t, torch.Tensor)
            }
        return out


def test_a_fused_step_writes_no_activation_and_no_logits():
    """5.3 at batch 24: unfused, the step runs relu and writes the 24 x 10 logits; fused, neither."""
    seen = {}
    for backend in ("triton", "triton_fused"):
        _, _, step = fused_step("5.3", backend, batch=24)
        seen[backend] = Shapes()
        with seen[backend]:
            step()
    assert "relu" in seen["triton"].ops and (24, 10) in seen["triton"].shapes
    assert "relu" not in seen["triton_fused"].ops
    assert (24, 10) not in seen["triton_fused"].shapes


def test_evaluation_gives_eager_logits_with_the_batch_norm_folded_into_the_convolution():
    torch.manual_seed(0)
    eager = DigitsCNN(batchnorm=True)
    for bn in (eager.bn1, eager.bn2, eager.bn_fc):  # running statistics away from (0, 1): the fold must use them
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    x = torch.randn(5, 1, 16, 16)
    expected = eager.eval()(x)
    fused = fuse(eager).eval()
    with torch.no_grad():
        torch.testing.assert_close(fused(x), expected, rtol=1e-4, atol=1e-5)


def test_evaluation_of_a_fused_dropout_and_head_gives_eager_logits():
    torch.manual_seed(0)
    eager = LESSONS["5.2"].workload.model().eval()
    x = torch.randn(7, 2)
    with torch.no_grad():
        torch.testing.assert_close(fuse(eager).eval()(x), eager(x), rtol=1e-4, atol=1e-5)


def test_the_census_counts_the_suites_launches_and_torchs_operators():
    counts = {}
    for backend in ("eager", "triton", "triton_fused"):
        _, _, step = fused_step("5.3", backend)
        counts[backend] = step_census(step, "cpu")
    assert counts["eager"]["suite_launches"] == 0 and counts["eager"]["operators"]["addmm"] == 4
    # four Linear layers: forward and input gradient through the matmul kernel (the first layer's input has none),
    # weight gradients through it too; the loss's two kernels; one optimizer launch
    assert counts["triton"]["kernels"]["_matmul_kernel"] == 4 + 3 + 4
    assert counts["triton"]["kernels"]["_sgd_step_kernel"] == 1
    fused = counts["triton_fused"]["kernels"]
    assert fused["_matmul_kernel"] == 3 + 2 + 3 and fused["_linear_ce_fwd_kernel"] == 1
    assert counts["triton_fused"]["suite_launches"] < counts["triton"]["suite_launches"]
    assert 0 < counts["triton"]["suite_share"] < 1


def test_launches_of_other_kernels_are_not_the_suites():
    import triton
    import triton.language as tl

    @triton.jit
    def _outside_kernel(x_ptr):
        tl.store(x_ptr, 1.0)

    x = torch.zeros(1)
    with counting_launches() as launches:
        _outside_kernel[(1,)](x)
        registry.get("softmax", "triton_rowwise").fn(torch.randn(3, 5), -1)
    assert "_outside_kernel" not in launches and sum(launches.values()) >= 1 and x.item() == 1.0


def test_kernel_time_share():
    kernels = [("_matmul_kernel", 3.0), ("ampere_sgemm", 1.0), ("_matmul_kernel", 4.0)]
    assert kernel_time_share(kernels, {"_matmul_kernel"}) == pytest.approx(7 / 8)
    assert kernel_time_share([], {"_matmul_kernel"}) is None
