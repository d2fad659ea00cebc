"""The peer libraries on the ladders (kernels/peers/): the door they come through (the `dnnbench.variants` entry
points, open to any installed package), what each wrapper declares being true of the library itself, and the
FlagGems glue, checked on the CPU against a torch-backed stand-in for the library (FlagGems runs on a GPU only).

The peers face the suite's other checks (correctness, layout fuzz, OpInfo samples, the torch-op guard) through the
registry, like every variant; this file shows that what they declare as wrong is wrong, with the library called
directly, so that a declaration goes once the library fixes it.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from kernels import registry
from kernels.peers import flaggems, liger
from kernels.peers.library import Library


def test_the_peers_come_through_the_entry_point_door():
    """In a fresh interpreter, which imports nothing of kernels/peers/ itself: the registry loads them."""
    modules = registry.plugin_modules()
    assert modules["liger"] == "kernels.peers.liger" and modules["flaggems"] == "kernels.peers.flaggems"
    code = (
        "from kernels import registry; "
        "print(registry.plugin_errors()); "
        "print(sorted((op, v.name, v.devices) for op in registry.ops() for v in registry.variants(op) if v.peer))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    errors, peers = out.stdout.strip().splitlines()
    assert errors == "{}"
    peers = eval(peers)  # noqa: S307 - our own repr of tuples of strings
    assert {op for op, name, _ in peers if name == "liger"} == {"softmax", "cross_entropy", "linear_cross_entropy"}
    assert {op for op, name, _ in peers if name == "flaggems"} == {
        "softmax",
        "matmul",
        "batchnorm",
        "conv2d",
        "max_pool2d",
        "dropout",
        "cross_entropy",
    }
    assert {devices for _, name, devices in peers if name == "flaggems"} == {("cuda",)}


def test_an_installed_package_puts_its_kernel_on_a_ladder_and_a_broken_one_is_reported(tmp_path):
    """Another library joins without editing the tree: its distribution names a module in the entry-point group."""
    pkg = tmp_path / "mykernels"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "dnnbench.py").write_text(
        textwrap.dedent('''
        import torch
        from kernels.registry import variant

        @variant("softmax", "mykernels", rung="triton", library="mykernels 0.1")
        def mykernels_softmax(x, dim=-1):
            """Someone's softmax."""
            return torch.softmax(x, dim)
        ''')
    )
    info = tmp_path / "mykernels-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mykernels\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[dnnbench.variants]\nmykernels = mykernels.dnnbench\nbroken = mykernels.missing_module\n"
    )
    code = (
        "from kernels import registry; v = registry.get('softmax', 'mykernels'); "
        "print(v.rung, v.library, v.peer); print(registry.plugin_errors()['broken'])"
    )
    env = {"PYTHONPATH": f"{tmp_path}:{registry._PYPROJECT.parent}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    first, second = out.strip().splitlines()
    assert first == "3 mykernels 0.1 True"
    assert "mykernels.missing_module: ModuleNotFoundError" in second


def test_a_missing_or_other_version_of_a_library_is_a_skip_that_says_how_to_install_it(monkeypatch):
    assert "is not installed: pip install -e '.[peers]'" in Library("no-such-dist", "no_such_dist", "1.0").missing()
    monkeypatch.setattr(importlib.metadata, "version", lambda dist: "9.9")
    other = Library("liger-kernel-test", "liger_kernel", "0.8.5").missing()
    assert other == "liger-kernel-test 9.9 is installed; its wrappers are written for 0.8.5: " + (
        "pip install -e '.[peers]' (make bench PEERS=1)"
    )


def test_the_pins_are_the_peers_extra_s():
    import tomllib

    extra = tomllib.loads(registry._PYPROJECT.read_text())["project"]["optional-dependencies"]["peers"]
    assert sorted(extra) == sorted(f"{lib.dist}=={lib.pin}" for lib in (liger.LIGER, flaggems.FLAGGEMS))


def test_a_library_that_fails_to_import_is_a_skip_with_its_error(monkeypatch):
    """FlagGems raises RuntimeError (not ImportError) where it finds no GPU: any exception is the reason."""
    monkeypatch.setattr(importlib.metadata, "version", lambda dist: "1.0")
    boom = tmp_module(monkeypatch, "peer_that_raises", "raise RuntimeError('No device were detected')")
    reason = Library("peer-that-raises", boom, "1.0").missing()
    assert reason == "peer-that-raises 1.0 does not import here: RuntimeError: No device were detected"
    with pytest.raises(RuntimeError, match="does not import here"):
        Library("peer-that-raises", boom, "1.0").load()


def tmp_module(monkeypatch, name: str, body: str) -> str:
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp())
    (folder / f"{name}.py").write_text(body + "\n")
    monkeypatch.syspath_prepend(str(folder))
    return name


# ---- what Liger declares wrong, shown with Liger called directly ----


def liger_functional():
    reason = liger.LIGER.missing()
    if reason:
        pytest.skip(reason)
    from kernels.triton_support import INTERPRET

    if not INTERPRET and not torch.cuda.is_available():
        pytest.skip("Triton runs on the CPU only through its interpreter (set TRITON_INTERPRET=1 first)")
    from liger_kernel.transformers import functional

    return functional


DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.interpreted
def test_liger_cross_entropy_overwrites_the_caller_s_logits_with_their_gradient():
    f = liger_functional()
    x = torch.randn(6, 5, device=DEVICE, requires_grad=True)
    before = x.detach().clone()
    target = torch.randint(0, 5, (6,), device=DEVICE)
    f.liger_cross_entropy(x, target)
    leaf = before.clone().requires_grad_()
    (grad,) = torch.autograd.grad(F.cross_entropy(leaf, target), [leaf])
    assert not torch.equal(x.detach(), before), "Liger left the logits alone: drop CE_OVERWRITES"
    torch.testing.assert_close(x.detach(), grad)  # the logits now hold dL/dx
    assert registry.get("cross_entropy", "liger").overwrites_inputs == liger.CE_OVERWRITES


@pytest.mark.interpreted
def test_liger_cross_entropy_gives_a_wrong_gradient_for_logits_strided_in_the_class_dim():
    f = liger_functional()
    base = torch.randn(6, 5, device=DEVICE)
    target = torch.randint(0, 5, (6,), device=DEVICE)
    leaf = base.clone().requires_grad_()
    (want,) = torch.autograd.grad(F.cross_entropy(leaf, target), [leaf])
    x = base.t().contiguous().t().requires_grad_()  # the same values, the class dim strided
    (got,) = torch.autograd.grad(f.liger_cross_entropy(x, target), [x])
    assert (got - want).abs().max() > 0.1, "Liger's gradient is right on strided logits: drop CLASS_STRIDED"
    v = registry.get("cross_entropy", "liger")
    assert v.known_wrong((x, target), {}) == liger.CLASS_STRIDED
    assert v.known_wrong((base, target), {}) is None  # contiguous logits are checked


@pytest.mark.interpreted
def test_liger_gives_0_where_torch_gives_nan_for_a_mean_over_no_targets():
    f = liger_functional()
    x = torch.randn(4, 5, device=DEVICE)
    ignored = torch.full((4,), -100, device=DEVICE)
    assert F.cross_entropy(x, ignored).isnan()
    assert f.liger_cross_entropy(x.clone(), ignored).item() == 0.0, "Liger gives NaN now: drop ALL_IGNORED"
    h, w = torch.randn(4, 3, device=DEVICE), torch.randn(5, 3, device=DEVICE)
    assert F.cross_entropy(F.linear(h, w), ignored).isnan()
    assert f.liger_fused_linear_cross_entropy(h, w, ignored).item() == 0.0
    assert registry.get("cross_entropy", "liger").known_wrong((x, ignored), {}) == liger.ALL_IGNORED
    assert registry.get("cross_entropy", "liger").known_wrong((x, ignored), {"reduction": "sum"}) is None


@pytest.mark.interpreted
def test_liger_softmax_raises_on_an_empty_input():
    f = liger_functional()
    with pytest.raises(RuntimeError, match="0 elements"):
        f.liger_softmax(torch.empty(5, 0, 0, device=DEVICE))
    assert torch.softmax(torch.empty(5, 0, 0), -1).shape == (5, 0, 0)


# ---- the FlagGems glue, against a stand-in that does what FlagGems' functions do, with aten's kernels ----


def torch_flaggems() -> SimpleNamespace:
    """FlagGems' functions (their names, argument orders and returns, flag_gems/ops and flag_gems/fused) served by
    the aten kernels they replace."""
    aten = torch.ops.aten

    def pair(v):
        return list(v) if isinstance(v, (tuple, list)) else [v, v]

    ops = SimpleNamespace(
        softmax=lambda x, dim, half_to_float=False: aten._softmax(x, dim, half_to_float),
        softmax_backward=lambda dy, y, dim, dtype: aten._softmax_backward_data(dy, y, dim, dtype),
        mm=torch.mm,
        bmm=torch.bmm,
        batch_norm=lambda x, w, b, rm, rv, training, momentum, eps: aten.native_batch_norm(
            x, w, b, rm, rv, training, momentum, eps
        ),
        batch_norm_backward=lambda dy, x, w, rm, rv, sm, si, train, eps, mask: aten.native_batch_norm_backward(
            dy, x, w, rm, rv, sm, si, train, eps, mask
        ),
        conv2d=F.conv2d,
        max_pool2d_with_indices=lambda x, k, s, p, d, ceil: aten.max_pool2d_with_indices(
            x, pair(k), pair(s), pair(p), pair(d), ceil
        ),
        max_pool2d_backward=lambda dy, x, idx, k, s, p, d, ceil: aten.max_pool2d_with_indices_backward(
            dy, x, pair(k), pair(s), pair(p), pair(d), ceil, idx
        ),
        dropout=lambda x, p, train: aten.native_dropout(x, p, train),
        dropout_backward=lambda dy, mask, scale: aten.native_dropout_backward(dy, mask, scale),
    )
    fused = SimpleNamespace(
        cross_entropy_loss=lambda x, t, w, reduction, ignore_index, smoothing: F.cross_entropy(
            x, t, w, ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing
        )
    )
    return SimpleNamespace(ops=ops, fused=fused)


FLAGGEMS_OPS = [op for op in registry.ops() if "flaggems" in [v.name for v in registry.variants(op)]]


@pytest.mark.parametrize("op", FLAGGEMS_OPS)
def test_the_flaggems_glue_pairs_each_forward_with_its_backward(op, monkeypatch, seed):
    """Every case each FlagGems variant accepts, forward and gradients, through the wrapper's autograd Functions
    and argument orders, against float64 (the library's own kernels are checked on a GPU by make gpu-check)."""
    monkeypatch.setattr(flaggems, "_gems", torch_flaggems)
    v, spec = registry.get(op, "flaggems"), registry.spec(op)
    checked = 0
    for case in spec.test_cases():
        if v.unsupported_reason(case, "cuda") or registry.baseline(op).unsupported_reason(case, "cpu"):
            continue  # what FlagGems refuses; what the stand-in's torch kernels get wrong (eager's declared limits)
        results = spec.compare(v.fn, case, "cpu", seed, grads=case.grad and v.differentiable)
        bad = [str(r) for r in results if not r.ok]
        assert not bad, f"{op}/flaggems glue on {case.id}: {bad}"
        checked += 1
    assert checked >= 3, f"only {checked} cases of {op} reach the FlagGems glue"


@pytest.mark.parametrize(
    "op, kwargs, refused",
    [
        ("matmul", dict(activation="relu"), "activation"),
        ("batchnorm", dict(activation="relu"), "activation"),
        ("conv2d", dict(bn=(None,), activation="relu"), "bn and activation"),
        ("dropout", dict(inplace=True), "inplace"),
    ],
)
def test_what_flaggems_lacks_is_refused_naming_it(op, kwargs, refused, monkeypatch):
    monkeypatch.setattr(flaggems, "_gems", torch_flaggems)
    spec = registry.spec(op)
    inputs = spec.make_inputs(next(c for c in spec.test_cases() if not c.params or op == "dropout"), "cpu", 0)
    with pytest.raises(ValueError, match=f"has no fused {refused}.*unset"):
        registry.get(op, "flaggems").fn(*inputs.args, **{**inputs.kwargs, **kwargs})
