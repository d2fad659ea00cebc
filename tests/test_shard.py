"""Deterministic shards (bench/shard.py, `--shard I/N`): on the real collection of the quick and full sweeps, the
shards are disjoint, together exactly the unsharded selection, and balanced by expected seconds."""

import subprocess
import sys
from pathlib import Path

import pytest

from bench import budget
from bench.harness import bench_cases
from bench.lessons import lab_cases, lesson_cases
from bench.plugin import RunOptions
from bench.shard import assign, loads, parse_shard

ROOT = Path(__file__).parent.parent


def costs(profile: str) -> dict[str, float]:
    options = RunOptions(("cpu", "cuda"), (), (), profile, 0, None)
    cases = bench_cases(options) + lesson_cases(options) + lab_cases(options)
    return {c.id: budget.model_seconds(c, 1.0) for c in cases}


@pytest.mark.parametrize("profile", ["quick", "full"])
@pytest.mark.parametrize("n", [1, 2, 3, 8])
def test_the_shards_are_disjoint_whole_and_balanced(profile, n):
    cost = costs(profile)
    shards = assign(cost, n)
    assert set(shards) == set(cost) and set(shards.values()) <= set(range(1, n + 1))  # each case in exactly one
    load = loads(cost, shards, n)
    assert sum(load) == pytest.approx(sum(cost.values()))
    mean = sum(load) / n
    assert max(load) <= max(4 / 3 * mean, mean + max(cost.values())) + 1e-9


def test_balance_is_by_cost_not_by_count():
    shards = assign({"big": 10.0, "a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}, 2)
    assert [k for k, s in shards.items() if s == shards["big"]] == ["big"]


def test_the_assignment_does_not_depend_on_the_collection_order():
    cost = costs("quick")
    assert assign(dict(reversed(list(cost.items()))), 3) == assign(cost, 3)


@pytest.mark.parametrize("text", ["0/2", "3/2", "2", "a/b", "1/0"])
def test_a_bad_shard_is_a_clear_error(text):
    with pytest.raises(ValueError, match="--shard"):
        parse_shard(text)


def collected(*args: str) -> set[str]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "bench/test_ops.py",
            "bench/test_lessons.py",
            "--collect-only",
            "-q",
            "-p",
            "no:randomly",
            "--device",
            "cpu",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line for line in out.splitlines() if "::" in line}


def test_pytest_shards_add_up_to_the_whole_collection():
    whole = collected()
    parts = [collected("--shard", f"{i}/3") for i in (1, 2, 3)]
    assert whole and all(parts)
    assert set().union(*parts) == whole and sum(len(p) for p in parts) == len(whole)
