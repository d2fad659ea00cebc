"""Every autotuning configuration's tile shape, run under the interpreter: on CUDA the autotuner may pick any of
them, and a tile that mishandles its edges (BLOCK_K past K, BLOCK_M past M, a split share) must fail here, not on
a GPU. Each runs a forward and both gradients on irregular shapes smaller and larger than its tiles."""

import pytest
import torch
import torch.nn.functional as F

from kernels import registry
from kernels.triton_support import HAS_TRITON

if not HAS_TRITON:
    pytest.skip("triton is not installed", allow_module_level=True)

from kernels.conv2d import triton_implicit_gemm  # noqa: E402
from kernels.matmul import triton_tiled  # noqa: E402


def tiles(configs) -> list[dict]:
    return [dict(c.kwargs) for c in configs]


def runnable(op: str, device: str):
    v = registry.get(op, {"matmul": "triton_tiled", "conv2d": "triton_implicit_gemm"}[op])
    if v.skip_reason(device):
        pytest.skip(v.skip_reason(device))
    return v.fn


def leaves(*shapes, device, scale=1.0):
    g = torch.Generator().manual_seed(7)
    return [(scale * torch.randn(s, generator=g, dtype=torch.float64)).to(device).requires_grad_(True) for s in shapes]


def assert_matches(got, want, inputs, inputs64):
    dy = torch.randn(want.shape, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    torch.testing.assert_close(got.double().cpu(), want, rtol=1e-4, atol=1e-4)
    for a, b in zip(torch.autograd.grad(got, inputs, dy.to(got)), torch.autograd.grad(want, inputs64, dy), strict=True):
        torch.testing.assert_close(a.double().cpu(), b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cfg", tiles(triton_tiled._configs()), ids=lambda c: "x".join(map(str, c.values())))
def test_each_matmul_tile_computes_the_product_and_its_gradients(cfg, device, monkeypatch):
    fn = runnable("matmul", device)
    monkeypatch.setattr(triton_tiled, "INTERPRETER_CONFIG", cfg)
    monkeypatch.setattr(triton_tiled, "FIXED_CUDA_CONFIG", {**cfg, "num_warps": 4})
    monkeypatch.setattr(triton_tiled, "_matmul_kernel_tuned", None)
    a64, b64 = leaves((2, 70, 45), (45, 133), device="cpu", scale=0.3)  # M, N past one tile for the small tiles
    a, b = (t.detach().float().to(device).requires_grad_(True) for t in (a64, b64))
    assert_matches(fn(a, b), torch.matmul(a64, b64), (a, b), (a64, b64))


CONV_TILES = tiles(triton_implicit_gemm._configs())
WEIGHT_TILES = tiles(triton_implicit_gemm._weight_configs())


@pytest.mark.parametrize(
    "cfg, weight_cfg",
    [(c, WEIGHT_TILES[i % len(WEIGHT_TILES)]) for i, c in enumerate(CONV_TILES)]
    + [(CONV_TILES[0], w) for w in WEIGHT_TILES[len(CONV_TILES) :]],
    ids=lambda c: "x".join(map(str, c.values())),
)
def test_each_conv2d_tile_computes_the_convolution_and_its_gradients(cfg, weight_cfg, device, monkeypatch):
    fn = runnable("conv2d", device)
    monkeypatch.setattr(triton_implicit_gemm, "CONFIGS", (cfg, {**cfg, "num_warps": 4}))
    monkeypatch.setattr(triton_implicit_gemm, "weight_grad_config", lambda geo: weight_cfg)
    for name in ("_conv2d_fwd_kernel_tuned", "_conv2d_bwd_input_kernel_tuned", "_conv2d_bwd_weight_kernel_tuned"):
        monkeypatch.setattr(triton_implicit_gemm, name, None)
    x64, w64 = leaves((2, 6, 11, 9), (20, 3, 3, 3), device="cpu", scale=0.5)  # groups 2: K/g = 10, (C/g)*R*S = 27
    x, w = (t.detach().float().to(device).requires_grad_(True) for t in (x64, w64))
    got = fn(x, w, None, 1, 1, 1, 2)
    assert_matches(got, F.conv2d(x64, w64, None, 1, 1, 1, 2), (x, w), (x64, w64))


def test_every_autotuned_kernel_has_its_tiles_run_here_and_compiled_by_the_compile_check():
    """kernels.triton_support.autotuned records each kernel's configurations, which the compile check compiles; the
    tests above run those same tiles."""
    from kernels.triton_support import AUTOTUNE_CONFIGS

    conv = "kernels.conv2d.triton_implicit_gemm."
    assert set(AUTOTUNE_CONFIGS) == {
        "kernels.matmul.triton_tiled._matmul_kernel",
        conv + "_conv2d_fwd_kernel",
        conv + "_conv2d_bwd_input_kernel",
        conv + "_conv2d_bwd_weight_kernel",
    }
    assert tiles(AUTOTUNE_CONFIGS["kernels.matmul.triton_tiled._matmul_kernel"]) == tiles(triton_tiled._configs())
    assert tiles(AUTOTUNE_CONFIGS[conv + "_conv2d_fwd_kernel"]) == CONV_TILES
    assert tiles(AUTOTUNE_CONFIGS[conv + "_conv2d_bwd_weight_kernel"]) == WEIGHT_TILES


@pytest.mark.parametrize(
    "dtype, precision, kept",
    [
        (torch.float32, "ieee", 5),
        (torch.float32, "tf32", 11),
        (torch.bfloat16, "ieee", 11),
        (torch.float16, "ieee", 11),
    ],
)
def test_the_autotuner_never_tries_a_tile_that_spills_in_strict_fp32(dtype, precision, kept):
    """The pruning the autotuner applies before compiling or timing anything (triton_support.pruner over
    triton_tiled.config_fits): strict fp32 loses the six tiles that spill on sm_90; TF32, fp16 and bf16 keep all."""
    from kernels.triton_support import pruner

    configs = triton_tiled._configs()
    a = torch.empty(64, 64, dtype=dtype)
    left = pruner(triton_tiled.config_fits)(configs, {"a_ptr": a, "b_ptr": a, "M": 64}, INPUT_PRECISION=precision)
    assert len(configs) == 11 and len(left) == kept
    spilling = {(c["BLOCK_M"], c["BLOCK_N"], c["BLOCK_K"]) for c in tiles(configs)} & triton_tiled.SPILLS_IN_STRICT_FP32
    assert len(spilling) == 6, "a spilling tile named that is not a configuration"
    if kept == 5:
        assert not {(c["BLOCK_M"], c["BLOCK_N"], c["BLOCK_K"]) for c in tiles(left)} & spilling


@pytest.mark.parametrize(
    "kernel, operand, configs, kept",
    [
        ("fwd", "x_ptr", "_configs", {("*fp32", "ieee"): 7, ("*fp32", "tf32"): 8, ("*bf16", "ieee"): 8}),
        ("bwd_input", "dy_ptr", "_configs", {("*fp32", "ieee"): 6, ("*fp32", "tf32"): 8, ("*fp16", "ieee"): 8}),
        ("bwd_weight", "x_ptr", "_weight_configs", {("*fp32", "ieee"): 4, ("*fp32", "tf32"): 5, ("*bf16", "tf32"): 6}),
    ],
)
def test_the_convolutions_spilling_tiles_are_pruned_per_kernel_and_precision(kernel, operand, configs, kept):
    from kernels.triton_support import AUTOTUNE_FITS

    fits = AUTOTUNE_FITS[f"kernels.conv2d.triton_implicit_gemm._conv2d_{kernel}_kernel"]
    spills = getattr(triton_implicit_gemm, f"SPILLS_{kernel.upper()}")
    tiles_of = {
        (c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"], c.kwargs["BLOCK_K"])
        for c in getattr(triton_implicit_gemm, configs)()
    }
    assert set().union(*spills.values()) <= tiles_of, "a spilling tile named that is not a configuration"
    for (pointer, precision), n in kept.items():
        launch = {operand: pointer, "INPUT_PRECISION": precision}
        assert sum(fits(c, launch) for c in getattr(triton_implicit_gemm, configs)()) == n, (pointer, precision)


def test_the_compile_check_compiles_the_configurations_the_autotuner_would_try():
    from dnnbench.triton_compile import expand

    signature = {"a_ptr": "*fp32", "b_ptr": "*fp32", "c_ptr": "*fp32", "bias_ptr": "*fp32", "M": "i32"}
    for precision, count in (("ieee", 5), ("tf32", 11)):
        entry = {
            "module": "kernels.matmul.triton_tiled",
            "kernel": "_matmul_kernel",
            "signature": signature,
            "constexprs": {"INPUT_PRECISION": precision, "ACTIVATION": "", "BLOCK_M": 64, "BLOCK_N": 64},
            "aligned": ["a_ptr", "b_ptr", "c_ptr", "bias_ptr", "M"],
            "options": {},
        }
        tuned = [e for e in expand(entry) if e["options"]]
        assert len(tuned) == count, precision
