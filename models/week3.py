"""Week 3: multiple regression and logistic regression (3.1 to 3.3)."""

from __future__ import annotations

import torch
from torch import nn

from models.data import Split, arange_column
from models.lesson import Workload, lesson, take, workloads
from models.train import fit


def plane_data(w: torch.Tensor, b: torch.Tensor, noise: float, seed: int | None = None) -> tuple[torch.Tensor, ...]:
    """The labs' Data2D: 20 samples, both features arange(-1, 1, 0.1), y = x @ w + b + noise * randn."""
    if seed is not None:
        torch.manual_seed(seed)
    x = torch.zeros(20, 2)
    x[:, 0] = torch.arange(-1, 1, 0.1)
    x[:, 1] = torch.arange(-1, 1, 0.1)
    f = x @ w + b
    return x, f + noise * torch.randn(f.shape)


@lesson("3.1", "Regressão Linear Múltipla", "nn.Linear(2,1): prediction, then training on a plane")
def multiple_regression(ctx, setting, **overrides):
    hp = take(overrides, lr=0.1, epochs=100, batch_size=2)
    predictor = nn.Linear(2, 1)
    predictor.load_state_dict({"weight": torch.tensor([[2.0, 3.0]]), "bias": torch.tensor([1.0])})
    with torch.no_grad():
        prediction = ctx.model(predictor)(ctx.tensor(torch.tensor([[1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])))
    w, b = torch.tensor([[1.0], [1.0]]), 1.0
    x, y = plane_data(w, b, 0.1)
    _, y_val = plane_data(w, b, 0.1, seed=2)  # the lab draws its validation noise with seed 2
    data = ctx.data(Split(x, y, x, y_val))
    model = ctx.model(nn.Linear(2, 1))
    history = fit(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=hp.lr), data, hp.epochs, hp.batch_size)
    return {"history": history, "model": model, "outputs": {"prediction": prediction.cpu()}}


@lesson("3.2", "Regressão Linear de Múltiplas Saídas", "nn.Linear(2,2) trained on two planes at once")
def multiple_outputs(ctx, setting, **overrides):
    hp = take(overrides, lr=0.1, epochs=100, batch_size=5)
    torch.manual_seed(1)
    x, y = plane_data(torch.tensor([[1.0, -1.0], [1.0, 3.0]]), torch.tensor([[1.0, -1.0]]), 0.001)
    data = ctx.data(Split(x, y))
    model = ctx.model(nn.Linear(2, 2))
    history = fit(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=hp.lr), data, hp.epochs, hp.batch_size)
    return {"history": history, "model": model}


@lesson(
    "3.3",
    "Regressão Logística para Classificação",
    "sigmoid(Linear(1,1)) from a bad start, with the MSE loss or cross-entropy",
    ("mse", "cross_entropy"),
)
def logistic(ctx, setting, **overrides):
    hp = take(overrides, lr=2.0, epochs=100, batch_size=3)
    x = arange_column(-1, 1, 0.1)
    y = (x > 0.2).float()
    net = nn.Sequential(nn.Linear(1, 1), nn.Sigmoid())
    net[0].load_state_dict({"weight": torch.tensor([[-5.0]]), "bias": torch.tensor([-10.0])})  # the bad start
    model = ctx.model(net)
    loss = nn.MSELoss() if setting == "mse" else nn.BCELoss()
    history = fit(
        model,
        loss,
        torch.optim.SGD(model.parameters(), lr=hp.lr),
        ctx.data(Split(x, y)),
        hp.epochs,
        hp.batch_size,
        classify=True,
    )
    return {"history": history, "model": model}


def _sgd(lr):
    return lambda params: torch.optim.SGD(params, lr=lr)


workloads(
    {
        "3.1": Workload(lambda: nn.Linear(2, 1), (2,), nn.MSELoss, _sgd(0.1)),
        "3.2": Workload(lambda: nn.Linear(2, 2), (2,), nn.MSELoss, _sgd(0.1)),
        "3.3": Workload(lambda: nn.Sequential(nn.Linear(1, 1), nn.Sigmoid()), (1,), nn.BCELoss, _sgd(2.0)),
    }
)
