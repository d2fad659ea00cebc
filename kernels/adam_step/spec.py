"""One Adam step over a list of parameters, as torch.optim.Adam takes it (the functional torch.optim.adam.adam):
adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, lr=1e-3, betas=(0.9, 0.999),
eps=1e-8, weight_decay=0, amsgrad=False, maximize=False) updates params and the state lists in place and returns
None. Per parameter, with d = -g if maximize else g and t the step count after adding 1 (a 0-d float tensor per
parameter, on the CPU, as torch.optim.Adam keeps it):
    d += weight_decay * p
    m = beta1 * m + (1 - beta1) * d;   v = beta2 * v + (1 - beta2) * d**2;   (amsgrad: v_max = max(v_max, v))
    p -= lr / (1 - beta1**t) * m / (sqrt(v or v_max) / sqrt(1 - beta2**t) + eps)
The optimizer of lessons 4.4 (1-9-1), 5.2, 5.5, 6.4 (bars) and 6.5.

Work model: about 15 FLOPs per element (+1 amsgrad). Minimum bytes: read p, g, m, v and write p, m, v (7*n*s;
9*n*s with amsgrad's v_max).
"""

from __future__ import annotations

import torch

from kernels.dtypes import BF16, FP32
from kernels.registry import register_spec
from kernels.spec import Case, Inputs, OpSpec
from kernels.step import (
    UNIT,
    check_param_lists,
    compare_steps,
    hyperparameters,
    make_grads,
    make_params,
    shape_of,
    step_tolerance,
)


def check_args(
    params,
    grads,
    exp_avgs,
    exp_avg_sqs,
    max_exp_avg_sqs,
    state_steps,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    amsgrad=False,
    maximize=False,
    op="adam_step",
) -> None:
    """torch.optim.Adam's checks, and the lists', naming the problem."""
    states = [("exp_avgs", exp_avgs), ("exp_avg_sqs", exp_avg_sqs), ("state_steps", [None] * len(state_steps))]
    check_param_lists(op, params, grads, *states)
    if amsgrad:
        check_param_lists(op, params, grads, ("max_exp_avg_sqs", max_exp_avg_sqs))
    if any(not isinstance(t, torch.Tensor) or t.dim() != 0 or not t.is_floating_point() for t in state_steps):
        raise TypeError(f"{op}: state_steps must be 0-d floating-point tensors (torch.optim.Adam's step counts)")
    for name, value in (("lr", lr), ("eps", eps), ("weight_decay", weight_decay)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{op}: {name} must be a number >= 0, got {value!r}")
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2 and all(0.0 <= b < 1.0 for b in betas)):
        raise ValueError(f"{op}: betas must be two numbers in [0, 1), got {betas!r}")


def initial_state(params: list[torch.Tensor], amsgrad: bool = False, **_) -> list[list]:
    """Adam's state before its first step, as torch.optim.Adam makes it: zero moments, step counts 0 on the CPU."""
    zeros = [[torch.zeros_like(p) for p in params] for _ in range(2)]
    maxima = [torch.zeros_like(p) for p in params] if amsgrad else []
    return [*zeros, maxima, [torch.tensor(0.0) for _ in params]]


def case(name: str, model: str, dtype, fill: str = "randn", **hp) -> Case:
    return Case(name, shape_of(model), dtype, params=(("model", model), *hp.items()), fill=fill, grad=False)


class AdamStepSpec(OpSpec):
    op = "adam_step"
    dtypes = (FP32, BF16)
    modes = ("forward",)  # a step has no backward; its one mode is the update
    in_place = True
    batch_sizes = {"quick": (1,), "full": (1,)}  # parameter lists have no batch: one size per model
    # the quick profile: an MLP's and the digits CNN's lists; ResNet-18's 62 tensors (11.2M) in the full one
    models = {"quick": ("mlp", "cnn"), "full": ("softmax", "mlp", "deep", "cnn", "resnet18")}
    work_model = "flops ~15 per element; bytes: p, g, m, v read, p, m, v written (+ amsgrad's maximum)"
    smoke_case = "adam"

    # Fills: randn (fresh state: zero moments, step 0); staggered (moments under way and step counts that differ
    # between tensors, as for parameters that joined the optimizer late).
    def test_cases(self) -> list[Case]:
        return [
            case("adam", "mlp", FP32, lr=0.01),
            case("adam", "mlp", BF16, lr=0.5),  # bf16: a change large enough to see past p's own rounding
            case("line", "line", FP32, lr=0.1),
            case("amsgrad", "mlp", FP32, lr=0.01, amsgrad=True),
            case("amsgrad", "mlp", BF16, lr=0.5, amsgrad=True),
            case("weight_decay", "deep", FP32, lr=0.01, weight_decay=0.1),
            case("maximize", "softmax", FP32, lr=0.01, maximize=True, weight_decay=0.1),
            case("betas", "cnn", FP32, lr=0.01, betas=(0.5, 0.9), eps=1e-3),
            case("staggered", "odd", FP32, fill="staggered", lr=0.01, amsgrad=True),
            case("many", "many", FP32, lr=0.01, weight_decay=0.01),
            case("with_empty", "with_empty", FP32, lr=0.01),
            case("none", "none", FP32, lr=0.01),
        ]

    def bench_shapes(self, profile: str, batch: int, device: str) -> list[tuple[int, ...]]:
        return [shape_of(m) for m in self.models[profile]]

    def bench_params(self, shape: tuple[int, ...]) -> list[tuple[tuple[str, object], ...]]:
        model = next(m for m in self.models["full"] if shape_of(m) == shape)
        return [(("model", model), ("lr", 0.001))]  # the lessons' Adam: default betas, no weight decay

    def make_inputs(self, case: Case, device: str, seed: int) -> Inputs:
        params = make_params(case, device, seed)
        hp = hyperparameters(case)
        state = initial_state(params, **hp)
        if case.fill == "staggered":
            g = torch.Generator().manual_seed(seed + 2)
            for i, p in enumerate(params):
                state[0][i].copy_(0.1 * torch.randn(p.shape, generator=g))
                state[1][i].copy_(0.01 * torch.rand(p.shape, generator=g))
                if state[2]:
                    state[2][i].copy_(state[1][i])
                state[3][i].fill_(float(4 * (i % 3)))
        elif case.fill != "randn":
            raise ValueError(f"adam_step: unknown fill {case.fill!r}")
        return Inputs((params, make_grads(case, device, seed), *state), hp)

    def initial_state(self, params: list[torch.Tensor], **hp) -> list[list]:
        return initial_state(params, **hp)

    def compare(self, fn, case: Case, device: str, seed: int, **options):
        return compare_steps(fn, self, case, device, seed, **options)

    def flops(self, case: Case, mode: str) -> float:
        return (16 if hyperparameters(case).get("amsgrad") else 15) * case.shape[1]

    def bytes(self, case: Case, mode: str) -> float:
        return (9 if hyperparameters(case).get("amsgrad") else 7) * case.shape[1] * case.dtype.itemsize

    def tolerance(self, case: Case, mode: str) -> float:
        # the update divides by sqrt(v): a few more roundings than SGD's. And an implementation may form the bias
        # correction 1 - beta2**t in fp32 (Inductor does, from the step count tensor; eager in Python's doubles):
        # beta2 = 0.999 is itself 1.3e-8 off in fp32, which is 1.3e-5 of 1 - beta2, and the square root halves it
        # in every update: measured 7e-6 of the change over three steps of two weights, compiled against float64
        bias_correction = UNIT[torch.float32] / (1 - dict(case.params).get("betas", (0.9, 0.999))[1])
        if mode == "state":
            return step_tolerance(case.dtype) * 4
        return step_tolerance(case.dtype) * 2 + bias_correction

    def batch_of(self, shape: tuple[int, ...]) -> int:
        return 1


SPEC = AdamStepSpec()
register_spec(SPEC)
