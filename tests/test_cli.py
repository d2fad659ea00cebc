"""The `dnnbench` command as a user calls it."""

import subprocess
import sys

import pytest

from dnnbench.cli import main
from kernels import registry


def test_list_shows_every_variant_and_the_baseline(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for op in registry.ops():
        assert op in out
        for v in registry.variants(op):
            assert v.name in out
    assert out.count("[baseline]") == len(registry.ops())
    from models import LESSONS

    for lesson in LESSONS.values():
        assert f"  {lesson.id:<4} {lesson.title} - " in out
    assert "settings: mse, cross_entropy" in out


def test_list_shows_the_peers_with_their_library_and_why_one_cannot_run_here(capsys, monkeypatch):
    from kernels.peers import library

    def missing(lib):
        return None if lib.dist == "liger-kernel" else f"{lib.dist} is not installed: pip install -e '.[peers]'"

    monkeypatch.setattr(library, "_missing", missing)
    monkeypatch.setitem(registry._PLUGIN_ERRORS, "broken", "broken.module: ModuleNotFoundError: No module named 'x'")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.count("[liger-kernel 0.8.5]") == 3 and out.count("[flag-gems 5.0.0]") == 7
    flaggems_lines = [line for line in out.splitlines() if "devices: cuda;" in line]
    assert len(flaggems_lines) == 7  # GPU-only: no interpreter note
    assert all("not here: flag-gems is not installed" in line for line in flaggems_lines)
    assert "plugin 'broken' (dnnbench.variants) did not load: broken.module: ModuleNotFoundError" in out


@pytest.mark.parametrize("argv", [[], ["bogus"]])
def test_bad_arguments_exit_2_with_one_line(argv):
    proc = subprocess.run([sys.executable, "-m", "dnnbench.cli", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("dnnbench: error:")


def test_run_times_a_selection_and_writes_its_report(tmp_path):
    """`dnnbench run` as `make bench` uses it, on one small case."""
    out = tmp_path / "run"
    select = "softmax and forward and 1024x16 and (eager or lesson)"
    argv = [
        "run",
        "--device",
        "cpu",
        "-k",
        select,
        "--max-time",
        "0.01",
        "--seed",
        "3",
        "--studies",
        "dropout",
        "-o",
        str(out),
    ]
    proc = subprocess.run([sys.executable, "-m", "dnnbench.cli", *argv], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (out / "results.json").exists() and (out / "report" / "index.html").exists()
    assert f"report: {(out / 'report' / 'index.html').resolve()}" in proc.stdout
    md = (out / "report" / "report.md").read_text()
    assert "## Op: softmax" in md and "| lesson | eager |" in md
    assert (out / "study-dropout.jsonl").exists() and "## Study: dropout" in md


def test_calibrate_prints_the_ceilings(capsys):
    assert main(["calibrate", "--device", "cpu", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    assert "copy" in out and "GB/s" in out and "matmul" in out and "GFLOP/s" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["calibrate", "--device", "tpu"], "--device tpu"),
        (["compare", "a.json"], "the following arguments"),
        (["run", "--shard", "3/2", "-o", "unused"], "--shard '3/2': I must be between 1 and N"),
    ],
)
def test_bad_subcommand_arguments_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        code = main(argv)
        raise SystemExit(code)
    assert e.value.code == 2 and message in capsys.readouterr().err
