"""What the optimizer-step ops (sgd_step, adam_step) share: the parameter lists they are tested and timed on (the
lesson models'), the checks of a parameter list, and how a step is judged: several steps against float64.

An optimizer step updates lists of tensors in place (the parameters and the optimizer's state: momentum buffers,
Adam's moments), as torch.optim's functional forms do. Its case names a parameter list (`model`) and the step's
hyperparameters; its shape is (tensors, elements) of that list, so ids stay short for ResNet-18's 62 tensors.

The check runs `STEPS` steps with fresh gradients from the same seed on the variant and on the float64 reference
(kernels/reference.py), then compares the parameters' change and each state list. A step changes a parameter by
a small fraction of its size, so the parameters' error is measured against their change, not their size: storing
p in bf16 rounds it by 2**-9 of |p| at every step, and that, not the update, is what the tolerance allows for.
"""

from __future__ import annotations

import math

import torch

from kernels.check import Comparison, rel_error
from kernels.dtypes import FLOAT_DTYPES
from kernels.spec import Case, Inputs

STEPS = 3
# unit roundoff of each dtype: half the distance between 1 and the next number
UNIT = {torch.float32: 2.0**-24, torch.float16: 2.0**-11, torch.bfloat16: 2.0**-8, torch.float64: 2.0**-53}


def resnet18_sizes(classes: int = 10) -> list[int]:
    """Element counts of torchvision's resnet18 parameters in order (11.2M): conv1, bn1, four stages of two basic
    blocks (each conv 3x3 + bn, twice; the first block of stages 2-4 has a 1x1 downsample conv + bn), fc."""
    sizes = [64 * 3 * 7 * 7, 64, 64]
    c_in = 64
    for c in (64, 128, 256, 512):
        for block in range(2):
            sizes += [c * c_in * 9, c, c, c * c * 9, c, c]
            if block == 0 and c != c_in:
                sizes += [c * c_in, c, c]
            c_in = c
    return sizes + [classes * 512, classes]


# parameter lists by name: element counts per tensor
MODELS = {
    "line": [1, 1],  # 2.x: w and b
    "softmax": [640, 10],  # 4.3: Linear(64, 10)
    "mlp": [6400, 100, 1000, 10],  # 4.4: 64-100-10
    "deep": [6400, 100, 20000, 200, 20000, 100, 1000, 10],  # 5.3: 64-100-200-100-10
    "cnn": [400, 16, 12800, 32, 5120, 10],  # 6.4: the digits CNN
    "resnet18": resnet18_sizes(),  # 6.5 trained in full
    "odd": [1, 781, 4097, 33, 70001, 2],  # sizes across block and chunk edges (a chunk: 65,536)
    "many": [(37 * i) % 500 + 1 for i in range(40)],  # many small tensors: where one launch beats a loop
    "with_empty": [0, 5, 0],
    "none": [],
}


def model_of(case: Case) -> list[int]:
    return MODELS[case.kwargs["model"]]


def shape_of(model: str) -> tuple[int, int]:
    sizes = MODELS[model]
    return (len(sizes), sum(sizes))


def hyperparameters(case: Case) -> dict:
    return {k: v for k, v in case.params if k != "model"}


def make_params(case: Case, device: str, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, generator=g).to(device=device, dtype=case.dtype) for n in model_of(case)]


def make_grads(case: Case, device: str, seed: int) -> list[torch.Tensor]:
    """The gradients of one step: fresh values per seed, the parameters' shapes and dtype."""
    return make_params(case, device, seed + 1000)


def check_param_lists(op: str, params, grads, *states) -> None:
    """Each argument a list of tensors of one length; every parameter floating point, its gradient and state tensors
    of its shape, dtype and device (state entries may be None before the first step)."""
    for name, seq in (("params", params), ("grads", grads)):
        if not isinstance(seq, (list, tuple)) or not all(isinstance(t, torch.Tensor) for t in seq):
            raise TypeError(f"{op}: {name} must be a list of tensors, got {type(seq).__name__}")
    for state_name, state in states:
        if not isinstance(state, list):
            raise TypeError(f"{op}: {state_name} must be a list (updated in place), got {type(state).__name__}")
        if len(state) != len(params):
            raise ValueError(f"{op}: {len(params)} params but {len(state)} {state_name}")
    if len(grads) != len(params):
        raise ValueError(f"{op}: {len(params)} params but {len(grads)} grads")
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        if p.dtype not in FLOAT_DTYPES:
            raise TypeError(
                f"{op}: params[{i}] must be floating point (float32, float16, bfloat16, float64), got {p.dtype}"
            )
        if g.shape != p.shape or g.dtype != p.dtype or g.device != p.device:
            raise ValueError(
                f"{op}: grads[{i}] must match params[{i}] ({list(p.shape)}, {p.dtype}, {p.device}), "
                f"got {list(g.shape)}, {g.dtype}, {g.device}"
            )
        for state_name, state in states:
            s = state[i]
            if s is not None and (s.shape != p.shape or s.dtype != p.dtype or s.device != p.device):
                raise ValueError(f"{op}: {state_name}[{i}] must match params[{i}] ({list(p.shape)}, {p.dtype})")


def _cat(tensors) -> torch.Tensor:
    return torch.cat([t.detach().to("cpu", torch.float64).reshape(-1) for t in tensors]) if tensors else torch.zeros(0)


def compare_steps(fn, spec, case: Case, device: str, seed: int, inputs: Inputs | None = None, **_) -> list[Comparison]:
    """Run STEPS steps of `fn` and of the float64 reference from the same start with the same gradients; compare the
    parameters' change ("output") and each state list ("state[i]", None entries never filled counting as empty)."""
    if inputs is None:
        inputs = spec.make_inputs(case, device, seed)
    params, _, *states = inputs.args
    kwargs = inputs.kwargs
    ref_params = [p.detach().to("cpu", torch.float64).clone() for p in params]
    ref_states = [[None if s is None else s.detach().to("cpu", torch.float64).clone() for s in st] for st in states]
    start = _cat(params)
    with torch.no_grad():
        for step in range(STEPS):
            grads = make_grads(case, device, seed + step)
            ref_grads = [g.to("cpu", torch.float64) for g in grads]  # before the step: foreach may write into them
            fn(params, grads, *states, **kwargs)
            spec.reference_fn()(ref_params, ref_grads, *ref_states, **kwargs)
    got, want = _cat(params), _cat(ref_params)
    change = (want - start).norm().item()
    # the dtype's rounding of p at each step, at the size of p, measured against p's change (see the docstring)
    scale = (start.norm().item() + change) / change if change else 1.0
    tol = spec.tolerance(case, "forward") * scale
    result = [Comparison("output", rel_error(got - start, want - start), tol)]
    for i, (st, ref) in enumerate(zip(states, ref_states, strict=True)):
        filled = [(s, r) for s, r in zip(st, ref, strict=True) if r is not None]
        if len(filled) != sum(r is not None for r in ref) or any(s is None for s, _ in filled):
            result.append(Comparison(f"state[{i}]", math.inf, 0.0))
            continue
        a, b = _cat([s for s, _ in filled]), _cat([r for _, r in filled])
        result.append(Comparison(f"state[{i}]", rel_error(a, b), spec.tolerance(case, "state")))
    return result


def step_tolerance(dtype: torch.dtype) -> float:
    """A few roundings of the dtype per step, over STEPS steps."""
    return 2 * UNIT[dtype] * STEPS
