"""The one-launch MLP training step (kernels/triton_mlp.py), through Triton's interpreter on the CPU: several SGD steps
give eager float64's losses and parameters for each activation, loss, momentum setting and depth; the modules see
every update; what it cannot take is a clear error."""

import copy

import pytest
import torch
from torch import nn

from kernels.triton_mlp import MAX_WIDTH, TritonMLPStep
from models.mlp_step import mlp_layers

ACTS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
STEPS = 3
# fp32 against float64 over a few steps of lr 0.1: the error stays near fp32's rounding (measured ~1e-7). A loss near
# zero (a confident row: lse - z_y, two nearby numbers) keeps an absolute error of the logits' rounding
RTOL, ATOL = 2e-5, 1e-6


def mlp(widths, activation) -> nn.Sequential:
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(ACTS[activation]())
    return nn.Sequential(*layers)


def compare(widths, activation, loss, momentum, device, batch=37, seed=0):
    """STEPS steps of TritonMLPStep on `device` beside eager float64 on the CPU, from the same initialization."""
    torch.manual_seed(seed)
    model = mlp(widths, activation)
    ref = copy.deepcopy(model).double()
    model = model.to(device)
    x = torch.randn(batch, widths[0])
    y = torch.randint(0, widths[-1], (batch,)) if loss == "cross_entropy" else torch.randn(batch, widths[-1])
    linears, found = mlp_layers(model)
    step = TritonMLPStep(linears, found, loss, lr=0.1, momentum=momentum)
    opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=momentum)
    loss_fn = nn.CrossEntropyLoss() if loss == "cross_entropy" else nn.MSELoss()
    ours, theirs = [], []
    for _ in range(STEPS):
        ours.append(step(x.to(device), y.to(device)).item())
        opt.zero_grad()
        r = loss_fn(ref(x.double()), y if loss == "cross_entropy" else y.double())
        r.backward()
        opt.step()
        theirs.append(r.item())
    compare.kernel = step.kernel  # which forward-backward kernel ran
    return model, ref, ours, theirs


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("activation", list(ACTS))
@pytest.mark.parametrize("widths", [(2, 50, 3), (4, 17, 9, 5), (3, 8, 8, 8, 2)], ids=["1hidden", "2hidden", "3hidden"])
def test_steps_match_eager_float64(widths, activation, loss, momentum, device):
    model, ref, ours, theirs = compare(widths, activation, loss, momentum, device)
    assert compare.kernel == "registers"  # up to 64 units: every activation in registers
    assert ours == pytest.approx(theirs, rel=RTOL, abs=ATOL)
    assert ours[-1] < ours[0]  # it trains
    for p, q in zip(model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.double().cpu(), q, rtol=RTOL, atol=1e-6)


@pytest.mark.parametrize("batch", [1, 16, 100])
def test_any_batch_size_and_the_widest_layers(batch, device):
    model, ref, ours, theirs = compare((MAX_WIDTH, MAX_WIDTH, 10), "relu", "cross_entropy", 0.9, device, batch=batch)
    assert ours == pytest.approx(theirs, rel=RTOL, abs=ATOL)


@pytest.mark.parametrize(
    "widths, activation, loss, momentum",
    [
        ((100, 3), "none", "cross_entropy", 0.0),
        ((5, 100, 3), "sigmoid", "mse", 0.9),
        ((5, 80, 90, 3), "tanh", "cross_entropy", 0.9),
        ((5, MAX_WIDTH, 65, 100, 3), "relu", "mse", 0.0),
    ],
    ids=["1layer", "2layers", "3layers", "4layers"],
)
def test_the_staged_kernel_of_wide_layers_at_every_depth(widths, activation, loss, momentum, device):
    """From STAGED_FROM units on, each layer's output goes through the per-program scratch (_mlp_fwd_bwd_staged_kernel):
    every depth, with rows past the batch in the last program (batch 37)."""
    model, ref, ours, theirs = compare(widths, activation, loss, momentum, device)
    assert compare.kernel == "staged"  # padded to 128 units
    assert ours == pytest.approx(theirs, rel=RTOL, abs=ATOL)
    for p, q in zip(model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.double().cpu(), q, rtol=RTOL, atol=1e-6)


def test_a_linear_model_without_hidden_layers(device):
    model, ref, ours, theirs = compare((5, 4), "sigmoid", "mse", 0.0, device)
    assert ours == pytest.approx(theirs, rel=RTOL, abs=ATOL)


def test_the_modules_parameters_are_views_of_the_flat_buffer(device):
    model = mlp((2, 6, 3), "tanh").to(device)
    weights = [p for p in model.parameters()]
    before = [p.detach().clone() for p in weights]
    step = TritonMLPStep(*mlp_layers(model), "cross_entropy", lr=0.5)
    step(torch.randn(8, 2, device=device), torch.randint(0, 3, (8,), device=device))
    assert [p for p in model.parameters()] == weights  # the same Parameter objects ...
    assert all(not torch.equal(p, b) for p, b in zip(weights, before, strict=True))  # ... that see the update
    assert all(p.untyped_storage().data_ptr() == step.params.untyped_storage().data_ptr() for p in weights)


@pytest.mark.parametrize(
    "model, message",
    [
        (mlp((2, MAX_WIDTH + 1, 3), "relu"), f"widths up to {MAX_WIDTH}"),
        (mlp((2, 4, 4, 4, 4, 3), "relu"), "1 to 4 Linear layers, got 5"),
        (nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)), "mixes activations"),
        (nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.1), nn.Linear(4, 3)), "computes Dropout"),
        (nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3, bias=False)), "needs its bias"),
        (nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3), nn.ReLU()), "ends in an activation"),
        (nn.Sequential(nn.Linear(2, 4), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 3)), "must alternate Linear"),
        (nn.ModuleList([nn.Linear(2, 3)]), "cannot be traced by torch.fx"),
    ],
)
def test_what_it_cannot_take_is_a_clear_error(model, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        TritonMLPStep(*mlp_layers(model), "cross_entropy", lr=0.1)


def test_bad_inputs_and_options_are_clear_errors(device):
    model = mlp((2, 4, 3), "relu").to(device)
    with pytest.raises(ValueError, match="loss 'nll' is not one of"):
        TritonMLPStep(*mlp_layers(model), "nll", lr=0.1)
    step = TritonMLPStep(*mlp_layers(model), "cross_entropy", lr=0.1)
    with pytest.raises(ValueError, match=r"x must be \[batch, 2\]"):
        step(torch.randn(4, 3, device=device), torch.zeros(4, dtype=torch.long, device=device))
    with pytest.raises(ValueError, match="cross-entropy targets are \\[batch\\] class indices"):
        step(torch.randn(4, 2, device=device), torch.zeros(4, 3, device=device))
