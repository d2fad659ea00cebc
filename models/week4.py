"""Week 4: softmax and shallow networks (4.1 to 4.4)."""

from __future__ import annotations

import torch
from torch import nn

from kernels import registry
from models.data import Split, arange_column, digits_flat, updates_to_epochs, xor
from models.lesson import Workload, lesson, take, workloads
from models.train import fit


@lesson("4.1", "Previsão Softmax", "Linear(1,3) logits and argmax on three intervals of a line")
def softmax_prediction(ctx, setting, **overrides):
    hp = take(overrides, lr=0.01, epochs=300, batch_size=5)
    x = arange_column(-2, 2, 0.1)
    y = torch.ones(len(x), dtype=torch.long)
    y[x[:, 0] <= -1.0] = 0
    y[x[:, 0] >= 1.0] = 2
    model = ctx.model(nn.Linear(1, 3))
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        torch.optim.SGD(model.parameters(), lr=hp.lr),
        ctx.data(Split(x, y)),
        hp.epochs,
        hp.batch_size,
        classify=True,
    )
    return {"history": history, "model": model}


@lesson(
    "4.2",
    "Função Softmax",
    "the softmax op itself: every variant of the kernels registry",
    tuple(v.name for v in registry.variants("softmax")),
    trains=False,
    setting_op="softmax",
)
def softmax_function(ctx, setting, **overrides):
    logits = take(overrides, logits=torch.tensor([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])).logits
    variant = registry.get("softmax", setting)
    reason = variant.skip_reason(ctx.device)
    if reason:
        raise RuntimeError(f"lesson 4.2: softmax '{setting}' cannot run on {ctx.device}: {reason}")
    return {"outputs": {"softmax": variant.fn(ctx.tensor(logits), dim=-1).cpu()}}


def digits_epochs(lab_epochs: int, lab_batch: int, batch: int) -> int:
    return updates_to_epochs(lab_epochs, lab_batch, batch, len(digits_flat().x))


@lesson("4.3", "Softmax Pytorch", "a softmax classifier Linear(64,10) on the digits (the lab's MNIST)")
def softmax_classifier(ctx, setting, **overrides):
    hp = take(overrides, lr=0.1, epochs=digits_epochs(10, 100, 100), batch_size=100, limit=None)
    model = ctx.model(nn.Linear(64, 10))
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        torch.optim.SGD(model.parameters(), lr=hp.lr),
        ctx.data(digits_flat().head(hp.limit)),
        hp.epochs,
        hp.batch_size,
        classify=True,
    )
    return {"history": history, "model": model}


class Net(nn.Module):
    """The labs' one-hidden-layer net: Linear -> activation -> Linear (-> sigmoid for a binary output)."""

    def __init__(self, d_in: int, hidden: int, d_out: int, activation=torch.sigmoid, sigmoid_out: bool = True):
        super().__init__()
        self.linear1, self.linear2 = nn.Linear(d_in, hidden), nn.Linear(hidden, d_out)
        self.activation, self.sigmoid_out = activation, sigmoid_out

    def forward(self, x):
        out = self.linear2(self.activation(self.linear1(x)))
        return torch.sigmoid(out) if self.sigmoid_out else out


ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
SHALLOW = ("1-2-1", "1-9-1", "xor-1", "xor-2", "xor-4", "digits", "sigmoid", "tanh", "relu")


@lesson("4.4", "Redes Neurais Rasas", "one-hidden-layer nets: bumps, XOR with 1, 2 or 4 units, digits", SHALLOW)
def shallow(ctx, setting, **overrides):
    if setting == "1-2-1":
        hp = take(overrides, lr=0.1, epochs=1000, batch_size=1)
        x = arange_column(-20, 20, 1)
        data, net, opt = Split(x, ((x > -4) & (x < 4)).float()), Net(1, 2, 1), torch.optim.SGD
    elif setting == "1-9-1":
        hp = take(overrides, lr=0.1, epochs=600, batch_size=100)
        x = torch.linspace(-20, 20, 100).view(-1, 1)
        y = (((x > -10) & (x < -5)) | ((x > 5) & (x < 10))).float()
        data, net, opt = Split(x, y), Net(1, 9, 1), torch.optim.Adam
    elif setting.startswith("xor"):
        hidden = int(setting.split("-")[1])
        hp = take(overrides, lr=0.001 if hidden == 1 else 0.1, epochs=500, batch_size=1)
        data, net, opt = xor(), Net(2, hidden, 1), torch.optim.SGD
    else:  # digits: 64-100-10 with sigmoid (the lab's), or each activation compared
        hp = take(overrides, lr=0.01, epochs=30, batch_size=48, limit=None)
        activation = ACTIVATIONS["sigmoid" if setting == "digits" else setting]
        data, net, opt = digits_flat().head(hp.limit), Net(64, 100, 10, activation, sigmoid_out=False), torch.optim.SGD
    classes = setting in ("digits", *ACTIVATIONS)
    model = ctx.model(net)
    loss = nn.CrossEntropyLoss() if classes else nn.BCELoss()
    history = fit(
        model, loss, opt(model.parameters(), lr=hp.lr), ctx.data(data), hp.epochs, hp.batch_size, classify=True
    )
    return {"history": history, "model": model}


workloads(
    {
        "4.1": Workload(
            lambda: nn.Linear(1, 3), (1,), nn.CrossEntropyLoss, lambda p: torch.optim.SGD(p, lr=0.01), classes=3
        ),
        "4.3": Workload(
            lambda: nn.Linear(64, 10),
            (64,),
            nn.CrossEntropyLoss,
            lambda p: torch.optim.SGD(p, lr=0.1),
            classes=10,
            hot=True,
        ),
        "4.4": Workload(
            lambda: Net(64, 100, 10, torch.sigmoid, sigmoid_out=False),
            (64,),
            nn.CrossEntropyLoss,
            lambda p: torch.optim.SGD(p, lr=0.01),
            classes=10,
            hot=True,
        ),
    }
)
