"""Rung 3, `triton`: a tiled matmul kernel, C[b] = A[b] @ B[b], with an optional fused epilogue.

Each program computes one BLOCK_M x BLOCK_N tile of C, walking K in BLOCK_K steps and accumulating in fp32 (fp16
and bf16 products summed in their own precision lose digits fast). Programs are ordered in groups of GROUP_M tile
rows: consecutive programs then share the same columns of B, which stay in L2 while the group runs (the Triton
tutorial's "grouped ordering"). Every operand is addressed through its strides, so a transposed or sliced operand
is read where it lies, without a copy; a 2-D operand of a batched product gets batch stride 0.

fp32 operands are multiplied in strict fp32 ("ieee") unless torch.backends.cuda.matmul.allow_tf32 is set (the
TF32 precision). The block configuration is autotuned on CUDA; under the Triton interpreter (CPU) the autotuner
cannot run, so one configuration is used.

The `triton` variant runs this kernel for the product and applies bias and activation with PyTorch afterwards;
`triton_fused` (triton_fused.py) runs the same kernel with the epilogue inside. Backward: dA = dC @ B^T and
dB = A^T @ dC, both through this kernel on transposed views.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.matmul.spec import as_matrices, check_args, epilogue
from kernels.registry import variant
from kernels.triton_support import INTERPRET, activation_flag, autotuned, check_triton_tensor, drops_spilling

# Without the autotuner. Under the interpreter: few, large programs, since each interpreted operation costs the
# same whatever its size; on CUDA (DNNBENCH_AUTOTUNE=0): a tile that compiles without spills for every dtype.
INTERPRETER_CONFIG = {"BLOCK_M": 64, "BLOCK_N": 128, "BLOCK_K": 64, "GROUP_M": 8}
FIXED_CUDA_CONFIG = {"BLOCK_M": 64, "BLOCK_N": 64, "BLOCK_K": 32, "GROUP_M": 8, "num_warps": 4, "num_stages": 3}


def _configs():
    # (BLOCK_M, BLOCK_N, BLOCK_K, num_stages, num_warps): large tiles for throughput on big problems, smaller ones
    # so that small or skinny problems still fill the SMs.
    shapes = [
        (128, 256, 64, 3, 8),
        (256, 128, 64, 3, 8),
        (128, 128, 64, 4, 4),
        (128, 128, 32, 4, 4),
        (128, 64, 32, 4, 4),
        (64, 128, 32, 4, 4),
        (64, 64, 32, 4, 4),
        (128, 32, 32, 4, 4),
        (32, 64, 32, 5, 2),
        (64, 32, 64, 5, 2),
        (32, 32, 64, 5, 2),
    ]
    return [
        triton.Config({"BLOCK_M": m, "BLOCK_N": n, "BLOCK_K": k, "GROUP_M": 8}, num_stages=s, num_warps=w)
        for m, n, k, s, w in shapes
    ]


@triton.jit
def grouped_tile(pid, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr):
    """(tile row, tile column) of program `pid` in grouped ordering: GROUP_M tile rows per group, walked column by
    column within the group, so that consecutive programs share the same columns of B while they sit in L2."""
    num_m = tl.cdiv(M, BLOCK_M)
    in_group = GROUP_M * tl.cdiv(N, BLOCK_N)
    first_m = (pid // in_group) * GROUP_M
    group_rows = min(num_m - first_m, GROUP_M)
    return first_m + (pid % in_group) % group_rows, (pid % in_group) // group_rows


@triton.jit
def _matmul_kernel(
    # pointers: a [batch, M, K], b [batch, K, N], c [batch, M, N], bias [N]
    a_ptr,
    b_ptr,
    c_ptr,
    bias_ptr,
    # sizes
    M,
    N,
    K,
    # strides: how far a pointer moves for one element along each dim (batch stride 0: broadcast)
    stride_ab,
    stride_am,
    stride_ak,
    stride_bb,
    stride_bk,
    stride_bn,
    stride_cb,
    stride_cm,
    stride_cn,
    stride_bias,
    # epilogue and precision, then the tile
    HAS_BIAS: tl.constexpr,
    ACTIVATION: tl.constexpr,
    INPUT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
):
    pid_m, pid_n = grouped_tile(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    batch = tl.program_id(1).to(tl.int64)
    rm = tl.arange(0, BLOCK_M)
    rn = tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    offs_m = pid_m * BLOCK_M + rm
    offs_n = pid_n * BLOCK_N + rn
    # The tile's corner in int64 (a batch of large matrices passes 2**31 elements), offsets inside the tile in
    # int32: 64-bit offsets per element would double the registers the pointer tiles take, and spill.
    a_ptrs = (
        a_ptr
        + (batch * stride_ab + (pid_m * BLOCK_M).to(tl.int64) * stride_am)
        + rm[:, None] * stride_am
        + offs_k[None, :] * stride_ak
    )
    b_ptrs = (
        b_ptr
        + (batch * stride_bb + (pid_n * BLOCK_N).to(tl.int64) * stride_bn)
        + offs_k[:, None] * stride_bk
        + rn[None, :] * stride_bn
    )
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        # Masked loads give 0 past the edges: zeros add nothing to the sum, so K need not be a multiple of BLOCK_K.
        k_left = K - k * BLOCK_K
        a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & (offs_k[None, :] < k_left), other=0.0)
        b = tl.load(b_ptrs, mask=(offs_k[:, None] < k_left) & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk

    # Epilogue on the fp32 accumulator, before the one rounding to C's dtype.
    if HAS_BIAS:
        acc += tl.load(bias_ptr + offs_n * stride_bias, mask=offs_n < N, other=0.0).to(tl.float32)[None, :]
    if ACTIVATION == "relu":
        acc = tl.maximum(acc, 0.0)
    elif ACTIVATION == "sigmoid":
        acc = tl.sigmoid(acc)
    elif ACTIVATION == "tanh":
        acc = 2.0 * tl.sigmoid(2.0 * acc) - 1.0  # tanh; saturates to exactly +-1 for large |x|
    c_corner = (
        batch * stride_cb + (pid_m * BLOCK_M).to(tl.int64) * stride_cm + (pid_n * BLOCK_N).to(tl.int64) * stride_cn
    )
    c_ptrs = c_ptr + c_corner + rm[:, None] * stride_cm + rn[None, :] * stride_cn
    tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))


# Strict fp32 (INPUT_PRECISION "ieee") runs tl.dot on the FMA units, its A and B tiles in registers. Compiled for
# sm_90 by the GPU machines' Triton 3.6 on the benchmarks' launches (contiguous operands, runtime M, N, K), these
# tiles spill (bytes of spill stores and loads): 128x256x64 1652, 256x128x64 1612, 128x128x64 1732, 128x128x32 464,
# 128x32x32 16, 64x32x64 12; fp16, bf16 and TF32 (tensor cores) spill in none. A spilling candidate costs the
# autotuner a compile and a timing on the device and cannot win: it is never tried for strict fp32.
SPILLS_IN_STRICT_FP32 = {(128, 256, 64), (256, 128, 64), (128, 128, 64), (128, 128, 32), (128, 32, 32), (64, 32, 64)}


config_fits = drops_spilling("a_ptr", {"ieee": SPILLS_IN_STRICT_FP32})


# keyed by the precision too: strict fp32 and TF32 take different configurations at the same sizes
_matmul_kernel_tuned = autotuned(_matmul_kernel, _configs(), key=["M", "N", "K", "INPUT_PRECISION"], fits=config_fits)


def as_batched(a: torch.Tensor, b: torch.Tensor):
    """Operands of any rank as the kernel takes them, 2-D or 3-D: vectors as matrices (as_matrices), and above 3-D
    the batch dims broadcast and merged into one (a view where the strides allow, else a copy: the `clone` the
    rungs declare). Returns them and a function that gives a result torch.matmul's shape."""
    a2, b2, restore = as_matrices(a, b)
    if a2.dim() <= 3 and b2.dim() <= 3:
        return a2, b2, restore
    batch = torch.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])

    def merged(t: torch.Tensor) -> torch.Tensor:  # a 2-D operand stays 2-D: the kernel broadcasts it (stride 0)
        return t if t.dim() == 2 else t.expand(*batch, *t.shape[-2:]).reshape(-1, *t.shape[-2:])

    return merged(a2), merged(b2), lambda c: restore(c.reshape(*batch, *c.shape[-2:]))


def _batch_stride(t: torch.Tensor) -> int:
    return t.stride(0) if t.dim() == 3 and t.shape[0] > 1 else 0  # a 2-D (or batch-1) operand broadcasts


def matmul_launch(a: torch.Tensor, b: torch.Tensor, bias=None, activation=None) -> torch.Tensor:
    """C = act(A @ B + bias) for 2-D or 3-D A and B (a 2-D operand broadcasts over the other's batch)."""
    m, k = a.shape[-2:]
    n = b.shape[-1]
    batch = max(a.shape[0] if a.dim() == 3 else 1, b.shape[0] if b.dim() == 3 else 1)
    batched = a.dim() == 3 or b.dim() == 3
    c = torch.empty((batch, m, n) if batched else (m, n), dtype=a.dtype, device=a.device)
    if c.numel() == 0:
        return c
    if k == 0:  # an empty sum
        return epilogue(c.zero_(), bias, activation)
    c3 = c if batched else c.unsqueeze(0)
    allow_tf32 = torch.backends.cuda.matmul.allow_tf32 and a.dtype == torch.float32
    args = (
        a,
        b,
        c,
        bias if bias is not None else c,
        m,
        n,
        k,
        _batch_stride(a),
        a.stride(-2),
        a.stride(-1),
        _batch_stride(b),
        b.stride(-2),
        b.stride(-1),
        c3.stride(0),
        c3.stride(1),
        c3.stride(2),
        bias.stride(0) if bias is not None else 0,
    )
    flags = {
        "HAS_BIAS": bias is not None,
        "ACTIVATION": activation_flag(activation),
        "INPUT_PRECISION": "tf32" if allow_tf32 else "ieee",
    }
    launch_gemm(_matmul_kernel, _matmul_kernel_tuned, m, n, batch, args, flags, INTERPRETER_CONFIG, FIXED_CUDA_CONFIG)
    return c


def launch_gemm(
    kernel, tuned, m: int, n: int, batch: int, args: tuple, flags: dict, interpreter_config: dict, cuda_config: dict
) -> None:
    """Launch a grouped-ordering GEMM kernel over an m x n output for each of `batch` problems (grid axis 1: the
    batch of a matmul, the groups of a convolution): autotuned on CUDA (`tuned`), one fixed configuration under the
    interpreter or with DNNBENCH_AUTOTUNE=0 (`tuned` is None)."""
    if tuned is None:
        cfg = interpreter_config if INTERPRET else cuda_config
        kernel[(triton.cdiv(m, cfg["BLOCK_M"]) * triton.cdiv(n, cfg["BLOCK_N"]), batch)](*args, **flags, **cfg)
    else:
        tuned[lambda meta: (triton.cdiv(m, meta["BLOCK_M"]) * triton.cdiv(n, meta["BLOCK_N"]), batch)](*args, **flags)


def matmul_grads(a, b, dc, needs: tuple[bool, bool]):
    """(dA, dB) = (dC @ B^T, A^T @ dC) through the Triton kernel, on transposed views (no copies); a gradient of a
    broadcast operand is summed over the batch it was broadcast to."""
    da = db = None
    if needs[0]:
        da = matmul_launch(dc, b.transpose(-1, -2))
        if a.dim() == 2 and da.dim() == 3:
            da = da.sum(0)
    if needs[1]:
        db = matmul_launch(a.transpose(-1, -2), dc)
        if b.dim() == 2 and db.dim() == 3:
            db = db.sum(0)
    return da, db


class TritonMatmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return matmul_launch(a, b)

    @staticmethod
    def backward(ctx, dc):
        a, b = ctx.saved_tensors
        return matmul_grads(a, b, dc, ctx.needs_input_grad[:2])


def check_triton_args(a, b, bias, activation, op: str) -> None:
    check_args(a, b, bias, activation, op=op)
    check_triton_tensor(a, op)


def interpreter_bf16_dot(case, device) -> str | None:
    if device == "cpu" and INTERPRET and case.dtype == torch.bfloat16:
        return "the Triton interpreter's tl.dot on bf16 operands returns garbage (fp32/fp16 are right): CUDA only"
    return None


EMPTY_SUM = {"zero_": "K = 0: the product is an empty sum, zeros"}
# Operands above 3-D (as_batched) and their gradients.
BATCHED = {"clone": "operands above 3-D whose broadcast batch dims do not merge into one stride are copied"}
# The rung leaves bias and activation to PyTorch, after the kernel (triton_fused puts them in its epilogue).
UNFUSED_EPILOGUE = {
    "add": "the bias, added by PyTorch after the kernel",
    "sum": "the bias gradient (autograd of the broadcast add); the gradient of an operand broadcast over a batch",
    "relu": "the activation, by PyTorch",
    "threshold_backward": "relu's gradient, by PyTorch's autograd",
    "sigmoid": "the activation, by PyTorch",
    "sigmoid_backward": "sigmoid's gradient, by PyTorch's autograd",
    "tanh": "the activation, by PyTorch",
    "tanh_backward": "tanh's gradient, by PyTorch's autograd",
}


@variant(
    "matmul",
    "triton_tiled",
    interpreted_on_cpu=True,
    limit=interpreter_bf16_dot,
    torch_ops={**UNFUSED_EPILOGUE, **EMPTY_SUM, **BATCHED},
)
def triton_matmul(a: torch.Tensor, b: torch.Tensor, bias=None, activation=None) -> torch.Tensor:
    """Tiled Triton matmul (grouped ordering, autotuned, fp32 accumulation); bias + activation by PyTorch."""
    check_triton_args(a, b, bias, activation, "matmul 'triton_tiled'")
    a2, b2, restore = as_batched(a, b)
    return epilogue(restore(TritonMatmul.apply(a2, b2)), bias, activation)
