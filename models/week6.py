"""Week 6: convolution (6.1 to 6.5). The hand examples of 6.1 to 6.3 run the lab's nn.Conv2d / nn.MaxPool2d with
the lab's kernels on the run's backend; 6.4 trains the lab CNNs; 6.5 fine-tunes a torchvision ResNet-18."""

from __future__ import annotations

import torch
from torch import nn

from models.data import Split, bars, digits_images, updates_to_epochs
from models.lesson import Workload, lesson, take, workloads
from models.train import fit

SOBEL_X = [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]
SOBEL_Y = [[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]
ONES3 = [[1.0] * 3] * 3
POOL_IMAGE = [[1.0, 2.0, 3.0, -4.0], [0.0, 2.0, -3.0, 0.0], [0.0, 2.0, 3.0, 1.0], [0.0, 0.0, 0.0, 0.0]]


def vertical_line() -> torch.Tensor:
    """The 6.1 image: 5x5 zeros with a vertical line of ones in column 2."""
    image = torch.zeros(1, 1, 5, 5)
    image[0, 0, :, 2] = 1.0
    return image


def conv_with(ctx, kernels, bias: bool = False, **kwargs) -> nn.Module:
    """nn.Conv2d with the lab's kernels (weight [K, C, R, S] from nested lists) and zero bias, on the backend."""
    weight = torch.tensor(kernels)
    conv = nn.Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]), bias=bias, **kwargs)
    conv.state_dict()["weight"].copy_(weight)
    if bias:
        conv.state_dict()["bias"].zero_()
    return ctx.model(conv)


@torch.no_grad()
def apply(ctx, module, image) -> torch.Tensor:
    return module(ctx.tensor(image)).cpu()


@lesson(
    "6.1",
    "Convolução",
    "Sobel-x on a vertical line; a 2x2 kernel of ones with strides 1, 2, 3 and padding",
    ("sobel", "stride=1", "stride=2", "stride=3", "stride=3,pad=1"),
    trains=False,
)
def convolution(ctx, setting, **overrides):
    take(overrides)
    if setting == "sobel":
        return {"outputs": {"output": apply(ctx, conv_with(ctx, [[SOBEL_X]], bias=True), vertical_line())}}
    params = dict(part.split("=") for part in setting.split(","))
    conv = conv_with(ctx, [[[[1.0, 1.0], [1.0, 1.0]]]], stride=int(params["stride"]), padding=int(params.get("pad", 0)))
    return {"outputs": {"output": apply(ctx, conv, torch.ones(1, 1, 4, 4))}}


@lesson(
    "6.2",
    "Funções de Ativação e Max Polling",
    "relu after the Sobel conv; 2x2 max pools with stride 1 and 2",
    ("relu", "maxpool-s1", "maxpool-s2"),
    trains=False,
)
def activation_and_pooling(ctx, setting, **overrides):
    take(overrides)
    if setting == "relu":
        return {"outputs": {"output": torch.relu(apply(ctx, conv_with(ctx, [[SOBEL_X]]), vertical_line()))}}
    pool = ctx.model(nn.MaxPool2d(2, stride=1 if setting == "maxpool-s1" else None))
    return {"outputs": {"output": apply(ctx, pool, torch.tensor(POOL_IMAGE).view(1, 1, 4, 4))}}


@lesson(
    "6.3",
    "Vários Canais de Entrada e Saída",
    "convolutions with several input and output channels",
    ("1to3", "2to1", "2to3"),
    trains=False,
)
def channels(ctx, setting, **overrides):
    take(overrides)
    line = vertical_line()
    if setting == "1to3":
        return {"outputs": {"output": apply(ctx, conv_with(ctx, [[SOBEL_X], [SOBEL_Y], [ONES3]]), line)}}
    two = torch.cat([line, line.transpose(-1, -2)], dim=1)  # a vertical and a horizontal line
    zeros = [[0.0] * 3] * 3
    kernels = [[SOBEL_X, SOBEL_Y]] if setting == "2to1" else [[SOBEL_X, SOBEL_Y], [SOBEL_X, zeros], [ONES3, ONES3]]
    return {"outputs": {"output": apply(ctx, conv_with(ctx, kernels), two)}}


class BarsCNN(nn.Module):
    """Conv(1->2, k2) -> ReLU -> MaxPool(2, s1) -> Conv(2->1, k2) -> ReLU -> MaxPool(2, s1) -> Linear(49, 2).

    The second convolution has a single channel: from some initializations its relu is dead from the first steps
    and the net answers one class whatever it sees (a fragility of the lab's tiny net, not of the data)."""

    def __init__(self):
        super().__init__()
        self.cnn1, self.cnn2 = nn.Conv2d(1, 2, 2), nn.Conv2d(2, 1, 2)
        self.pool1, self.pool2 = nn.MaxPool2d(2, stride=1), nn.MaxPool2d(2, stride=1)
        self.fc1 = nn.Linear(49, 2)

    def forward(self, x):
        x = self.pool1(torch.relu(self.cnn1(x)))
        x = self.pool2(torch.relu(self.cnn2(x)))
        return self.fc1(x.flatten(1))


class DigitsCNN(nn.Module):
    """Conv(1->16, k5, p2) -> ReLU -> MaxPool2 -> Conv(16->32, k5, p2) -> ReLU -> MaxPool2 -> Linear(512, 10), with
    BatchNorm2d after each conv and BatchNorm1d(10) after the linear when `batchnorm`."""

    def __init__(self, batchnorm: bool = False):
        super().__init__()
        self.cnn1, self.cnn2 = nn.Conv2d(1, 16, 5, padding=2), nn.Conv2d(16, 32, 5, padding=2)
        self.pool1, self.pool2 = nn.MaxPool2d(2), nn.MaxPool2d(2)
        self.fc1 = nn.Linear(32 * 4 * 4, 10)
        norms = (nn.BatchNorm2d(16), nn.BatchNorm2d(32), nn.BatchNorm1d(10)) if batchnorm else (nn.Identity(),) * 3
        self.bn1, self.bn2, self.bn_fc = norms

    def forward(self, x):
        x = self.pool1(torch.relu(self.bn1(self.cnn1(x))))
        x = self.pool2(torch.relu(self.bn2(self.cnn2(x))))
        return self.bn_fc(self.fc1(x.flatten(1)))


@lesson(
    "6.4",
    "Rede Neural Convolucional",
    "the bars CNN and the digits CNN, with and without batch norm",
    ("bars", "digits", "digits-bn"),
)
def cnn(ctx, setting, **overrides):
    if setting == "bars":
        hp = take(overrides, lr=0.001, epochs=10, batch_size=10, train=10000, validation=1000)
        x, y = bars(hp.train, seed=ctx.seed)
        x_val, y_val = bars(hp.validation, seed=ctx.seed + 1)
        data, net, opt = Split(x, y, x_val, y_val), BarsCNN(), torch.optim.Adam
    else:
        data = digits_images(16)
        lab_epochs = 3 if setting == "digits" else 10
        hp = take(
            overrides, lr=0.1, epochs=updates_to_epochs(lab_epochs, 100, 100, len(data.x)), batch_size=100, limit=None
        )
        data = data.head(hp.limit)
        net, opt = DigitsCNN(batchnorm=setting == "digits-bn"), torch.optim.SGD
    model = ctx.model(net)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        opt(model.parameters(), lr=hp.lr),
        ctx.data(data),
        hp.epochs,
        hp.batch_size,
        classify=True,
    )
    return {"history": history, "model": model}


def resnet18(classes: int, frozen: bool) -> nn.Module:
    """torchvision's ResNet-18 with weights=None (the lab's pretrained weights cannot be downloaded here), a new
    fc = Linear(512, classes), and with `frozen` every other parameter frozen."""
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    if frozen:
        for p in model.parameters():
            p.requires_grad_(False)
    model.fc = nn.Linear(512, classes)
    return model


@lesson(
    "6.5",
    "Modelos de Visão de Lanterna",
    "ResNet-18 (untrained: no pretrained download) with a new fc, frozen or fully trained, on 3-channel digits",
    ("frozen", "full"),
)
def vision_model(ctx, setting, **overrides):
    hp = take(overrides, lr=0.001, epochs=1, batch_size=100, size=32, limit=None)
    data = digits_images(hp.size, channels=3).head(hp.limit)
    net = resnet18(10, frozen=setting == "frozen")
    model = ctx.model(net)
    trainable = [p for p in model.parameters() if p.requires_grad]
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        torch.optim.Adam(trainable, lr=hp.lr),
        ctx.data(data),
        hp.epochs,
        hp.batch_size,
        classify=True,
    )
    return {
        "history": history,
        "model": model,
        "final": {"trainable_parameters": sum(p.numel() for p in trainable)},
        "outputs": {"pretrained": "not available offline: weights=None, so accuracy is from scratch"},
    }


def _trainable_adam(lr):
    return lambda params: torch.optim.Adam([p for p in params if p.requires_grad], lr=lr)


workloads(
    {
        # the digits CNN, the lab's main model; timed on random 3x64x64 inputs for ResNet-18, as the lab suggests
        "6.4": Workload(
            DigitsCNN, (1, 16, 16), nn.CrossEntropyLoss, lambda p: torch.optim.SGD(p, lr=0.1), classes=10, hot=True
        ),
        "6.5": Workload(
            lambda: resnet18(10, frozen=True),
            (3, 64, 64),
            nn.CrossEntropyLoss,
            _trainable_adam(0.001),
            classes=10,
            hot=True,
            forms=("channels_last", "autocast"),
        ),
    }
)
