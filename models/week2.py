"""Week 2: linear regression and gradient descent (2.1 to 2.9). Data: X = arange(-3, 3, 0.1), Y = f(X) + 0.1 randn.

2.2 to 2.7 write the model as the labs do, yhat = w*x + b on tensors (here a module, so that the compiled backend
can compile it; the triton backend has no layer to replace in it and runs it as it is).
"""

from __future__ import annotations

import time

import torch
from torch import nn

from models.data import Split, arange_column, line_data
from models.lesson import Workload, lesson, take, workloads
from models.train import batches, fit


class Line(nn.Module):
    """yhat = w*x + b with scalar parameters (b fixed at 0 when `bias` is False)."""

    def __init__(self, w: float, b: float = 0.0, bias: bool = True):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))
        self.b = nn.Parameter(torch.tensor(b)) if bias else None

    def forward(self, x):
        return self.w * x + self.b if self.b is not None else self.w * x


class LR(nn.Module):
    """The lab's custom linear regression module around nn.Linear."""

    def __init__(self, in_size: int, out_size: int):
        super().__init__()
        self.linear = nn.Linear(in_size, out_size)

    def forward(self, x):
        return self.linear(x)


def mse(yhat, y):
    return torch.mean((yhat - y) ** 2)


@lesson(
    "2.1",
    "Regressão Linear em 1D",
    "yhat = w*x + b as a formula, nn.Linear(1,1) and a custom module",
    ("formula", "nn_linear", "custom_module"),
    trains=False,
)
def prediction(ctx, setting, **overrides):
    x = ctx.tensor(take(overrides, x=torch.tensor([[1.0], [2.0], [3.0]])).x)
    if setting == "formula":
        w, b = ctx.tensor(torch.tensor(2.0)), ctx.tensor(torch.tensor(-1.0))
        yhat = w * x + b
    else:
        module = nn.Linear(1, 1) if setting == "nn_linear" else LR(1, 1)
        linear = module if setting == "nn_linear" else module.linear
        linear.load_state_dict({"weight": torch.tensor([[2.0]]), "bias": torch.tensor([-1.0])})
        with torch.no_grad():
            yhat = ctx.model(module)(x)
    return {"outputs": {"yhat": yhat.detach().cpu()}}


def gradient_descent(ctx, model: nn.Module, data: Split, lr: float, iterations: int, manual_grads=None):
    """Full-batch GD with the labs' update, p.data -= lr * p.grad; the loss of each iteration, before its step.
    `manual_grads(yhat, data)` computes the gradients by hand instead of autograd (2.3), from the prediction and
    the data: a list with one gradient per parameter. The history has the loss, then w (and b, where the model has
    a bias) of each iteration."""
    model = ctx.model(model)
    params = list(model.parameters())
    history = {"loss": [], **{name: [] for name in ("w", "b")[: len(params)]}}
    for _ in range(iterations):
        yhat = model(data.x)
        loss = mse(yhat, data.y)
        if manual_grads is None:
            loss.backward()
            grads = [p.grad for p in params]
        else:
            grads = manual_grads(yhat.detach(), data)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p.data -= lr * g
                if p.grad is not None:
                    p.grad.zero_()
        history["loss"].append(loss.item())
        for name, p in zip(("w", "b"), params, strict=False):
            history[name].append(p.item())
    return {"history": history, "model": model}


@lesson("2.2", "Treinamento de Regressão Linear", "gradient descent on one slope: yhat = w*x, f = -3x, w0 = -10")
def train_slope(ctx, setting, **overrides):
    hp = take(overrides, lr=0.1, iterations=4)
    data = ctx.data(line_data(lambda x: -3 * x))
    return gradient_descent(ctx, Line(-10.0, bias=False), data, hp.lr, hp.iterations)


def analytic_grads(yhat, data):
    """dMSE/dw = mean(2 (yhat - y) x), dMSE/db = mean(2 (yhat - y))."""
    err = 2 * (yhat - data.y)
    return [torch.mean(err * data.x), torch.mean(err)]


@lesson("2.3", "Gradiente Descendente e Custo", "GD on slope and bias with the gradient written by hand, f = x - 1")
def cost_surface(ctx, setting, **overrides):
    hp = take(overrides, lr=0.1, iterations=15)
    data = ctx.data(line_data(lambda x: x - 1))
    return gradient_descent(ctx, Line(-15.0, -10.0), data, hp.lr, hp.iterations, manual_grads=analytic_grads)


@lesson("2.4", "Pytorch Slope", "the same descent with autograd on w and b")
def autograd_slope(ctx, setting, **overrides):
    hp = take(overrides, lr=0.1, iterations=15)
    data = ctx.data(line_data(lambda x: x - 1))
    return gradient_descent(ctx, Line(-15.0, -10.0), data, hp.lr, hp.iterations)


def sgd_epochs(ctx, model, data: Split, lr: float, epochs: int, batch_size: int, loader: bool = False):
    """Mini-batch SGD with the labs' update; per epoch the loss on the whole training set after the epoch and the
    number of updates. With `loader`, batches come from a Dataset through a DataLoader (2.6)."""
    model = ctx.model(model)
    params = list(model.parameters())
    history = {"loss": [], "updates": [], "epoch_seconds": [], "seconds": []}
    if loader:
        dataset = torch.utils.data.TensorDataset(data.x, data.y)
        source = lambda: torch.utils.data.DataLoader(dataset, batch_size=batch_size)
    else:
        source = lambda: batches(data.x, data.y, batch_size)
    for _ in range(epochs):
        start, updates = time.perf_counter(), 0
        for xb, yb in source():
            loss = mse(model(xb), yb)
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p.data -= lr * p.grad
                    p.grad.zero_()
            updates += 1
        history["epoch_seconds"].append(time.perf_counter() - start)
        history["seconds"].append(sum(history["epoch_seconds"]))
        with torch.no_grad():
            history["loss"].append(mse(model(data.x), data.y).item())
        history["updates"].append(updates)
    return {"history": history, "model": model, "final": {"w": params[0].item(), "b": params[1].item()}}


@lesson(
    "2.5",
    "Treinamento de Regressão Linear (repetição)",
    "full-batch GD against per-sample SGD, 10 epochs",
    ("batch_gd", "sgd"),
)
def gd_vs_sgd(ctx, setting, **overrides):
    hp = take(overrides, lr=0.1, epochs=10)
    data = ctx.data(line_data(lambda x: x - 1, seed=1))
    batch = len(data.x) if setting == "batch_gd" else 1
    return sgd_epochs(ctx, Line(-15.0, -10.0), data, hp.lr, hp.epochs, batch)


@lesson(
    "2.6",
    "Gradiente Descendente Estocástico e o Carregador de Dados",
    "SGD through a Dataset and DataLoader(batch_size=1)",
)
def sgd_loader(ctx, setting, **overrides):
    hp = take(overrides, lr=0.1, epochs=10)
    data = ctx.data(line_data(lambda x: x - 1))
    return sgd_epochs(ctx, Line(-15.0, -10.0), data, hp.lr, hp.epochs, 1, loader=True)


@lesson(
    "2.7",
    "Mini-Batch Gradient Descent",
    "the batch-size trade-off: updates, loss and time per epoch",
    ("batch=1", "batch=5", "batch=10", "batch=20"),
)
def mini_batch(ctx, setting, **overrides):
    hp = take(overrides, lr=0.1, epochs=10)
    data = ctx.data(line_data(lambda x: x - 1))
    return sgd_epochs(ctx, Line(-15.0, -10.0), data, hp.lr, hp.epochs, int(setting.split("=")[1]))


@lesson("2.8", "Otimização no Pytorch", "nn.Linear(1,1) with nn.MSELoss and optim.SGD, batch 1")
def optim_sgd(ctx, setting, **overrides):
    hp = take(overrides, lr=0.01, epochs=10)
    data = ctx.data(line_data(lambda x: x - 1))
    linear = nn.Linear(1, 1)
    state = linear.state_dict()
    state["weight"][0, 0], state["bias"][0] = -15.0, -10.0  # the lab sets them through the state_dict
    linear.load_state_dict(state)
    model = ctx.model(linear)
    history = fit(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=hp.lr), data, hp.epochs, 1)
    return {"history": history, "model": model, "final": {"w": linear.weight.item(), "b": linear.bias.item()}}


def outlier_data() -> tuple[Split, Split]:
    """f = -3x + 1; the training set has outliers at y[0] = 0 and y[50:55] = 20, the validation set none."""
    x = arange_column(-3, 3, 0.1)
    f = -3 * x + 1
    y = f + 0.1 * torch.randn(x.size())
    y[0], y[50:55] = 0, 20
    y_val = f + 0.1 * torch.randn(x.size())
    return Split(x, y, x, y_val), Split(x, y_val)


LEARNING_RATES = (0.0001, 0.001, 0.01, 0.1)


@lesson(
    "2.9",
    "Treinamento, Validação e Divisão de Dados",
    "a learning-rate sweep chosen on a validation set, with outliers in the training data",
    ("sweep", *(f"lr={lr}" for lr in LEARNING_RATES)),
)
def validation_split(ctx, setting, **overrides):
    hp = take(overrides, epochs=10)
    data = ctx.data(outlier_data()[0])
    rates = LEARNING_RATES if setting == "sweep" else (float(setting.split("=")[1]),)
    train_error, val_error, models, histories = {}, {}, {}, {}
    for lr in rates:
        model = ctx.model(LR(1, 1))
        histories[lr] = fit(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=lr), data, hp.epochs, 1)
        with torch.no_grad():
            train_error[lr] = mse(model(data.x), data.y).item()
            val_error[lr] = mse(model(data.x_val), data.y_val).item()
        models[lr] = model
    best = min(val_error, key=val_error.get)
    final = {"best_lr": best, "train_error": train_error[best], "val_error": val_error[best]}
    outputs = {"train_error": train_error, "val_error": val_error}
    return {"history": histories[best], "model": models[best], "final": final, "outputs": outputs}


def _line_sgd(params):
    return torch.optim.SGD(params, lr=0.1)


_LINE = Workload(lambda: Line(-15.0, -10.0), (1,), nn.MSELoss, _line_sgd)
workloads(
    {
        "2.2": Workload(lambda: Line(-10.0, bias=False), (1,), nn.MSELoss, _line_sgd),
        "2.3": _LINE,
        "2.4": _LINE,
        "2.5": _LINE,
        "2.6": _LINE,
        "2.7": _LINE,
        "2.8": Workload(lambda: nn.Linear(1, 1), (1,), nn.MSELoss, lambda p: torch.optim.SGD(p, lr=0.01)),
        "2.9": Workload(lambda: LR(1, 1), (1,), nn.MSELoss, lambda p: torch.optim.SGD(p, lr=0.01)),
    }
)
