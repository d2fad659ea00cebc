"""Every Triton kernel compiles for a real GPU (sm_90), checked on a machine without one.

The interpreter runs a kernel's Python; only Triton's compiler finds type errors, unsupported operations and
register spills. dnnbench/triton_compile.py records the launches of the interpreted test cases and compiles each for
sm_90 down to a cubin with the ptxas that ships with Triton.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def launched_kernel_names() -> set[str]:
    """Names of the @triton.jit kernels (`*_kernel`; the helpers they call compile inside them) of every module of
    every op's variants, and of the one-launch MLP step (kernels/triton_mlp.py), found as the objects Triton's
    decorator made."""
    import importlib

    import triton

    from kernels import registry

    names = set()
    modules = [v.fn.__module__ for op in registry.ops() for v in registry.variants(op)] + ["kernels.triton_mlp"]
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            fn = getattr(obj, "fn", None)  # a JITFunction (or the interpreter's stand-in) wraps the Python function
            if name.endswith("_kernel") and isinstance(obj, triton.runtime.KernelInterface) and fn is not None:
                names.add(fn.__name__)
    return names


def test_every_triton_kernel_compiles_for_sm90(tmp_path):
    pytest.importorskip("triton")
    out = tmp_path / "compile.json"
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run(
        [sys.executable, "-m", "dnnbench.triton_compile", "--quick", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    print(proc.stdout[-6000:])
    assert out.exists(), proc.stderr[-3000:]
    rows = json.loads(out.read_text())
    failed = [f"{r['kernel']} {r['types']} {r['constexprs']}: {r['error']}" for r in rows if not r["ok"]]
    assert not failed, "\n".join(failed)
    assert proc.returncode == 0
    compiled = {r["kernel"] for r in rows}
    assert launched_kernel_names() <= compiled, f"never compiled: {launched_kernel_names() - compiled}"
    assert {"*fp32", "*fp16", "*bf16"} <= {t for r in rows for t in r["types"].split(",")}
