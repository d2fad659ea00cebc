"""One SGD step over a list of parameters, as torch.optim.SGD takes it (the functional torch.optim.sgd.sgd):
sgd_step(params, grads, momentum_buffers, lr, momentum=0, dampening=0, nesterov=False, weight_decay=0,
maximize=False) updates params and momentum_buffers in place (a None buffer, before the first step with momentum,
is replaced by a new tensor in the list) and returns None. Per parameter, with d = -g if maximize else g:
    d += weight_decay * p
    b = d (first step) or momentum * b + (1 - dampening) * d;   d = d + momentum * b (nesterov) or b
    p -= lr * d
The update of every lesson: the labs' loop `p.data -= lr * p.grad` (2.x), torch.optim.SGD from 2.8, with momentum
in 5.4.

Work model: per element, 2 FLOPs plain, +2 with weight decay, +3 with momentum (+2 nesterov). Minimum bytes: read p
and g, write p (3*n*s), with momentum also read and write the buffer (5*n*s). A step over a model's small tensors is
bound by launches, not bytes: the eager loop issues several kernels per tensor, foreach one per group of tensors,
the Triton rung one in all.
"""

from __future__ import annotations

from kernels.dtypes import BF16, FP32
from kernels.registry import register_spec
from kernels.spec import Case, Inputs, OpSpec
from kernels.step import (
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
    momentum_buffers,
    lr=1e-3,
    momentum=0.0,
    dampening=0.0,
    nesterov=False,
    weight_decay=0.0,
    maximize=False,
    op="sgd_step",
) -> None:
    """torch.optim.SGD's checks, and the lists', naming the problem."""
    check_param_lists(op, params, grads, ("momentum_buffers", momentum_buffers))
    for name, value in (("lr", lr), ("momentum", momentum), ("dampening", dampening), ("weight_decay", weight_decay)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{op}: {name} must be a number >= 0, got {value!r}")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(f"{op}: nesterov momentum needs momentum > 0 and dampening 0, got {momentum}, {dampening}")


def case(name: str, model: str, dtype, **hp) -> Case:
    return Case(name, shape_of(model), dtype, params=(("model", model), *hp.items()), grad=False)


class SGDStepSpec(OpSpec):
    op = "sgd_step"
    dtypes = (FP32, BF16)
    modes = ("forward",)  # a step has no backward; its one mode is the update
    in_place = True
    batch_sizes = {"quick": (1,), "full": (1,)}  # parameter lists have no batch: one size per model
    # the quick profile: an MLP's and the digits CNN's lists; ResNet-18's 62 tensors (11.2M) in the full one
    models = {"quick": ("mlp", "cnn"), "full": ("softmax", "mlp", "deep", "cnn", "resnet18")}
    work_model = "flops 2-9 per element (momentum, nesterov, weight decay); bytes: p, g read, p written (+ buffer)"
    smoke_case = "momentum"

    def test_cases(self) -> list[Case]:
        cases = []
        for dtype in self.dtypes:
            lr = 0.1 if dtype == FP32 else 0.5  # bf16: a change large enough to see past p's own rounding
            cases += [
                case("plain", "mlp", dtype, lr=lr),
                case("momentum", "mlp", dtype, lr=lr, momentum=0.9),
            ]
        cases += [
            case("line", "line", FP32, lr=0.1),
            case("nesterov", "mlp", FP32, lr=0.1, momentum=0.9, nesterov=True),
            case("dampening", "mlp", FP32, lr=0.1, momentum=0.5, dampening=0.3),
            case("weight_decay", "deep", FP32, lr=0.05, momentum=0.9, weight_decay=0.01),
            case("maximize", "softmax", FP32, lr=0.1, momentum=0.9, maximize=True),
            case("odd", "odd", FP32, lr=0.1, momentum=0.9),
            case("many", "many", FP32, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
            case("with_empty", "with_empty", FP32, lr=0.1, momentum=0.9),
            case("none", "none", FP32, lr=0.1, momentum=0.9),
            case("lr0", "mlp", FP32, lr=0.0, momentum=0.9),
        ]
        return cases

    def bench_shapes(self, profile: str, batch: int, device: str) -> list[tuple[int, ...]]:
        return [shape_of(m) for m in self.models[profile]]

    def bench_params(self, shape: tuple[int, ...]) -> list[tuple[tuple[str, object], ...]]:
        model = next(m for m in self.models["full"] if shape_of(m) == shape)
        # the labs' plain step (2.x to 4.x) and 5.4's momentum
        return [(("model", model), ("lr", 0.01)), (("model", model), ("lr", 0.01), ("momentum", 0.9))]

    def make_inputs(self, case: Case, device: str, seed: int) -> Inputs:
        params = make_params(case, device, seed)
        hp = hyperparameters(case)
        return Inputs((params, make_grads(case, device, seed), *self.initial_state(params, **hp)), hp)

    def initial_state(self, params, **hp) -> list[list]:
        """The optimizer's state before its first step: no momentum buffers yet."""
        return [[None] * len(params)]

    def compare(self, fn, case: Case, device: str, seed: int, **options):
        return compare_steps(fn, self, case, device, seed, **options)

    def flops(self, case: Case, mode: str) -> float:
        hp = hyperparameters(case)
        per = 2 + 2 * bool(hp.get("weight_decay")) + 3 * bool(hp.get("momentum")) + 2 * bool(hp.get("nesterov"))
        return per * case.shape[1]

    def bytes(self, case: Case, mode: str) -> float:
        return (5 if hyperparameters(case).get("momentum") else 3) * case.shape[1] * case.dtype.itemsize

    def tolerance(self, case: Case, mode: str) -> float:
        return step_tolerance(case.dtype) * (4 if mode == "state" else 1)

    def batch_of(self, shape: tuple[int, ...]) -> int:
        return 1


SPEC = SGDStepSpec()
register_spec(SPEC)
