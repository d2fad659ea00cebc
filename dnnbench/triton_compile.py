"""Compile every Triton kernel of the registry for a GPU architecture, on a machine without a GPU.

The Triton interpreter (the CPU tests) runs a kernel's Python, not Triton's compiler: a kernel can pass every
interpreted test and still fail to compile, or compile to code that spills registers. This check closes that gap
without a GPU, in two steps:
1. record: a child process calls each Triton variant on its op's test cases under the interpreter, recording every
   kernel launch (the kernel, each argument's type (pointer dtype, int, float) and the constexpr values) in place
   of running it: a launcher never reads back what its kernels computed, so the launches are those of a real run;
2. compile: this process (interpreter off) compiles each distinct launch with triton.compile for the target
   (sm_90 by default) down to a cubin, and reports registers, spills and shared memory per kernel. An fp16 launch
   is also compiled with bf16 and fp32 pointers, and an autotuned kernel (declared with
   kernels.triton_support.autotuned) with each of its autotuning configurations.

    python -m dnnbench.triton_compile [--arch 90] [--json out.json]
Exit status 1 when any kernel fails to compile.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

POINTER = {
    "torch.float32": "*fp32",
    "torch.float16": "*fp16",
    "torch.bfloat16": "*bf16",
    "torch.float64": "*fp64",
    "torch.int64": "*i64",
    "torch.int32": "*i32",
    "torch.bool": "*i1",
}


# ---- step 1: record launches under the interpreter (runs in a child process) ----


def _arg_type(value) -> str | None:
    import torch

    if isinstance(value, torch.Tensor):
        return POINTER[str(value.dtype)]
    if isinstance(value, bool):
        return "i1"
    if isinstance(value, int):
        return "i32" if -(2**31) <= value < 2**31 else "i64"
    if isinstance(value, float):
        return "fp32"
    return None


def record(out: Path, shard: int = 0, shards: int = 1) -> None:
    """Record the launches of every `shards`-th (variant, case) run, starting at `shard`."""
    import inspect

    from triton.runtime.interpreter import InterpretedFunction

    import kernels  # noqa: F401  (sets the interpreter)
    from kernels import registry

    launches = {}
    original = InterpretedFunction.run

    def recording_run(self, *args, grid, warmup, **kwargs):
        params = list(inspect.signature(self.fn).parameters.values())
        bound = dict(zip([p.name for p in params], args, strict=False)) | kwargs
        signature, constexprs, aligned = {}, {}, []
        for p in params:
            value = bound.get(p.name, p.default)
            kind = "constexpr" if "constexpr" in str(p.annotation) else _arg_type(value) or "constexpr"
            # as Triton's launcher specializes: an int equal to 1 becomes a constant; ints that are multiples of
            # 16 and 16-byte aligned pointers are marked divisible by 16 (wide loads, tensor-core paths)
            if kind in ("i32", "i64") and value == 1 and not isinstance(value, bool):
                kind = "constexpr"
            signature[p.name] = kind
            if kind == "constexpr":
                constexprs[p.name] = value
            elif (kind[0] == "*" and value.data_ptr() % 16 == 0) or (kind in ("i32", "i64") and value % 16 == 0):
                aligned.append(p.name)
        options = {k: kwargs[k] for k in ("num_warps", "num_stages") if k in kwargs}
        entry = {
            "module": self.fn.__module__,
            "kernel": self.fn.__name__,
            "signature": signature,
            "constexprs": constexprs,
            "aligned": aligned,
            "options": options,
        }
        launches[json.dumps(entry, sort_keys=True, default=str)] = entry
        # the launch is all this step needs: no launcher reads back what a kernel computed, so the kernel is not
        # run (the interpreter takes a minute over all cases); the outputs stay uninitialized and are not checked

    InterpretedFunction.run = recording_run
    runs = [
        (registry.spec(op), v, case)
        for op in registry.ops()
        for v in registry.variants(op)
        if v.interpreted_on_cpu and not v.peer  # our kernels: a peer library's are its own to fit a target
        for case in registry.spec(op).test_cases()
        if not v.unsupported_reason(case, "cpu")
    ]
    for spec, v, case in runs[shard::shards]:
        spec.compare(v.fn, case, "cpu", seed=0, grads=case.grad and v.differentiable)
    if shard == 0:  # kernels outside the registry: the one-launch MLP training step (kernels/triton_mlp.py)
        from kernels import triton_mlp

        triton_mlp.sample_steps()
    InterpretedFunction.run = original
    out.write_text(json.dumps(list(launches.values()), default=str))
    print(f"recorded {len(launches)} distinct launches", file=sys.stderr)


# ---- step 2: compile each launch for the target (this process, interpreter off) ----


def block_size(entry: dict) -> int:
    size = 1
    for name, value in entry["constexprs"].items():
        if name.startswith("BLOCK") and isinstance(value, int):
            size *= value
    return size


# constexprs that select a kernel's code path (bools and small ints): each value is kept apart by --quick
FLAGS = (
    "HAS_BIAS",
    "ACTIVATION",
    "TRAINING",
    "HAS_RUNNING",
    "HAS_WEIGHT",
    "SMOOTHING",
    "REDUCTION",
    "FROM_OUTPUT",
    "MOMENTUM",
    "NESTEROV",
    "WEIGHT_DECAY",
    "MAXIMIZE",
    "AMSGRAD",
    "N_LAYERS",
    "ACT",
    "LOSS",
)


def quick_selection(launches: list[dict]) -> list[dict]:
    """Per kernel, pointer dtypes and flags (constexprs other than BLOCK sizes and specialized ints), one launch:
    the one with the largest blocks (the most likely to run out of registers) and, among those, the most aligned
    arguments (the path a large contiguous tensor takes)."""
    best = {}
    for e in launches:
        flags = {
            k: v
            for k, v in e["constexprs"].items()
            if not k.startswith("BLOCK") and not isinstance(v, int) or k in FLAGS
        }
        pointers = sorted(t for t in e["signature"].values() if t[0] == "*")
        key = json.dumps([e["module"], e["kernel"], pointers, flags], sort_keys=True, default=str)
        rank = (block_size(e), len(e.get("aligned", [])))
        if key not in best or rank > (block_size(best[key]), len(best[key].get("aligned", []))):
            best[key] = e
    return list(best.values())


def expand(entry: dict, quick: bool = False) -> list[dict]:
    """The launch as recorded; the same with every pointer and int argument 16-aligned (the layout of the large
    contiguous tensors of the benchmarks: the small, odd test shapes rarely have it); each of these with bf16 and
    fp32 pointers where it had fp16; and an autotuned kernel's aligned launches with each of its configurations
    (with `quick`, for fp16 operands only)."""
    everything = [n for n, t in entry["signature"].items() if t[0] == "*" or t in ("i32", "i64")]
    out = [entry] if set(entry.get("aligned", [])) == set(everything) else [entry, {**entry, "aligned": everything}]
    if "*fp16" in entry["signature"].values():
        for base in list(out):
            for other in ("*bf16", "*fp32"):
                sig = {k: (other if t == "*fp16" else t) for k, t in base["signature"].items()}
                out.append({**base, "signature": sig})
    from kernels.triton_support import AUTOTUNE_CONFIGS, AUTOTUNE_FITS

    importlib.import_module(entry["module"])  # declares its kernels' autotune configurations
    name = f"{entry['module']}.{entry['kernel']}"
    configs, fits = AUTOTUNE_CONFIGS.get(name), AUTOTUNE_FITS.get(name, lambda config, launch: True)
    plain = not entry["constexprs"].get("ACTIVATION")  # an epilogue adds few registers
    if configs and plain:
        bases = [b for b in out if b["aligned"] == everything and (not quick or "*fp16" in b["signature"].values())]
        for cfg in configs:
            # the configurations the autotuner would try for this launch (a pruned one is never compiled there)
            for base in (b for b in bases if fits(cfg, {**b["signature"], **b["constexprs"]})):
                out.append(
                    {
                        **base,
                        "constexprs": {**base["constexprs"], **cfg.kwargs},
                        "options": {"num_warps": cfg.num_warps, "num_stages": cfg.num_stages},
                    }
                )
    return out


def ptxas_report(ptx: str, arch: int) -> dict:
    """Registers, spill stores and spill loads of the kernel, from ptxas --verbose (the bundled ptxas)."""
    import re

    from triton.backends.nvidia.compiler import get_ptxas

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "k.ptx"
        src.write_text(ptx)
        suffix = "a" if arch >= 90 else ""
        cmd = [get_ptxas(arch).path, "-v", f"--gpu-name=sm_{arch}{suffix}", str(src), "-o", str(Path(tmp) / "k.o")]
        text = subprocess.run(cmd, capture_output=True, text=True).stderr
    regs = re.search(r"Used (\d+) registers", text)
    spills = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", text)
    return {
        "registers": int(regs.group(1)) if regs else None,
        "spills": int(spills.group(1)) + int(spills.group(2)) if spills else None,
    }


def compile_one(entry: dict, arch: int) -> dict:
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    module = importlib.import_module(entry["module"])
    kernel = getattr(module, entry["kernel"])
    signature = dict(entry["signature"])
    names = list(signature)
    attrs = {(names.index(n),): [["tt.divisibility", 16]] for n in entry.get("aligned", [])}
    src = ASTSource(fn=kernel, signature=signature, constexprs=entry["constexprs"], attrs=attrs)
    start = time.time()
    row = {
        "kernel": f"{entry['kernel']}",
        "types": ",".join(sorted({t for t in signature.values() if t[0] == "*"})),
        "constexprs": entry["constexprs"],
        "options": entry["options"],
    }
    try:
        compiled = triton.compile(src, target=GPUTarget("cuda", arch, 32), options=entry["options"])
        row.update(
            ok=True, shared=getattr(compiled.metadata, "shared", None), **ptxas_report(compiled.asm["ptx"], arch)
        )
    except Exception as e:  # any compiler error is the finding
        row.update(ok=False, error=f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}")
    row["seconds"] = round(time.time() - start, 2)
    return row


def record_in_children(jobs: int) -> list[dict]:
    """The distinct launches of the interpreted test cases, recorded by `jobs` child processes sharing the cases."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, TRITON_INTERPRET="1")
        outs = [Path(tmp) / f"launches-{i}.json" for i in range(jobs)]
        command = [sys.executable, "-m", "dnnbench.triton_compile", "--record-only"]
        children = [
            subprocess.Popen([*command, str(out), "--shard", str(i), str(jobs)], env=env) for i, out in enumerate(outs)
        ]
        if any(child.wait() != 0 for child in children):
            raise RuntimeError("recording the interpreted launches failed (see the output above)")
        launches = {}
        for out in outs:
            for e in json.loads(out.read_text()):
                launches.setdefault(json.dumps(e, sort_keys=True, default=str), e)
    print(f"recorded {len(launches)} distinct launches in {jobs} processes", file=sys.stderr)
    return list(launches.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dnnbench.triton_compile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", type=int, default=90, help="CUDA compute capability, e.g. 80 or 90 (default 90)")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--quick", action="store_true", help="per kernel and flags, only the largest blocks")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: one per CPU)")
    parser.add_argument("--record-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--shard", type=int, nargs=2, default=(0, 1), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.record_only:
        record(args.record_only, *args.shard)
        return 0
    if os.environ.get("TRITON_INTERPRET") == "1":
        print("run without TRITON_INTERPRET=1: the compile step needs Triton's compiler", file=sys.stderr)
        return 2
    os.environ["TRITON_INTERPRET"] = "0"
    launches = record_in_children(max(1, args.jobs))
    if args.quick:
        launches = quick_selection(launches)
    todo = {}
    for entry in launches:
        for e in expand(entry, args.quick):
            todo.setdefault(json.dumps(e, sort_keys=True, default=str), e)
    # compiling is single-threaded in Triton: one process per CPU
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=get_context("spawn")) as pool:
        rows = list(pool.map(compile_one, todo.values(), [args.arch] * len(todo)))
    failed = [r for r in rows if not r["ok"]]
    spilled = [r for r in rows if r.get("spills")]
    print(f"{'kernel':<30} {'pointers':<22} {'regs':>5} {'spill B':>7} {'shared':>7}  constexprs / options")
    for r in rows:
        if r["ok"]:
            print(
                f"{r['kernel']:<30} {r['types']:<22} {r['registers']!s:>5} {r['spills']!s:>7} {r['shared']!s:>7}  "
                f"{r['constexprs']} {r['options']}"
            )
        else:
            print(f"{r['kernel']:<30} {r['types']:<22} FAILED: {r['error']}  {r['constexprs']} {r['options']}")
    print(
        f"\n{len(rows)} compilations for sm_{args.arch}: {len(rows) - len(failed)} ok, {len(failed)} failed, "
        f"{len(spilled)} with register spills"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
