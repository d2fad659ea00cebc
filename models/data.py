"""The labs' data: the synthetic sets exactly as the labs make them, and the offline stand-in for MNIST.

MNIST cannot be downloaded here: scikit-learn's bundled digits (1797 images, 8x8, values 0..16, scaled by 1/16),
split 80/20 stratified with a fixed seed, stand in for it. Fully connected labs take the 64 pixels; CNN labs take
the images upsampled (bilinear) to 16x16, so that two 2x2 pools leave the lab's 4x4 and its Linear(32*4*4, 10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F

DIGITS_SPLIT_SEED = 0


@dataclass(frozen=True)
class Split:
    """Training and validation tensors (x, y) of one data set."""

    x: torch.Tensor
    y: torch.Tensor
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None

    def head(self, n: int | None) -> Split:
        """The first n samples of the training and of the validation set (all of them for None)."""
        if n is None:
            return self
        cut = lambda t: None if t is None else t[:n]
        return Split(cut(self.x), cut(self.y), cut(self.x_val), cut(self.y_val))

    def to(self, device, dtype) -> Split:
        def move(t, floating):
            if t is None:
                return None
            return t.to(device=device, dtype=dtype) if floating and t.is_floating_point() else t.to(device)

        return Split(move(self.x, True), move(self.y, True), move(self.x_val, True), move(self.y_val, True))


def arange_column(a: float, b: float, step: float) -> torch.Tensor:
    """x ~ arange(a, b, s): torch.arange(a, b, s).view(-1, 1) in float32, as the labs write it."""
    return torch.arange(a, b, step, dtype=torch.float32).view(-1, 1)


def line_data(f, seed: int | None = None, noise: float = 0.1) -> Split:
    """Week 2: X = arange(-3, 3, 0.1) (60 points), Y = f(X) + noise * randn."""
    if seed is not None:
        torch.manual_seed(seed)
    x = arange_column(-3, 3, 0.1)
    return Split(x, f(x) + noise * torch.randn(x.size()))


@lru_cache(maxsize=1)
def _digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as e:  # pragma: no cover - scikit-learn is a dependency of the project
        raise RuntimeError("the digits stand-in for MNIST needs scikit-learn (pip install scikit-learn)") from e
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    idx = torch.arange(len(y)).numpy()
    train, val = train_test_split(idx, test_size=0.2, stratify=digits.target, random_state=DIGITS_SPLIT_SEED)
    return x[train], y[train], x[val], y[val]


def digits_flat() -> Split:
    """The digits as 64-pixel vectors (the fully connected MNIST labs)."""
    x, y, x_val, y_val = _digits()
    return Split(x, y, x_val, y_val)


def digits_images(size: int = 16, channels: int = 1) -> Split:
    """The digits as [N, channels, size, size] images, upsampled bilinearly (the CNN labs: 16x16)."""
    x, y, x_val, y_val = _digits()

    def image(t):
        t = F.interpolate(t.view(-1, 1, 8, 8), size=(size, size), mode="bilinear", align_corners=False)
        return t.repeat(1, channels, 1, 1) if channels > 1 else t

    return Split(image(x), y, image(x_val), y_val)


def updates_to_epochs(lab_epochs: int, lab_batch: int, batch: int, n_train: int, lab_samples: int = 60000) -> int:
    """Epochs on the stand-in that give the lab's number of parameter updates, lab_epochs * ceil(60000/lab_batch)."""
    updates = lab_epochs * math.ceil(lab_samples / lab_batch)
    return max(1, round(updates / math.ceil(n_train / batch)))


def spiral(points_per_class: int = 500, classes: int = 3, seed: int = 1) -> Split:
    """The 5.1 spiral: r = linspace(0, 1, n), t = linspace(4k, 4(k+1), n) + 0.2 randn, x = (r sin t, r cos t)."""
    g = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    for k in range(classes):
        r = torch.linspace(0.0, 1, points_per_class)
        t = torch.linspace(k * 4, (k + 1) * 4, points_per_class) + torch.randn(points_per_class, generator=g) * 0.2
        xs.append(torch.stack([r * torch.sin(t), r * torch.cos(t)], dim=1))
        ys.append(torch.full((points_per_class,), k, dtype=torch.long))
    return Split(torch.cat(xs), torch.cat(ys))


def xor(n: int = 100, seed: int = 0) -> Split:
    """The 4.4 XOR set: n noisy points, n/4 around each corner of the unit square, label x1 xor x2."""
    g = torch.Generator().manual_seed(seed)
    corners = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    labels = torch.tensor([0.0, 1.0, 1.0, 0.0])
    per = n // 4
    x = corners.repeat_interleave(per, 0) + 0.01 * torch.randn(4 * per, 2, generator=g)
    return Split(x, labels.repeat_interleave(per).view(-1, 1))


def bars(n: int, size: int = 11, keep: float = 0.9, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The 6.4 bars: size x size images of a vertical (class 0) or horizontal (class 1) 9x3 bar at a random place,
    each bar pixel kept with probability `keep`."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, size, size)
    y = torch.randint(0, 2, (n,), generator=g)
    for i in range(n):
        long_side, short_side = 9, 3
        top = int(torch.randint(0, size - long_side + 1, (1,), generator=g))
        left = int(torch.randint(0, size - short_side + 1, (1,), generator=g))
        bar = (torch.rand(long_side, short_side, generator=g) < keep).float()
        if y[i] == 0:
            x[i, 0, top : top + long_side, left : left + short_side] = bar
        else:
            x[i, 0, left : left + short_side, top : top + long_side] = bar.t()
    return x, y
