"""`dnnbench judge`: an honest kernel accepted, the same kernel broken once in each way and rejected by the check
that catches it, unusable files named in one line with exit 2. Each candidate runs in the judge's child process, as
a user's would."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dnnbench import judge

ROOT = Path(__file__).resolve().parents[1]
TIMED_S = 0.02  # seconds of timed rounds per variant and shape once accepted (the CLI's default: 0.2)

HONEST = """
import torch
from kernels.registry import variant

CACHE = {{}}


def _check(x):
    if not x.is_floating_point():
        raise TypeError("softmax: x must be a floating-point tensor")


@variant("softmax", "{name}", rung="eager")
def softmax_{name}(x, dim=-1):
    \"\"\"exp(x - max) / sum, in fp32.\"\"\"
BODY
"""
BODY = """    _check(x)
    if x.numel() == 0:
        return torch.empty_like(x)
    z = torch.exp((x - x.amax(dim=dim, keepdim=True)).float())
    return (z / z.sum(dim=dim, keepdim=True)).to(x.dtype)
"""

# each made by breaking the honest body once: (the body it becomes, the check that must reject it)
BROKEN = {
    "wrong_grad": (
        "    _check(x)\n    y = torch.softmax(x.float(), dim).to(x.dtype)\n"
        "    return y.detach() + (x - x.detach()) * 0.01  # right values, a made-up gradient\n",
        "correct",
    ),
    "strides_ignored": (
        "    _check(x)\n    flat = torch.as_strided(x, x.shape, torch.empty(x.shape).stride(), x.storage_offset())\n"
        "    return torch.softmax(flat.float(), dim).to(x.dtype)\n",
        "correct",
    ),
    "wide_rows_cut": (
        "    _check(x)\n    if x.shape[dim] <= 4096:\n        return torch.softmax(x.float(), dim).to(x.dtype)\n"
        "    y = torch.softmax(x.narrow(dim, 0, 4096).float(), dim)\n"
        "    rest = torch.zeros_like(x.float()).narrow(dim, 4096, x.shape[dim] - 4096)\n"
        "    return torch.cat([y, rest], dim).to(x.dtype)\n",
        "correct",
    ),
    "wrong_dtype": ("    _check(x)\n    return torch.softmax(x.float(), dim)\n", "drop_in: output like torch's"),
    "input_overwritten": (
        "    _check(x)\n    y = torch.softmax(x.float(), dim).to(x.dtype)\n    with torch.no_grad():\n"
        "        x.add_(1.0)  # the softmax is the same: only the caller's x changes\n    return y\n",
        "drop_in: inputs unchanged",
    ),
    "cached_by_shape": (
        "    _check(x)\n    key = (tuple(x.shape), x.dtype, dim)\n    if key not in CACHE:\n"
        "        CACHE[key] = torch.softmax(x.float(), dim).to(x.dtype).detach()\n    return CACHE[key]\n",
        "not_cached",
    ),
    # right on every layout of the spec's cases; on an input with a stride of 0 (expanded), it reads as if contiguous
    "expanded_ignored": (
        "    _check(x)\n    if 0 in x.stride():\n"
        "        x = torch.as_strided(x, x.shape, torch.empty(x.shape).stride(), x.storage_offset())\n"
        "    return torch.softmax(x.float(), dim).to(x.dtype)\n",
        "correct: every layout",
    ),
    # right on every case of the spec; torch's own samples include an empty input, which amax refuses
    "empty_unhandled": (
        "    _check(x)\n    z = torch.exp((x - x.amax(dim=dim, keepdim=True)).float())\n"
        "    return (z / z.sum(dim=dim, keepdim=True)).to(x.dtype)\n",
        "correct: torch's OpInfo samples",
    ),
    "dim_ignored": ("    _check(x)\n    return torch.softmax(x.float(), -1).to(x.dtype)\n", "correct"),
    "no_check": ("    return torch.softmax(x.double(), dim).to(x.dtype)\n", "drop_in: bad input refused"),
    # right whenever it is checked; a remembered answer when gradients are off, as they are while it is timed
    "timing_trick": (
        "    _check(x)\n    key = (tuple(x.shape), x.dtype, dim)\n"
        "    if not torch.is_grad_enabled() and key in CACHE:\n        return CACHE[key]\n"
        "    y = torch.softmax(x.float(), dim).to(x.dtype)\n"
        "    CACHE[key] = y.detach()\n    return y\n",
        "plausible_speed",
    ),
    # right on every case of the spec and in every layout of the template; a row of 257 (one block of 256 and one
    # element) loses its last element, as an off-by-one at a block boundary does: only the random fuzz draws it
    "block_boundary": (
        "    _check(x)\n    n = x.shape[dim] if x.dim() else 1\n    if n > 256 and n % 256 == 1:\n"
        "        y = torch.softmax(x.narrow(dim, 0, n - 1).float(), dim).to(x.dtype)\n"
        "        return torch.cat([y, torch.zeros_like(y.narrow(dim, 0, 1))], dim)\n"
        "    return torch.softmax(x.float(), dim).to(x.dtype)\n",
        "correct: layout fuzz",
    ),
    # right whenever it is checked; while it is timed, the suite's wall timer says every round took a nanosecond
    "timer_replaced": (
        "    _check(x)\n    import bench.timers\n\n"
        "    bench.timers.WallTimer.samples = lambda self, calls, count: [1e-9] * count\n"
        "    return torch.softmax(x.float(), dim).to(x.dtype)\n",
        "timed",
    ),
    "crash": ("    import os\n\n    os._exit(3)\n", "isolated"),
    "hang": ("    import time\n\n    time.sleep(600)\n", "isolated"),
}


def candidate(tmp_path: Path, name: str, body: str = BODY, rung: str = 'rung="eager"') -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(HONEST.format(name=name).replace("BODY\n", body).replace('rung="eager"', rung))
    return path


def failed_checks(verdict) -> list[str]:
    return [c.name for c in verdict.checks if not c.ok]


CHECKS = [  # an eager candidate's verdict, in order
    "correct",
    "correct: every layout",
    "correct: layout fuzz",
    "correct: torch's OpInfo samples",
    "drop_in: output like torch's",
    "drop_in: inputs unchanged",
    "drop_in: no output aliases an input",
    "drop_in: bad input refused",
    "not_cached",
    "honest_stream",
    "timed",
    "plausible_speed",
]


def test_an_honest_kernel_is_accepted_with_every_check_named(tmp_path):
    (v,) = judge.judge(candidate(tmp_path, "honest"), timeout_s=60, max_time=TIMED_S)
    assert v.verdict == "accepted", [(c.name, c.detail) for c in v.checks]
    assert [c.name for c in v.checks] == CHECKS
    timed = [r for r in v.timings if "median_s" in r]
    assert {r["variant"] for r in timed} >= {"honest", "eager", "lesson"}  # the ladder, timed in the same child
    assert all(r["speedup_lo"] <= r["speedup"] <= r["speedup_hi"] for r in timed)


FULL = {"block_boundary"}  # found by the long fuzz (--full) for sure; the quick one's ten examples may miss it


def test_the_readme_explains_every_check():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Judge your own kernel") :]
    section = section[: section.index("\n## ", 1)]
    explained = re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)
    assert sorted(explained) == sorted(CHECKS + ["honest_triton", "isolated"])


@pytest.mark.parametrize("kind", sorted(set(BROKEN) - {"dim_ignored"}))  # dim_ignored: through the CLI, below
def test_a_kernel_broken_once_is_rejected_by_the_check_that_catches_it(kind, tmp_path):
    body, catcher = BROKEN[kind]
    timeout = 6 if kind == "hang" else 20  # the hang is caught when its call runs out of time
    (v,) = judge.judge(candidate(tmp_path, kind, body), timeout_s=timeout, full=kind in FULL, max_time=TIMED_S)
    assert v.verdict == "rejected"
    assert catcher in failed_checks(v), [(c.name, c.ok, c.detail) for c in v.checks]


def test_the_fuzz_shrinks_what_it_finds_to_the_smallest_wrong_example(tmp_path):
    (v,) = judge.judge(candidate(tmp_path, "block", BROKEN["block_boundary"][0]), timeout_s=20, full=True)
    assert failed_checks(v) == ["correct: layout fuzz"], [(c.name, c.detail) for c in v.checks]
    detail = next(c.detail for c in v.checks if c.name == "correct: layout fuzz")
    # every other dim shrunk to 1, every layout to contiguous: the row of 257 alone is what is wrong
    assert re.search(r"shape=\((1, )*257(, 1)*,?\)", detail), detail
    assert re.search(r"layouts=\(('contiguous',? ?)+\)", detail), detail


def test_torch_inside_a_triton_rung_is_rejected(tmp_path):
    path = candidate(tmp_path, "sneaky", rung='rung="triton", interpreted_on_cpu=True')
    (v,) = judge.judge(path, timeout_s=60, max_time=TIMED_S)
    assert failed_checks(v) == ["honest_triton"], [(c.name, c.detail) for c in v.checks]
    assert "'exp'" in next(c.detail for c in v.checks if c.name == "honest_triton")


STUDENT = ROOT / "tests" / "candidates" / "triton_softmax.py"


@pytest.mark.interpreted
def test_a_triton_kernel_is_judged_through_the_interpreter_and_not_timed(tmp_path):
    done = dnnbench("judge", STUDENT, "--json", tmp_path / "v.json", cwd=tmp_path, interpret=True)
    assert done.returncode == 0, done.stdout + done.stderr
    (v,) = json.loads((tmp_path / "v.json").read_text())["variants"]
    checks = {c["name"]: c for c in v["checks"]}
    assert checks["honest_triton"]["ok"] and "timed" in checks and "interpreted" in checks["timed"]["detail"]
    assert not [r for r in v["timings"] if "median_s" in r and r["candidate"]]


@pytest.mark.interpreted
def test_a_triton_kernel_with_its_backward_broken_is_rejected(tmp_path):
    path = tmp_path / "broken_student.py"
    source = STUDENT.read_text()
    assert "dx = y * (dy - tl.sum(y * dy, axis=0))" in source
    path.write_text(source.replace("dx = y * (dy - tl.sum(y * dy, axis=0))", "dx = y * dy"))  # the sum term dropped
    done = dnnbench("judge", path, "--json", tmp_path / "v.json", cwd=tmp_path, interpret=True)
    assert done.returncode == 1, done.stdout + done.stderr
    (v,) = json.loads((tmp_path / "v.json").read_text())["variants"]
    failed = [c["name"] for c in v["checks"] if not c["ok"]]
    assert "correct" in failed and "grad" in next(c["detail"] for c in v["checks"] if c["name"] == "correct")


def dnnbench(*args, cwd, interpret: bool = False):
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"} | ({"TRITON_INTERPRET": "1"} if interpret else {})
    return subprocess.run(
        [sys.executable, "-m", "dnnbench.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_the_template_filled_in_is_accepted_and_the_cli_writes_json_and_a_page(tmp_path):
    made = dnnbench("judge", "--template", "softmax", cwd=tmp_path)
    assert made.returncode == 0 and '@variant("softmax", "mine"' in made.stdout
    stub = made.stdout[made.stdout.index("    raise NotImplementedError") :]
    body = BODY.replace("_check(x)", "if not x.is_floating_point():\n        raise TypeError('x: floating point')")
    path = tmp_path / "mine.py"
    path.write_text(made.stdout.replace(stub, body))
    page = tmp_path / "page"
    done = dnnbench("judge", path, "--json", tmp_path / "v.json", "-o", page, "--max-time", TIMED_S, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((tmp_path / "v.json").read_text())
    assert data["variants"][0]["verdict"] == "accepted" and data["variants"][0]["name"] == "mine"
    page = (tmp_path / "page" / "report.md").read_text()
    assert "softmax/mine: accepted" in page and "| mine (yours) |" in page and "of the roofline" in page
    assert "![Each timed variant on this device's roofline" in page and "(roofline_softmax_mine.png)" in page
    assert (tmp_path / "page" / "roofline_softmax_mine.png").stat().st_size > 10_000
    assert "data:image/png;base64" in (tmp_path / "page" / "index.html").read_text()
    assert set(data["variants"][0]["ceilings"]) == {"copy", "matmul"}


def test_a_rejected_kernel_exits_1(tmp_path):
    path = candidate(tmp_path, "dim_ignored", BROKEN["dim_ignored"][0])
    done = dnnbench("judge", path, "--timeout", "30", cwd=tmp_path)
    assert done.returncode == 1 and "softmax/dim_ignored: rejected" in done.stdout and "[FAIL] correct" in done.stdout


DECLARE = "from kernels.registry import variant\n\n\n@variant({args})\ndef f(x, dim=-1):\n    'x'\n    return x\n"
UNUSABLE = {
    "syntax": ("def broken(:\n", "syntax.py:1: does not import: SyntaxError"),
    "unknown_op": (
        DECLARE.format(args="'sofmax', 'x', rung='eager'"),
        "unknown_op.py: variant 'x' names an unknown op",
    ),
    "no_variant": ("import torch\n", "no_variant.py: declares no variant"),
    "reused_name": (
        DECLARE.format(args="'softmax', 'eager'"),
        "reused_name.py:4: does not import: ValueError: variant softmax/eager is declared twice",
    ),
    "missing": (None, "missing.py: no such file"),
}


@pytest.mark.parametrize("name", sorted(UNUSABLE))
def test_a_file_that_cannot_be_judged_gets_one_line_and_exit_2(name, tmp_path):
    source, says = UNUSABLE[name]
    path = tmp_path / f"{name}.py"
    if source is not None:
        path.write_text(source)
    done = dnnbench("judge", path, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
