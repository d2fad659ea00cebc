"""Shard jobs for the dnnbench submit tests (tests/test_submit.py), run by submitit's local executor in real job
processes: a fast stand-in for `dnnbench run --shard I/N` that writes its share of a synthetic run
(tests/fake_results.py) as a stream, and wrappers that kill or fail chosen shards. Importable from the job process
(the repository root is its working directory), which is why they live in a module and not in the test file."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from tests.fake_results import benchmarks, machine_info


def fake_shard(run_args: list[str], shard: str, out: str) -> str:
    """Shard I/N of the laptop's synthetic run: every N-th benchmark from the I-th, as a dnnbench stream."""
    i, n = map(int, shard.split("/"))
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    lines = [{"machine_info": machine_info("laptop"), "dnnbench": {"profile": "quick", "shard": shard}}]
    lines += benchmarks("laptop", seed=1)[i - 1 :: n]
    (folder / "results.stream.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return out


@dataclass(frozen=True)
class KilledOnce:
    """Shards in `shards` are killed (SIGKILL, as an out-of-memory killer or a lost node would) on their first
    attempt; the marker files in `marks` remember the attempts across job processes."""

    marks: str
    shards: tuple[str, ...]

    def __call__(self, run_args: list[str], shard: str, out: str) -> str:
        marker = Path(self.marks) / shard.replace("/", "-of-")
        if shard in self.shards and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return fake_shard(run_args, shard, out)


@dataclass(frozen=True)
class AlwaysFails:
    """Shards in `shards` raise on every attempt; the others run."""

    shards: tuple[str, ...]

    def __call__(self, run_args: list[str], shard: str, out: str) -> str:
        if shard in self.shards:
            raise RuntimeError(f"planted failure of shard {shard}")
        return fake_shard(run_args, shard, out)


@dataclass(frozen=True)
class KilledAfterResults:
    """Shards in `shards` write all their results, then are killed (SIGKILL) before their job can return: on every
    attempt. Their rows exist on disk; the shard is still missing."""

    shards: tuple[str, ...]

    def __call__(self, run_args: list[str], shard: str, out: str) -> str:
        fake_shard(run_args, shard, out)
        if shard in self.shards:
            os.kill(os.getpid(), signal.SIGKILL)
        return out


@dataclass(frozen=True)
class WaitsOnFirstAttempt:
    """On its first attempt a shard writes its process id to `marks/<shard>.pid` and waits (for the test to cancel
    or kill its job); on a later attempt it runs."""

    marks: str

    def __call__(self, run_args: list[str], shard: str, out: str) -> str:
        import time

        pid_file = Path(self.marks) / (shard.replace("/", "-of-") + ".pid")
        if not pid_file.exists():
            pid_file.write_text(str(os.getpid()))
            time.sleep(600)
        return fake_shard(run_args, shard, out)
