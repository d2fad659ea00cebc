"""Drop-in signatures: every variant takes PyTorch's own sample inputs for its torch counterpart (the OpInfo
samples of torch.testing) and gives torch's float64 answer, outputs (the pool's indices too) and input gradients,
in float32 and, where the rung computes in it, float64. A variant refuses only what it cannot do by design, each
refusal listed below with its reason."""

import re

import pytest
import torch

from kernels import registry
from kernels.check import rel_error
from kernels.opinfo import OPINFO, load
from kernels.opinfo import samples as opinfo_samples
from kernels.spec import RTOL

pytest.importorskip("expecttest", reason="torch's OpInfo samples need expecttest")

BY_DESIGN = {  # error message -> why the rung refuses it
    r"Triton kernels take float32, float16 or bfloat16, got torch.float64": "Triton rungs compute in fp32 inside",
    r"x must be \[N, C, \.\.\.\] with at least 2 dimensions, got \(0,\)": "a 1-D batch norm has no channel dim "
    "(torch accepts only an empty one)",
    r"return_indices with activation='relu' is not supported": "the fused relu keeps no position for zeroed outputs",
    r"class-probability targets \(a float target\) are not supported": "cross-entropy's ladder takes class indices",
}
# A random op's answer is not torch's: its samples are judged by the rule its own check uses (dropout: survivors
# x / (1 - p), the others 0, the gradient dy / (1 - p) where the output kept x), with torch's output's shape and dtype.
RANDOM = {"dropout"}
# samples a rung gets wrong for a reason its registration states (unsupported): the lesson's formula at p = 1
KNOWN = {("dropout", "lesson"): lambda kwargs: kwargs.get("p", 0.5) == 1 and kwargs.get("training", True)}
MAX_SAMPLES = {"compiled": 2}  # torch.compile compiles each sample's shapes (seconds each): the first few
SAMPLE_STRIDE = {"max_pool2d": 40}  # 1,440 samples, a grid of the same few arguments: every 40th


def samples(op: str, dtype: torch.dtype, name: str):
    """torch's op and its samples (fresh leaves each call: a test differentiates them)."""
    torch_op, found = opinfo_samples(op, dtype, SAMPLE_STRIDE.get(op, 1))
    return torch_op, found[: MAX_SAMPLES.get(name, len(found))]


def tensors(out) -> list[torch.Tensor]:
    return list(out) if isinstance(out, tuple) else [out]


def refused_by_design(error: Exception) -> bool:
    return any(re.search(pattern, str(error)) for pattern in BY_DESIGN)


VARIANTS = [(op, v.name) for op in OPINFO for v in registry.variants(op)]
# optimizer steps: torch's own OptimizerInfo inputs (the hyperparameter sets torch tests its optimizers with)
OPTIMINFO = {"sgd_step": "SGD", "adam_step": "Adam"}
OPTIM_VARIANTS = [(op, v.name) for op in OPTIMINFO for v in registry.variants(op)]
# hyperparameters a step's rungs refuse by design, each with its reason
OPTIM_BY_DESIGN = {"tensor lr": "a step's rungs take the learning rate as a Python number, not a tensor"}


def test_importing_torchs_test_utilities_leaves_the_backend_flags_settable():
    load()
    assert not torch.backends.flags_frozen(), "every later TF32 setting of this session would raise"


# ops torch has no OpInfo for, each with why and where its parts' samples are checked
NO_OPINFO = {
    "linear_cross_entropy": "a composition of F.linear and F.cross_entropy: torch tests each part apart (matmul's "
    "and cross_entropy's samples here)"
}


def test_every_op_has_its_opinfo():
    assert sorted([*OPINFO, *OPTIMINFO, *NO_OPINFO]) == sorted(registry.ops())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("op, name", VARIANTS, ids=[f"{op}-{name}" for op, name in VARIANTS])
def test_variant_takes_torchs_own_sample_inputs(op, name, dtype, device):
    v = registry.get(op, name)
    if v.skip_reason(device):
        pytest.skip(v.skip_reason(device))
    torch_op, found = samples(op, dtype, name)
    checked = 0
    for s in found:
        args = [a.to(device) if isinstance(a, torch.Tensor) else a for a in (s.input, *s.args)]
        kwargs = {k: a.to(device) if isinstance(a, torch.Tensor) else a for k, a in s.kwargs.items()}
        leaves = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
        where = f"{op}/{name} on {s.summary() if hasattr(s, 'summary') else s}"
        if v.known_wrong(args, kwargs):  # a peer's declared defect (kernels/registry.py wrong_on)
            continue
        # the reference's inputs are copied before the call: a variant that writes into its input must not move them
        ref_args = [
            a.detach().double().cpu().clone().requires_grad_(a.requires_grad)
            if isinstance(a, torch.Tensor) and a.is_floating_point()
            else a
            for a in (s.input, *s.args)
        ]
        try:
            out = v.fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 (the message is the test)
            assert refused_by_design(e), f"{where}: refused with {type(e).__name__}: {e}"
            continue
        if op in RANDOM:
            if KNOWN.get((op, name), lambda kwargs: False)(kwargs):
                continue
            judge_random_sample(where, out, args[0], kwargs, leaves, dtype)
            checked += 1
            continue
        ref = torch_op(*ref_args, **{k: a.double() if isinstance(a, torch.Tensor) else a for k, a in s.kwargs.items()})
        got, want = tensors(out), tensors(ref)
        assert len(got) == len(want), f"{where}: {len(got)} outputs, torch gives {len(want)}"
        for g, w in zip(got, want, strict=True):
            assert g.shape == w.shape and g.dtype == (dtype if w.is_floating_point() else w.dtype), where
            if w.is_floating_point():
                assert rel_error(g, w) <= 10 * RTOL[torch.float32], f"{where}: {rel_error(g, w):.3g} from torch's"
            else:
                assert torch.equal(g.cpu(), w), f"{where}: indices differ from torch's"
        ref_leaves = [a for a in ref_args if isinstance(a, torch.Tensor) and a.requires_grad]
        if v.differentiable and leaves and got[0].numel() and got[0].requires_grad:
            dy = torch.randn(want[0].shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
            mine = torch.autograd.grad(got[0], leaves, dy.to(got[0]), allow_unused=True)
            theirs = torch.autograd.grad(want[0], ref_leaves, dy, allow_unused=True)
            for i, (g, w) in enumerate(zip(mine, theirs, strict=True)):
                if w is not None:  # measured against dy's size where the gradient cancels to ~0 (a 0-d softmax's)
                    error = rel_error(g, w, floor=dy.norm().item())
                    assert g is not None and error <= 100 * RTOL[torch.float32], f"{where}: gradient {i}: {error:.3g}"
        checked += 1
    if not checked:
        pytest.skip(f"{op}/{name} refuses every {dtype} sample by design: {', '.join(BY_DESIGN.values())}")


def judge_random_sample(where: str, out, x: torch.Tensor, kwargs: dict, leaves, dtype) -> None:
    """A dropout variant on one of torch's samples: torch's shape and dtype, survivors scaled by 1 / (1 - p), the
    others 0, and a gradient of dy / (1 - p) exactly where the output kept x."""
    from kernels.dropout.properties import drop_rate, survivor_error

    assert out.shape == x.shape and out.dtype == dtype, where
    before = x.detach().double().cpu()
    assert survivor_error(before, out, kwargs) <= 10 * RTOL[torch.float32], f"{where}: survivors not x / (1 - p)"
    if not (leaves and out.requires_grad):
        return
    dy = torch.randn(out.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    (dx,) = torch.autograd.grad(out, leaves, dy.to(out))
    rate = drop_rate(kwargs)
    scale = 0.0 if rate == 1 else 1 / (1 - rate)
    want = torch.where(out.detach().cpu() != 0, dy * scale, 0.0)
    decided = before != 0  # an x of 0 gives 0 kept or dropped: its mask is not known from the output
    error = rel_error(dx.cpu()[decided], want[decided], floor=dy.norm().item())
    assert error <= 10 * RTOL[torch.float32], f"{where}: the gradient's mask is not the output's"


@pytest.mark.parametrize("op, name", OPTIM_VARIANTS, ids=[f"{op}-{name}" for op, name in OPTIM_VARIANTS])
def test_step_takes_torchs_own_optimizer_inputs(op, name, device):
    """Each of torch's OptimizerInfo hyperparameter sets for the op's optimizer: three steps of the variant on fp32
    parameters against torch.optim's own optimizer stepping float64 copies with the same gradients."""
    v = registry.get(op, name)
    if v.skip_reason(device):
        pytest.skip(v.skip_reason(device))
    common = pytest.importorskip("torch.testing._internal.common_optimizers", reason="needs torch's test utilities")
    info = next(o for o in common.optim_db if o.optim_cls.__name__ == OPTIMINFO[op])
    g = torch.Generator().manual_seed(0)
    checked = 0
    for sample in info.optim_inputs_func(device="cpu"):
        if sample.desc in OPTIM_BY_DESIGN:
            continue
        params = [torch.randn(n, generator=g) for n in (7, 300, 1)]
        theirs = [p.double().requires_grad_(True) for p in params]
        optimizer = info.optim_cls(theirs, **sample.kwargs)
        mine = [p.to(device) for p in params]
        state = registry.spec(op).initial_state(mine, **sample.kwargs)
        for _ in range(3):
            grads = [torch.randn(p.shape, generator=g) for p in params]
            for t, grad in zip(theirs, grads, strict=True):
                t.grad = grad.double()
            optimizer.step()
            v.fn(mine, [grad.to(device) for grad in grads], *state, **sample.kwargs)
        got, want = torch.cat([p.cpu().double() for p in mine]), torch.cat([t.detach() for t in theirs])
        start = torch.cat([p.double() for p in params])
        error = rel_error(got - start, want - start, floor=start.norm().item() * 1e-3)
        assert error <= 100 * RTOL[torch.float32], f"{op}/{name} on {sample.desc} {sample.kwargs}: {error:.3g}"
        checked += 1
    assert checked >= 4, f"{checked} of torch's hyperparameter sets checked"
