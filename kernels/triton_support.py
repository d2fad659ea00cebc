"""Where Triton kernels run: compiled on CUDA, or through Triton's interpreter on a machine without a GPU.

The interpreter is chosen by the environment variable TRITON_INTERPRET=1, read when a kernel is decorated, so it
must be set before triton is imported. Importing `kernels` sets it when no CUDA device is present and the variable
is not set already; set TRITON_INTERPRET=0 to keep it off. `import torch` does not import triton, so asking torch
about CUDA here is safe.
"""

from __future__ import annotations

import os

import torch

if "TRITON_INTERPRET" not in os.environ and not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"
# DNNBENCH_AUTOTUNE=0: autotuned kernels launch one fixed configuration on CUDA too (a quick correctness run that
# does not compile and time every configuration for every new shape); benchmarks leave autotuning on.
AUTOTUNE = not INTERPRET and os.environ.get("DNNBENCH_AUTOTUNE", "1") != "0"

try:
    import triton  # noqa: F401
    import triton.language as tl  # noqa: F401

    HAS_TRITON = True
except ImportError:  # triton ships with torch on Linux only
    HAS_TRITON = False


def next_power_of_2(n: int) -> int:
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


# Dtypes the hand-written kernels take; all of them compute in fp32 inside.
TRITON_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def check_triton_tensor(t: torch.Tensor, what: str) -> None:
    """Raise a clear error for a tensor a Triton kernel cannot take, instead of a crash inside Triton."""
    if not HAS_TRITON:
        raise RuntimeError(f"{what}: triton is not installed (it ships with torch on Linux)")
    if t.dtype not in TRITON_DTYPES:
        raise TypeError(f"{what}: Triton kernels take float32, float16 or bfloat16, got {t.dtype}")
    if t.device.type == "cpu" and not INTERPRET:
        raise RuntimeError(
            f"{what}: the tensor is on the CPU, where Triton runs only through its interpreter; "
            "set TRITON_INTERPRET=1 before triton is imported, or move the tensor to CUDA"
        )
    if t.device.type not in ("cpu", "cuda"):
        raise RuntimeError(f"{what}: Triton kernels here run on CUDA (or the CPU interpreter), not {t.device.type}")


MAX_INT32_OFFSET = 2**31 - 1


def check_int32_offsets(what: str, *extents) -> None:
    """For kernels that address elements with int32 offsets: raise a clear error when a tensor's farthest element
    (through its strides: a sliced tensor reaches past its element count) or an output's element count (an int)
    passes 2**31 - 1."""

    def reach(e) -> int:
        if isinstance(e, int):
            return e
        return 0 if e.numel() == 0 else 1 + sum((n - 1) * abs(st) for n, st in zip(e.shape, e.stride(), strict=True))

    largest = max(map(reach, extents))
    if largest > MAX_INT32_OFFSET:
        raise ValueError(f"{what}: {largest:,} elements exceed the kernels' int32 offsets (2**31 - 1)")


def activation_flag(activation: str | None) -> str:
    """The epilogue's activation as every kernel's ACTIVATION constexpr: its name ("relu", "sigmoid", "tanh"), or ""
    for none, as Triton's matmul tutorial passes it. A constexpr: each value compiles its own kernel, and the
    branches not taken are not in it."""
    return activation or ""


# "<module>.<kernel>" -> the autotune configurations of every kernel declared with `autotuned`, recorded whether or
# not autotuning is on: the compile check (dnnbench/triton_compile.py) compiles each one for the GPU.
AUTOTUNE_CONFIGS: dict[str, list] = {}
# "<module>.<kernel>" -> the kernel's test of whether a configuration suits a launch, fits(config, launch) with the
# launch's arguments as launch_facts gives them: the autotuner prunes the others before it compiles or times any,
# and the compile check compiles only those that suit
AUTOTUNE_FITS: dict[str, object] = {}


def launch_facts(arguments: dict) -> dict:
    """A launch's arguments as the compile check records them: a tensor as its pointer type ('*fp32', '*bf16'),
    anything else as it is."""
    from kernels.dtypes import dtype_name

    return {k: f"*{dtype_name(v.dtype)}" if isinstance(v, torch.Tensor) else v for k, v in arguments.items()}


def pruner(fits):
    """triton.autotune's early_config_prune from fits(config, launch): the configurations that suit the launch."""

    def prune(configs, named_args, **kwargs):
        launch = launch_facts({**named_args, **kwargs})
        return [c for c in configs if fits(c, launch)]

    return prune


def drops_spilling(operand: str, spills: dict[str, set[tuple[int, int, int]]]):
    """fits(config, launch) for `autotuned`: where the `operand` pointer is fp32, it turns down the tiles (BLOCK_M,
    BLOCK_N, BLOCK_K) that `spills` lists for the launch's INPUT_PRECISION ('ieee': strict fp32, 'tf32'); every
    tile else. The lists are measured: the kernel compiled for sm_90 with the GPU machines' Triton (README, Triton
    kernels without a GPU)."""

    def fits(config, launch: dict) -> bool:
        if launch.get(operand) != "*fp32":
            return True
        tile = (config.kwargs["BLOCK_M"], config.kwargs["BLOCK_N"], config.kwargs["BLOCK_K"])
        return tile not in spills.get(launch.get("INPUT_PRECISION"), set())

    return fits


def autotuned(kernel, configs, key: list[str], fits=None):
    """The autotuned form of the @triton.jit `kernel` over `configs`, keyed by the named arguments, trying for each
    launch only the configurations `fits` accepts (all without it); None where autotuning is off (the interpreter
    cannot autotune; DNNBENCH_AUTOTUNE=0 asks for one fixed configuration), in which case the launcher uses its
    fixed configuration."""
    fn = getattr(kernel, "fn", kernel)
    name = f"{fn.__module__}.{fn.__name__}"
    AUTOTUNE_CONFIGS[name] = list(configs)
    if fits is not None:
        AUTOTUNE_FITS[name] = fits
    if not AUTOTUNE:
        return None
    prune = {"early_config_prune": pruner(fits)} if fits is not None else None
    return triton.autotune(configs=list(configs), key=key, prune_configs_by=prune)(kernel)
