"""The variant path of the README's "Adding a variant": a variant declared in a module of its own, with no other edit
anywhere, is checked against float64 by the correctness test, timed by the benchmarks and shown in the report."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MODULE = '''
"""A softmax written from torch primitives, on the eager rung (on the Triton rung the torch-op guard would fail it:
it goes by rung, and these primitives are compute)."""

import torch

from kernels.registry import variant


@variant("softmax", "peer_expsum", rung="eager")
def peer_softmax(x, dim=-1):
    """exp(x - max) / sum, in torch primitives, accumulated in fp32 (an fp16 sum of 9000 terms fails the check)."""
    z = torch.exp((x - x.amax(dim=dim, keepdim=True)).float())
    return (z / z.sum(dim=dim, keepdim=True)).to(x.dtype)
'''


def pytest_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    cmd = [sys.executable, "-m", "pytest", "-p", "peer_variant", "-p", "no:cacheprovider", "-q", "-rs", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_a_variant_in_its_own_module_is_checked_benchmarked_and_reported(tmp_path):
    (tmp_path / "peer_variant.py").write_text(MODULE)
    checked = pytest_run(tmp_path, "tests/test_correctness.py", "-k", "softmax and peer_expsum and cpu")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert " passed" in checked.stdout.splitlines()[-1] and "peer_expsum" not in checked.stdout.split("short test")[0]
    results = tmp_path / "out.json"
    timed = pytest_run(
        tmp_path,
        "bench",
        "--benchmark-only",
        "--device",
        "cpu",
        "-k",
        "softmax and forward and 1024x16 and (peer_expsum or eager)",
        "--benchmark-max-time",
        "0.02",
        "--benchmark-json",
        str(results),
    )
    assert timed.returncode == 0, timed.stdout[-3000:]
    rows = [b["extra_info"] for b in json.loads(results.read_text())["benchmarks"]]
    peer = [r for r in rows if r["variant"] == "peer_expsum"]
    assert peer and peer[0]["rung"] == 1 and peer[0]["rel_error"] <= peer[0]["tolerance"]
    from reports.build import build_report

    build_report([results], tmp_path / "report")
    assert "peer_expsum" in (tmp_path / "report" / "report.md").read_text()
