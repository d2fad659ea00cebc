"""The CUDA graph backends (models/graphs.py, models/train.py): on the CPU they are refused with their reason; the
bookkeeping around a capture (one graph per batch shape, each batch copied into its static inputs, the optimizer
made capturable, fp16's GradScaler refused) is checked here with a stand-in for the capture; the captured training
itself gives eager's losses and parameters on CUDA."""

import numpy as np
import pytest
import torch

from models import LESSONS
from models.backends import _BACKEND_OF, GRAPH_BACKENDS, run_skip_reason
from models.graphs import GraphedCall, make_capturable
from tests.lesson_steps import FEW_STEPS

NEEDS_CUDA = "CUDA graphs capture CUDA kernel launches: this check needs a GPU (make gpu-check runs it)"
# labs whose loops are written by hand (the update p.data -= lr * p.grad, a manual gradient): nothing to capture
HAND_WRITTEN = ("2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "5.4")


class Uncaptured:
    """Stands in for GraphedCall on the CPU: calls fn every time, and remembers what it was given."""

    made: list = []

    def __init__(self, fn):
        self.fn = fn
        Uncaptured.made.append(self)

    def __call__(self):
        return self.fn()


@pytest.mark.parametrize("backend", GRAPH_BACKENDS)
def test_the_graph_backends_refuse_the_cpu_with_their_reason(backend):
    assert "replays CUDA graphs: it needs CUDA" in run_skip_reason(backend, "cpu")
    with pytest.raises(RuntimeError, match="needs CUDA"):
        LESSONS["4.3"].run(backend=backend, device="cpu", epochs=1)


def test_each_batch_shape_gets_a_graph_fed_by_copies_of_its_batches(monkeypatch):
    """5.1's lab (SGD on the digits, here 250 samples in batches of 100: two full batches and one of 50): the step of
    a 'cudagraphs' model on the CPU, with the capture stood in for, takes eager's steps exactly."""
    import models.train as train

    monkeypatch.setattr(train, "GraphedCall", Uncaptured)
    monkeypatch.setattr(train, "backend_of", lambda model: "cudagraphs")
    Uncaptured.made = []
    graphed = LESSONS["5.1"].run("tanh", epochs=2, limit=250, batch_size=100)
    monkeypatch.setattr(train, "backend_of", lambda model: None)
    eager = LESSONS["5.1"].run("tanh", epochs=2, limit=250, batch_size=100)
    assert graphed.history["loss"] == eager.history["loss"]  # each batch reached its step
    assert len(Uncaptured.made) == 2  # one per batch shape (100 and 50), reused in the second epoch


def test_adam_is_made_capturable_and_sgd_left_as_it_is():
    w = torch.nn.Parameter(torch.ones(3))
    adam, sgd = torch.optim.Adam([w]), torch.optim.SGD([w], lr=0.1)
    make_capturable(adam)
    make_capturable(sgd)
    assert adam.param_groups[0]["capturable"] is True and "capturable" not in sgd.param_groups[0]


def test_fp16_autocast_s_grad_scaler_is_refused():
    from models.train import step_call

    model = torch.nn.Linear(2, 2)
    _BACKEND_OF[model] = "cudagraphs"
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.ones(4, 2), torch.ones(4, 2)
    with pytest.raises(ValueError, match="GradScaler decides on the host whether to step"):
        step_call(model, torch.nn.MSELoss(), opt, x, y, scaler=torch.amp.GradScaler("cpu"))


@pytest.mark.parametrize("backend", GRAPH_BACKENDS)
@pytest.mark.parametrize("lesson_id", [k for k in FEW_STEPS if k not in HAND_WRITTEN])
def test_graphed_training_gives_eager_losses(lesson_id, backend):
    if not torch.cuda.is_available():
        pytest.skip(NEEDS_CUDA)
    setting, overrides = FEW_STEPS[lesson_id]
    eager = LESSONS[lesson_id].run(setting, device="cuda", **overrides)
    captures = GraphedCall.captures
    graphed = LESSONS[lesson_id].run(setting, backend=backend, device="cuda", **overrides)
    assert graphed.backend == backend
    if backend == "cudagraphs":
        assert GraphedCall.captures > captures
    np.testing.assert_allclose(graphed.history["loss"], eager.history["loss"], rtol=2e-3, atol=1e-5)


@pytest.mark.parametrize("lesson_id", HAND_WRITTEN)
def test_a_hand_written_loop_on_cudagraphs_is_an_error_not_eager_timing(lesson_id):
    if not torch.cuda.is_available():
        pytest.skip(NEEDS_CUDA)
    setting, overrides = FEW_STEPS[lesson_id]
    with pytest.raises(RuntimeError, match="made no training step of its own: its lab writes its own loop"):
        LESSONS[lesson_id].run(setting, backend="cudagraphs", device="cuda", **overrides)


def test_a_captured_step_replays_with_new_inputs_written_in_place():
    if not torch.cuda.is_available():
        pytest.skip(NEEDS_CUDA)
    x = torch.ones(8, device="cuda")
    out = torch.empty(8, device="cuda")
    graphed = GraphedCall(lambda: out.copy_(x * 2 + 1))
    assert graphed() is not None and graphed.capture_s > 0
    x.fill_(3.0)
    assert torch.equal(graphed(), torch.full((8,), 7.0, device="cuda"))
