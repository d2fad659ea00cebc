"""Week 1: tensors and data (1.1 to 1.5). No training: each lab computes something, returned in `outputs`."""

from __future__ import annotations

import csv
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from models.data import digits_flat
from models.lesson import lesson, take


@lesson(
    "1.1",
    "Tensores 1D",
    "elementwise ops and reductions on 1-D tensors, against NumPy's",
    ("torch", "numpy"),
    trains=False,
)
def tensors_1d(ctx, setting, **overrides):
    n = take(overrides, n=100_000).n
    u, v = ctx.tensor(torch.randn(n)).cpu(), ctx.tensor(torch.randn(n)).cpu()  # the run's dtype for both
    if setting == "numpy":
        a, b = u.float().numpy(), v.float().numpy()
        results = {
            "add": a + b,
            "mul": a * b,
            "exp": np.exp(a),
            "sum": a.sum(),
            "mean": a.mean(),
            "std": a.std(ddof=1),
            "dot": np.dot(a, b),
        }
        outputs = {k: torch.as_tensor(np.asarray(r)) for k, r in results.items()}
    else:
        a, b = ctx.tensor(u), ctx.tensor(v)
        results = {
            "add": a + b,
            "mul": a * b,
            "exp": torch.exp(a),
            "sum": a.sum(),
            "mean": a.mean(),
            "std": a.std(),
            "dot": torch.dot(a, b),
        }
        outputs = {k: r.detach().cpu() for k, r in results.items()}
    return {"outputs": {**outputs, "inputs": (u, v)}}


@lesson("1.2", "Tensores Bidimensionais", "2-D indexing, the elementwise product and torch.mm", trains=False)
def tensors_2d(ctx, setting, **overrides):
    n = take(overrides, n=256).n
    a = ctx.tensor(torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0]]))  # the lab's 2x3 and 3x2 matrices
    b = ctx.tensor(torch.tensor([[1.0, 1.0], [1.0, 1.0], [-1.0, 1.0]]))
    x = ctx.tensor(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    y = ctx.tensor(torch.tensor([[2.0, 1.0], [1.0, 2.0]]))
    big = ctx.tensor(torch.randn(n, n))
    return {
        "outputs": {
            "mm": torch.mm(a, b).cpu(),
            "hadamard": (x * y).cpu(),
            "row1": a[1].cpu(),
            "column2": a[:, 2].cpu(),
            "mm_n": torch.mm(big, big).cpu(),
            "elementwise_n": (big * big).cpu(),
            "square": big.cpu(),
        }
    }


class SQ(torch.autograd.Function):
    """The lab's custom autograd Function for x^2."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 2 * x


@lesson(
    "1.3",
    "Derivativos no Pytorch",
    "autograd on the lab's functions, built-in and a custom autograd.Function",
    ("builtin", "custom_function"),
    trains=False,
)
def derivatives(ctx, setting, **overrides):
    n = take(overrides, n=1000).n
    square = SQ.apply if setting == "custom_function" else (lambda t: t**2)

    def grad(fn, *points):
        xs = [ctx.tensor(torch.tensor(p)).requires_grad_(True) for p in points]
        fn(*xs).backward()
        return [x.grad.item() for x in xs]

    x = ctx.tensor(torch.linspace(-10, 10, n)).requires_grad_(True)
    square(x).sum().backward()
    dsquare = x.grad.detach().cpu()
    r = ctx.tensor(torch.linspace(-10, 10, n)).requires_grad_(True)
    torch.relu(r).sum().backward()
    outputs = {
        "x^2 at 2": grad(square, 2.0)[0],
        "x^2+2x+1 at 2": grad(lambda t: square(t) + 2 * t + 1, 2.0)[0],
        "2x^3+x at 1": grad(lambda t: 2 * t**3 + t, 1.0)[0],
        "uv+u^2 at (1,2)": grad(lambda u, v: u * v + square(u), 1.0, 2.0),
        "x^2 on linspace": (x.detach().cpu(), dsquare),
        "relu on linspace": (r.detach().cpu(), r.grad.detach().cpu()),
    }
    return {"outputs": outputs}


class AddMult:
    """The lab's transform: x + addx, y * muly."""

    def __init__(self, addx=1, muly=2):
        self.addx, self.muly = addx, muly

    def __call__(self, sample):
        x, y = sample
        return x + self.addx, y * self.muly


class Mult:
    def __init__(self, mult=100):
        self.mult = mult

    def __call__(self, sample):
        x, y = sample
        return x * self.mult, y * self.mult


class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, sample):
        for t in self.transforms:
            sample = t(sample)
        return sample


class ToySet(torch.utils.data.Dataset):
    """The lab's toy_set: `length` samples of x = 2 * ones(2), y = ones(1)."""

    def __init__(self, length=100, transform=None):
        self.x, self.y = 2 * torch.ones(length, 2), torch.ones(length, 1)
        self.transform = transform

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        sample = self.x[i], self.y[i]
        return self.transform(sample) if self.transform else sample


@lesson(
    "1.4",
    "Conjunto de Dados Simples",
    "a Dataset with per-sample transforms, composed in both orders",
    ("per_sample", "batched"),
    trains=False,
)
def simple_dataset(ctx, setting, **overrides):
    length = take(overrides, length=100).length
    orders = {"add_mult then mult": Compose([AddMult(), Mult()]), "mult then add_mult": Compose([Mult(), AddMult()])}
    outputs = {}
    for name, transform in orders.items():
        start = time.perf_counter()
        if setting == "batched":  # the same transforms on the whole tensors at once
            data = ToySet(length)
            x, y = transform((data.x, data.y))
        else:
            data = ToySet(length, transform)
            samples = [data[i] for i in range(len(data))]
            x, y = torch.stack([s[0] for s in samples]), torch.stack([s[1] for s in samples])
        outputs[name] = {"x": x, "y": y, "seconds": time.perf_counter() - start}
    return {"outputs": outputs}


def write_image_folder(root: Path, count: int) -> Path:
    """count digits upsampled to 28x28 as PNG files, with an index.csv of (file, label): the lab's folder."""
    from PIL import Image

    split = digits_flat()
    images = torch.nn.functional.interpolate(split.x[:count].view(-1, 1, 8, 8), size=(28, 28), mode="bilinear")
    rows = []
    for i, (img, label) in enumerate(zip(images, split.y[:count], strict=True)):
        name = f"img_{i}.png"
        Image.fromarray((img[0].clamp(0, 1) * 255).to(torch.uint8).numpy(), mode="L").save(root / name)
        rows.append((name, int(label)))
    index = root / "index.csv"
    with index.open("w", newline="") as f:
        csv.writer(f).writerows([("image", "label"), *rows])
    return index


class ImageFolderDataset(torch.utils.data.Dataset):
    """The lab's Dataset: an index CSV of (file, label), each image read from its file when asked for."""

    def __init__(self, index: Path, transform=None):
        with index.open() as f:
            self.rows = list(csv.reader(f))[1:]
        self.root, self.transform = index.parent, transform

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        from PIL import Image

        name, label = self.rows[i]
        image = Image.open(self.root / name)
        return (self.transform(image) if self.transform else image), int(label)


@lesson(
    "1.5",
    "Conjunto de Dados",
    "a DataLoader over image files (PNG + CSV index) with crop and flip transforms",
    ("workers=0", "workers=2"),
    trains=False,
)
def image_dataset(ctx, setting, **overrides):
    import torchvision.transforms as T

    hp = take(overrides, images=256, batch_size=32)
    workers = int(setting.split("=")[1])
    transform = T.Compose([T.CenterCrop(20), T.RandomHorizontalFlip(), T.RandomVerticalFlip(), T.ToTensor()])
    with tempfile.TemporaryDirectory() as tmp:
        index = write_image_folder(Path(tmp), hp.images)
        data = ImageFolderDataset(index, transform)
        loader = torch.utils.data.DataLoader(data, batch_size=hp.batch_size, num_workers=workers)
        start = time.perf_counter()
        seen = sum(len(x) for x, _ in loader)
        seconds = time.perf_counter() - start
        first = data[0][0]
    return {"outputs": {"first_shape": tuple(first.shape), "samples": seen, "samples_per_s": seen / seconds}}
