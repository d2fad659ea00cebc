"""BatchNorm as a module over any registry variant: what the lesson models build, so a backend swaps the op.

Like torch.nn.BatchNorm1d/2d, it keeps running statistics and num_batches_tracked, and with momentum=None uses the
cumulative average: each training batch is weighted 1 / num_batches_tracked (F.batch_norm itself takes only a
number, so this is done here, as torch's module does).
"""

from __future__ import annotations

import torch
from torch import nn

from kernels import registry


class BatchNorm(nn.Module):
    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        variant: str = "eager",
        activation: str | None = None,
    ):
        super().__init__()
        self.fn = registry.get("batchnorm", variant).fn
        self.eps, self.momentum, self.activation = eps, momentum, activation
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training:
            self.num_batches_tracked += 1
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)
        return self.fn(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training,
            momentum,
            self.eps,
            activation=self.activation,
        )
