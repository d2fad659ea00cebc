"""The `dnnbench` command as a user calls it."""

import subprocess
import sys

import pytest

from bench.cli import main
from kernels import registry


def test_list_shows_every_variant_and_the_baseline(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for op in registry.ops():
        assert op in out
        for v in registry.variants(op):
            assert v.name in out
    assert out.count("[baseline]") == len(registry.ops())


@pytest.mark.parametrize("argv", [[], ["bogus"]])
def test_bad_arguments_exit_2_with_one_line(argv):
    proc = subprocess.run([sys.executable, "-m", "bench.cli", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("dnnbench: error:")
