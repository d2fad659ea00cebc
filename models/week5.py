"""Week 5: deep networks and what makes them train (5.1 to 5.5)."""

from __future__ import annotations

import torch
from torch import nn

from models.data import Split, digits_flat, spiral
from models.lesson import Workload, lesson, take, workloads
from models.train import fit


class MLP(nn.Module):
    """The labs' deep nets: nn.ModuleList of Linear layers, the activation between them, logits out."""

    def __init__(self, sizes, activation=torch.relu, batchnorm: bool = False):
        super().__init__()
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:], strict=False))
        pairs = zip(sizes[1:-1], range(len(sizes) - 2), strict=False)
        self.norms = nn.ModuleList(nn.BatchNorm1d(n) for n, _ in pairs) if batchnorm else None
        self.activation = activation

    def forward(self, x):
        for i, layer in enumerate(self.hidden):
            x = layer(x)
            if i < len(self.hidden) - 1:
                if self.norms is not None:  # the lab normalizes before the activation
                    x = self.norms[i](x)
                x = self.activation(x)
        return x


ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


def train_classifier(ctx, net, data, lr, epochs, batch_size, optimizer=torch.optim.SGD, **opt_kwargs):
    model = ctx.model(net)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer(model.parameters(), lr=lr, **opt_kwargs),
        ctx.data(data),
        epochs,
        batch_size,
        classify=True,
    )
    return {"history": history, "model": model}


@lesson(
    "5.1",
    "Redes Neurais Profundas",
    "deep MLPs on the digits per activation, and ModuleList nets on a spiral",
    ("sigmoid", "tanh", "relu", "spiral"),
)
def deep_networks(ctx, setting, **overrides):
    if setting == "spiral":
        hp = take(overrides, lr=0.01, epochs=1000, batch_size=20, layers=(2, 10, 10, 3))
        return train_classifier(ctx, MLP(hp.layers), spiral(), hp.lr, hp.epochs, hp.batch_size)
    hp = take(overrides, lr=0.01, epochs=10, batch_size=48, limit=None)
    torch.manual_seed(2)
    return train_classifier(
        ctx, MLP((64, 50, 50, 10), ACTIVATIONS[setting]), digits_flat().head(hp.limit), hp.lr, hp.epochs, hp.batch_size
    )


class DropoutNet(nn.Module):
    """Linear -> Dropout -> ReLU twice, then Linear (the lab's order)."""

    def __init__(self, d_in, hidden, d_out, p):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(d_in, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, d_out)
        self.drop = nn.Dropout(p)

    def forward(self, x):
        x = torch.relu(self.drop(self.l1(x)))
        x = torch.relu(self.drop(self.l2(x)))
        return self.l3(x)


def nonlinear_classes(n: int, noise: float) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ U[0,1]^2, y = 1 where -1 + x1 + 2 x2 + x1 x2 - 3 x1^2 + x2^2 > 0, then input noise of std `noise`."""
    x = torch.rand(n, 2)
    x1, x2 = x[:, 0], x[:, 1]
    y = ((-1 + x1 + 2 * x2 + x1 * x2 - 3 * x1**2 + x2**2) > 0).long()
    return x + noise * torch.randn(x.shape), y


@lesson(
    "5.2",
    "Desistência",
    "dropout on a classifier and a regression, on in train(), off in eval()",
    ("p=0", "p=0.5", "p=0.01", "p=0.2"),
)
def dropout(ctx, setting, **overrides):
    p = float(setting.split("=")[1])
    hp = take(overrides, lr=0.01, epochs=500)
    if setting in ("p=0.01", "p=0.2"):  # classification
        x, y = nonlinear_classes(1000, 0.2)
        x_val, y_val = nonlinear_classes(1000, 0.15)
        data, net, loss, classify = Split(x, y, x_val, y_val), DropoutNet(2, 300, 2, p), nn.CrossEntropyLoss(), True
    else:  # regression
        x = torch.linspace(-1, 1, 40).view(-1, 1)
        y, y_val = x**2 + torch.randn(x.size()), x**2 + torch.randn(x.size())
        data, net, loss, classify = Split(x, y, x, y_val), DropoutNet(1, 300, 1, p), nn.MSELoss(), False
    model = ctx.model(net)
    history = fit(
        model,
        loss,
        torch.optim.Adam(model.parameters(), lr=hp.lr),
        ctx.data(data),
        hp.epochs,
        len(data.x),
        classify=classify,
    )
    return {"history": history, "model": model}


INITS = ("same", "xavier", "default", "uniform", "he", "default_relu", "uniform_relu")


def initialize(net: nn.Module, how: str) -> nn.Module:
    for layer in net.modules():
        if isinstance(layer, nn.Linear):
            if how == "xavier":
                nn.init.xavier_uniform_(layer.weight)
            elif how == "he":
                nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
            elif how.startswith("uniform"):
                layer.weight.data.uniform_(0, 1)
            elif how == "same":
                layer.weight.data.fill_(1.0)
                layer.bias.data.fill_(0.0)
    return net


@lesson(
    "5.3", "Pesos e Inicialização da Rede Neural", "same-value, default, uniform, Xavier and He initialization", INITS
)
def initialization(ctx, setting, **overrides):
    from models.week4 import Net

    if setting == "same":
        hp = take(overrides, lr=0.1, epochs=1000, batch_size=1)
        x = torch.arange(-20, 20, 1, dtype=torch.float32).view(-1, 1)
        model = ctx.model(initialize(Net(1, 2, 1), "same"))
        data = ctx.data(Split(x, ((x > -4) & (x < 4)).float()))
        history = fit(
            model,
            nn.BCELoss(),
            torch.optim.SGD(model.parameters(), lr=hp.lr),
            data,
            hp.epochs,
            hp.batch_size,
            classify=True,
        )
        return {"history": history, "model": model}
    relu = setting in ("he", "default_relu", "uniform_relu")
    hp = take(overrides, lr=0.01, epochs=30 if relu else 15, batch_size=48, limit=None)
    sizes = (64, 100, 200, 100, 10) if relu else (64, 100, 10, 100, 10, 100, 10)
    net = initialize(MLP(sizes, torch.relu if relu else torch.tanh), setting.replace("_relu", ""))
    return train_classifier(ctx, net, digits_flat().head(hp.limit), hp.lr, hp.epochs, hp.batch_size)


class OneWeight(nn.Module):
    """A single weight fed the input 1: the model the 5.4 lab descends a polynomial with."""

    def __init__(self, w: float):
        super().__init__()
        self.linear = nn.Linear(1, 1, bias=False)
        self.linear.weight.data.fill_(w)

    def forward(self, x):
        return self.linear(x)


POLYNOMIALS = {
    "cubic": (lambda w: w**3, 4.0, 0.01, 10),
    "quartic": (lambda w: 2 * w**4 - 9 * w**3 - 21 * w**2 + 88 * w + 48, 6.0, 0.001, 100),
}
MOMENTUM_SETTINGS = (
    "quartic-m0",
    "quartic-m0.9",
    "cubic-m0",
    "cubic-m0.9",
    *(f"spiral-m{m}" for m in (0, 0.1, 0.2, 0.4, 0.5)),
)


@lesson(
    "5.4",
    "Gradient Descent com Momentum",
    "momentum on a cubic, a quartic with a local minimum, and a spiral",
    MOMENTUM_SETTINGS,
)
def momentum(ctx, setting, **overrides):
    kind, m = setting.split("-m")
    if kind == "spiral":
        hp = take(overrides, lr=0.1, epochs=100, batch_size=20)
        return train_classifier(ctx, MLP((2, 50, 3)), spiral(), hp.lr, hp.epochs, hp.batch_size, momentum=float(m))
    f, w0, lr, iterations = POLYNOMIALS[kind]
    hp = take(overrides, lr=lr, iterations=iterations)
    model = ctx.model(OneWeight(w0))
    opt = torch.optim.SGD(model.parameters(), lr=hp.lr, momentum=float(m))
    one = ctx.tensor(torch.ones(1, 1))
    history = {"loss": [], "w": []}
    for _ in range(hp.iterations):
        loss = f(model(one)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        history["loss"].append(loss.item())
        history["w"].append(next(model.parameters()).item())
    return {"history": history, "model": model}


@lesson(
    "5.5", "Normalização em Lote", "an MLP with and without BatchNorm1d before each sigmoid", ("batchnorm", "plain")
)
def batch_normalization(ctx, setting, **overrides):
    hp = take(overrides, lr=0.1, epochs=5, batch_size=48, limit=None)
    net = MLP((64, 100, 100, 10), torch.sigmoid, batchnorm=setting == "batchnorm")
    return train_classifier(
        ctx, net, digits_flat().head(hp.limit), hp.lr, hp.epochs, hp.batch_size, optimizer=torch.optim.Adam
    )


def _sgd(lr, **kwargs):
    return lambda params: torch.optim.SGD(params, lr=lr, **kwargs)


def _adam(lr):
    return lambda params: torch.optim.Adam(params, lr=lr)


workloads(
    {
        "5.1": Workload(
            lambda: MLP((64, 50, 50, 10), torch.relu), (64,), nn.CrossEntropyLoss, _sgd(0.01), classes=10, hot=True
        ),
        "5.2": Workload(
            lambda: DropoutNet(2, 300, 2, 0.2), (2,), nn.CrossEntropyLoss, _adam(0.01), classes=2, hot=True
        ),
        "5.3": Workload(
            lambda: initialize(MLP((64, 100, 200, 100, 10), torch.relu), "he"),
            (64,),
            nn.CrossEntropyLoss,
            _sgd(0.01),
            classes=10,
            hot=True,
        ),
        "5.4": Workload(
            lambda: MLP((2, 50, 3)), (2,), nn.CrossEntropyLoss, _sgd(0.1, momentum=0.5), classes=3, hot=True
        ),
        "5.5": Workload(
            lambda: MLP((64, 100, 100, 10), torch.sigmoid, batchnorm=True),
            (64,),
            nn.CrossEntropyLoss,
            _adam(0.1),
            classes=10,
            hot=True,
        ),
    }
)
