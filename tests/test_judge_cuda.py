"""`dnnbench judge --device cuda`: the checks only a GPU can make. A Triton softmax judged on the device is
accepted and timed with the ladder by both clocks; the same kernel launched on a side stream, whether or not that
stream waits for the current one, is rejected by the stream check. On the CPU every test here is a visible skip;
the GPU check (dnnbench/gpu_check.py) runs them on the device."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUDENT = ROOT / "tests" / "candidates" / "triton_softmax.py"
LAUNCH = "            _softmax_fwd_kernel[(rows.shape[0],)](y, rows, rows.shape[1], BLOCK=block)\n"
# the forward kernel on a stream of its own; WAIT: that stream first waits for the current one (its inputs are
# ready), but the current stream never waits for it (its output is read too soon)
SIDE = "            side = torch.cuda.Stream()\n{wait}            with torch.cuda.stream(side):\n    " + LAUNCH
WAIT = "            side.wait_stream(torch.cuda.current_stream())\n"


@pytest.fixture
def cuda(device):
    if device != "cuda":
        pytest.skip(f"the judge's stream and timing checks need a GPU: this run is on {device} (pytest --device cuda)")


def judged(path: Path, out: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "dnnbench.cli", "judge", str(path), "--device", "cuda", "--json", str(out / "v.json")],
        capture_output=True,
        text=True,
        cwd=out,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    (v,) = json.loads((out / "v.json").read_text())["variants"]
    return v


def failed(v: dict) -> list[str]:
    return [c["name"] for c in v["checks"] if not c["ok"]]


def test_a_triton_kernel_on_the_current_stream_is_accepted_and_timed_by_both_clocks(cuda, tmp_path):
    v = judged(STUDENT, tmp_path)
    assert v["verdict"] == "accepted", [(c["name"], c["detail"]) for c in v["checks"]]
    stream = next(c for c in v["checks"] if c["name"] == "honest_stream")
    assert "right" in stream["detail"]
    mine = [r for r in v["timings"] if r["candidate"] and "median_s" in r]
    assert mine and all("wall_s" in r and r["speedup_timer"] in ("cuda_events", "wall") for r in mine)


@pytest.mark.parametrize("wait", [False, True], ids=["no_wait", "not_waited_for"])
def test_a_kernel_on_a_side_stream_is_rejected(cuda, wait, tmp_path):
    source = STUDENT.read_text()
    assert LAUNCH in source
    path = tmp_path / "side_stream.py"
    path.write_text(source.replace(LAUNCH, SIDE.format(wait=WAIT if wait else "")))
    v = judged(path, tmp_path)
    assert "honest_stream" in failed(v), [(c["name"], c["detail"]) for c in v["checks"]]
