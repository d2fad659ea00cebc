"""One input configuration of an op (`Case`) and the arguments of one call (`Inputs`): what the specs make
(kernels/spec.py) and the check compares (kernels/check.py), kept apart from both so that neither imports the other
for them."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from kernels.dtypes import dtype_name


@dataclass(frozen=True)
class Case:
    """One input configuration of an op: its shape, dtype, keyword parameters and how to fill it."""

    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype
    params: tuple[tuple[str, object], ...] = ()  # the op's keyword arguments, e.g. (("dim", 1),)
    layout: str = "contiguous"  # "contiguous", "strided" (every other column) or "transposed"
    fill: str = "randn"  # how the spec fills the input; each spec documents its fills
    grad: bool = True  # check gradients too
    tf32: bool = False  # fp32 operands multiplied in TF32 (matmul, conv): a separate, named precision

    @property
    def precision(self) -> str:
        """The dtype's name, or 'tf32' for fp32 computed in TF32."""
        return "tf32" if self.tf32 else dtype_name(self.dtype)

    @property
    def params_id(self) -> str:
        return "".join(f"-{k}{v}" for k, v in self.params)

    @property
    def id(self) -> str:
        shape = "x".join(map(str, self.shape))
        return f"{self.name}-{shape}{self.params_id}-{self.precision}"

    @property
    def kwargs(self) -> dict:
        return dict(self.params)


@dataclass
class Inputs:
    """Arguments for one call of a variant: positional tensors in the op's order, then keyword arguments.

    `state` lists the positions of tensors the op updates in place and that carry no gradient (batchnorm's running
    statistics): the check compares their values after the call with the reference's."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    state: tuple[int, ...] = ()

    def _is_leaf_input(self, i: int, a) -> bool:
        return isinstance(a, torch.Tensor) and a.is_floating_point() and i not in self.state

    def differentiable(self) -> list[torch.Tensor]:
        return [a for i, a in enumerate(self.args) if self._is_leaf_input(i, a)]

    def to_reference(self) -> Inputs:
        """The same values as float64 on the CPU; differentiable inputs as leaves that track gradients. Tensors
        among the keyword arguments (conv2d's frozen batch-norm statistics, a tuple) become float64 constants."""
        args = tuple(
            a.detach().to("cpu", torch.float64).requires_grad_(self._is_leaf_input(i, a))
            if isinstance(a, torch.Tensor) and a.is_floating_point()
            else a
            for i, a in enumerate(self.args)
        )
        return Inputs(args, {k: _as_reference(v) for k, v in self.kwargs.items()}, self.state)

    def with_grad(self) -> Inputs:
        args = tuple(
            a.detach().requires_grad_(True) if self._is_leaf_input(i, a) else a for i, a in enumerate(self.args)
        )
        return Inputs(args, dict(self.kwargs), self.state)


def _as_reference(value):
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.detach().to("cpu", torch.float64)
    if isinstance(value, tuple):
        return tuple(_as_reference(v) for v in value)
    return value
