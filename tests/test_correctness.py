"""Every variant of every op, on every test case, against the float64 eager op on the CPU: outputs and gradients.

The cases come from each op's spec (kernels/<op>/spec.py): irregular sizes, non-contiguous inputs and the op's
numerical edge cases. Triton variants run on the CPU through the Triton interpreter.
"""

import pytest
import torch

from kernels import registry
from kernels.check import Comparison
from kernels.torch_ops import AtenRecorder, undeclared_ops
from tests.conftest import CorrectnessCase


def test_variant_matches_float64(correctness_case, seed):
    """Outputs and gradients against float64; a Triton rung also runs no PyTorch compute it does not declare."""
    c = correctness_case
    v = registry.get(c.op, c.variant)
    reason = v.skip_reason(c.device) or v.unsupported_reason(c.case, c.device)
    if reason:
        pytest.skip(reason)
    spec = registry.spec(c.op)
    inputs = spec.make_inputs(c.case, c.device, seed)
    wrong = v.known_wrong(inputs.args, inputs.kwargs)
    if wrong:
        pytest.skip(f"{c.op}/{c.variant} declares it: {wrong}")
    recorder = AtenRecorder()
    results = spec.compare(
        v.fn,
        c.case,
        c.device,
        seed,
        inputs=inputs,
        grads=c.case.grad and v.differentiable,
        watch=recorder if v.rung >= registry.RUNGS["triton"] else None,
        keep_inputs=not v.overwrites_inputs,
    )
    bad = [str(r) for r in results if not r.ok]
    assert not bad, f"{c.id} (seed {seed}): " + "; ".join(bad)
    extra = undeclared_ops(v, recorder)
    assert not extra, f"{c.op}/{c.variant} runs PyTorch operators it does not declare in torch_ops: {extra}"


@pytest.mark.parametrize("op", registry.ops())
@pytest.mark.parametrize("wrong", ["zeros", "constant", "rescaled", "zero_grad"])
def test_check_rejects_wrong_outputs(op, wrong, device, seed):
    """The check itself must fail a variant that returns zeros, a constant, a plausible-looking wrong answer, or
    the right output with a zero gradient."""
    spec = registry.spec(op)
    eager = registry.baseline(op).fn
    if spec.in_place:
        if wrong == "zero_grad":
            pytest.skip(f"{op} updates its arguments in place and has no gradient")
        return check_rejects_wrong_updates(spec, eager, wrong, device, seed)

    def fake(*args, **kwargs):
        if wrong == "zero_grad":  # right values, but the inputs reach the output only through 0 * x
            detached = [a.detach() if isinstance(a, torch.Tensor) else a for a in args]
            out = eager(*detached, **kwargs)
            return out + sum(0 * a.sum() for a in args if isinstance(a, torch.Tensor) and a.requires_grad)
        out = eager(*args, **kwargs)
        if wrong == "zeros":
            return torch.zeros_like(out)
        if wrong == "constant":
            return torch.full_like(out, out.float().mean().item())
        # right shape, sign and pattern, 25% too large (a lost normalization): a fixed factor, so that no seed can
        # make it right by chance (a scale by 1/sum passed once in eight seeds on a bf16 matmul)
        return out * 1.25

    checked = 0
    for case in (c for c in spec.test_cases() if c.fill == "randn"):  # edge fills can make zero the right answer
        inputs = spec.make_inputs(case, device, seed)
        right = eager(*inputs.args, **inputs.kwargs)
        if right.numel() == 0 or not torch.isfinite(right).all() or (right == right.flatten()[0]).all():
            continue  # a constant right answer (softmax of width 1 is all ones) is no test of a constant fake
        results = spec.compare(fake, case, device, seed, grads=wrong == "zero_grad")
        judged = [r for r in results if r.what.startswith("grad" if wrong == "zero_grad" else "output")]
        assert not all(r.ok for r in judged), f"{wrong} passed the check on {case.id}: {judged}"
        checked += 1
    assert checked >= 3, f"only {checked} cases of {op} could test the check"


def check_rejects_wrong_updates(spec, eager, wrong: str, device: str, seed: int) -> None:
    """For an op that updates its parameter list in place (an optimizer step): the right update, then the
    parameters zeroed, made constant, or moved 25% too far (a learning rate off by a quarter)."""

    def fake(params, *args, **kwargs):
        before = [p.clone() for p in params]
        eager(params, *args, **kwargs)
        for p, b in zip(params, before, strict=True):
            if wrong == "zeros":
                p.zero_()
            elif wrong == "constant":
                p.fill_(p.float().mean().item() if p.numel() else 0.0)
            else:
                p.copy_(b + 1.25 * (p - b))

    checked = 0
    # shape: (tensors, elements) of the parameter list (kernels/step.py); one-element tensors are their own mean
    for case in (c for c in spec.test_cases() if c.fill == "randn" and c.shape[1] > c.shape[0]):
        if dict(case.params).get("lr") == 0:
            continue  # no update: a wrong one cannot show
        results = spec.compare(fake, case, device, seed)
        judged = [r for r in results if r.what.startswith("output")]
        assert not all(r.ok for r in judged), f"{wrong} passed the check on {case.id}: {judged}"
        checked += 1
    assert checked >= 3, f"only {checked} cases of {spec.op} could test the check"


def test_an_op_judges_its_variants_with_its_own_compare(monkeypatch, seed):
    """A stochastic op overrides OpSpec.compare with property checks: the correctness test asks the spec, so what
    the spec's compare says is the verdict (here: a failing property, then a passing one)."""
    spec = registry.spec("softmax")
    case = next(c for c in spec.test_cases() if c.dtype == torch.float32)
    asked = []

    def properties(fn, case, device, seed, **options):
        asked.append((case.name, device))
        return [Comparison("p=1 gives zeros", error=verdict[0], tolerance=0.0)]

    monkeypatch.setattr(spec, "compare", properties)
    verdict = [1.0]
    with pytest.raises(AssertionError, match="p=1 gives zeros: error 1"):
        test_variant_matches_float64(CorrectnessCase("softmax", "eager", "cpu", case), seed)
    verdict[0] = 0.0
    test_variant_matches_float64(CorrectnessCase("softmax", "eager", "cpu", case), seed)
    assert asked == [(case.name, "cpu")] * 2


@pytest.mark.parametrize("op", ["softmax", "cross_entropy", "batchnorm"])
def test_check_rejects_a_variant_that_writes_into_its_input(op, seed):
    """The right answer, with the caller's first argument overwritten (as a library that keeps a gradient in its
    input's memory does): failed unless the variant declares it (Variant.overwrites_inputs)."""
    spec, eager = registry.spec(op), registry.baseline(op).fn

    def scribbles(*args, **kwargs):
        out = eager(*args, **kwargs)
        with torch.no_grad():
            args[0].mul_(0.5)
        return out

    case = next(c for c in spec.test_cases() if c.fill == "randn" and c.dtype == torch.float32)
    results = spec.compare(scribbles, case, "cpu", seed, grads=False)
    assert [str(r) for r in results if not r.ok] == ["inputs unchanged (argument 0 overwritten): error 1 (tolerance 0)"]
    assert all(r.ok for r in spec.compare(scribbles, case, "cpu", seed, grads=False, keep_inputs=False))
