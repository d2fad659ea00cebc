"""The oracle shares no code with what it judges: kernels/reference.py imports nothing of the project, and a
helper that the variants share, broken, fails the variants that use it instead of moving the reference with them."""

import ast
import sys
from pathlib import Path

import pytest
import torch

import kernels.reference
from kernels import registry
from kernels.batchnorm import spec as batchnorm_spec
from kernels.conv2d import spec as conv2d_spec
from kernels.matmul import spec as matmul_spec


def test_the_oracle_imports_torch_only():
    tree = ast.parse(Path(kernels.reference.__file__).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__", "torch", "torch.nn.functional"}, imported


@pytest.mark.parametrize("op", registry.ops())
def test_every_op_is_judged_by_the_oracle_not_by_a_variant(op):
    ref = registry.spec(op).reference_fn()
    assert ref.__module__ == "kernels.reference"
    assert all(ref is not v.fn for v in registry.variants(op))


def _broken(helper):
    """Each shared helper with one term dropped: the bias, the block's batch norm, the activation."""
    if helper is matmul_spec.epilogue:
        return lambda c, bias, activation: helper(c, None, activation)
    if helper is conv2d_spec.block_epilogue:
        return lambda y, bn, bn_eps, activation: helper(y, None, bn_eps, activation)
    return lambda y, activation: y


SHARED = [  # (op, helper the eager variant and others call, a test case that exercises it)
    ("matmul", matmul_spec.epilogue, "bias_relu"),
    ("conv2d", conv2d_spec.block_epilogue, "bn_relu"),
    ("batchnorm", batchnorm_spec.apply_activation, "fused_relu"),
]


@pytest.mark.parametrize("op, helper, case_name", SHARED, ids=[s[0] for s in SHARED])
def test_a_broken_shared_helper_fails_the_eager_baseline(op, helper, case_name, device, seed, monkeypatch):
    broken = _broken(helper)
    for module in [m for name, m in sys.modules.items() if name.startswith("kernels.") and m is not None]:
        for attr, value in list(vars(module).items()):
            if value is helper:
                monkeypatch.setattr(module, attr, broken)
    spec = registry.spec(op)
    case = next(c for c in spec.test_cases() if c.name == case_name and c.dtype == torch.float32)
    results = spec.compare(registry.baseline(op).fn, case, device, seed, grads=False)
    assert not results[0].ok, f"a broken {helper.__name__} still passes: the reference moved with it"


def test_the_oracle_s_activations_keep_their_values_and_gradients_where_they_saturate():
    """Found by the long layout fuzz: a sigmoid written as 1 / (1 + exp(-z)) is right forward at z = -1000 but its
    gradient is inf / inf = NaN there, and every rung's correct 0 was judged wrong against it."""
    from kernels.reference import ACTIVATIONS

    z = torch.tensor([-1e4, -1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0, 1e4], dtype=torch.float64)
    for name, torch_fn in (("sigmoid", torch.sigmoid), ("tanh", torch.tanh)):
        mine, theirs = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
        out, want = ACTIVATIONS[name](mine), torch_fn(theirs)
        torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-20)  # exact but for the last bits of exp
        (g,), (w,) = torch.autograd.grad(out.sum(), mine), torch.autograd.grad(want.sum(), theirs)
        assert torch.isfinite(g).all(), name
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-20, msg=name)
