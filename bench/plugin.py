"""The dnnbench pytest plugin (loaded for every run by `-p bench.plugin` in pyproject.toml).

Options shared by tests and benchmarks:
  --device cpu,cuda      devices to run on (default: every one available)
  --dtypes fp32,bf16     dtypes (default: each op's own list; benchmarks on the CPU: fp32)
  --batch-sizes 1,1024   batch sizes of the benchmark shapes (default: the profile's)
  --profile quick|full   benchmark sweep size
  --seed N               seed of the random inputs (default: a new one each run, printed in the header)
  --stream PATH          JSON-lines file that receives each finished benchmark at once
It also stores the machine's software and hardware in pytest-benchmark's machine_info, sets TF32 explicitly, and
appends every finished benchmark to the run's stream file, so a killed run keeps what it finished.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import kernels  # noqa: F401  (chooses the Triton interpreter before triton is imported)
from bench.machine import machine_info as dnnbench_machine_info
from bench.machine import set_precision_defaults

PROFILES = ("quick", "full")


@dataclass
class RunOptions:
    devices: tuple[str, ...]
    dtypes: tuple[str, ...] | None  # None: each op's default
    batch_sizes: tuple[int, ...] | None  # None: the profile's
    profile: str
    seed: int
    stream: Path | None


def _split(value: str | None) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()] if value else []


def available_devices() -> tuple[str, ...]:
    import torch

    return ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)


def parse_options(config) -> RunOptions:
    import torch

    from kernels.dtypes import DTYPES

    devices = tuple(_split(config.getoption("dnnbench_device"))) or available_devices()
    for d in devices:
        if d not in ("cpu", "cuda"):
            raise pytest.UsageError(f"--device: unknown device {d!r}; use cpu, cuda or both (cpu,cuda)")
        if d == "cuda" and not torch.cuda.is_available():
            raise pytest.UsageError("--device cuda: no CUDA device is available on this machine")
    dtypes = tuple(_split(config.getoption("dnnbench_dtypes"))) or None
    for d in dtypes or ():
        if d not in DTYPES and d != "tf32":
            raise pytest.UsageError(f"--dtypes: unknown dtype {d!r}; known: {', '.join(DTYPES)}, tf32")
    try:
        batches = tuple(int(b) for b in _split(config.getoption("dnnbench_batch_sizes"))) or None
    except ValueError as e:
        raise pytest.UsageError(f"--batch-sizes: expected comma-separated integers ({e})") from None
    if batches and min(batches) < 1:
        raise pytest.UsageError("--batch-sizes: batch sizes must be at least 1")
    seed = config.getoption("dnnbench_seed")
    if seed is None:
        seed = random.SystemRandom().randrange(1 << 31)
    stream = config.getoption("dnnbench_stream")
    if stream is None:
        json_path = config.getoption("benchmark_json", None)
        # beside the JSON: pytest-benchmark gives a Path (older releases an open file, whose .name is its path;
        # a Path's .name is only the file name, which would put the stream in the working directory)
        if json_path is not None and not isinstance(json_path, (str, os.PathLike)):
            json_path = getattr(json_path, "name", None)
        if json_path:
            stream = str(Path(json_path).with_suffix(".stream.jsonl"))
        else:
            stream = f"results/stream-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    return RunOptions(devices, dtypes, batches, config.getoption("dnnbench_profile"), seed, Path(stream))


def pytest_addoption(parser):
    group = parser.getgroup("dnnbench")
    group.addoption(
        "--device", dest="dnnbench_device", default=None, help="cpu, cuda or cpu,cuda (default: all available)"
    )
    group.addoption("--dtypes", dest="dnnbench_dtypes", default=None, help="comma-separated: fp32,tf32,fp16,bf16")
    group.addoption("--batch-sizes", dest="dnnbench_batch_sizes", default=None, help="comma-separated batch sizes")
    group.addoption("--profile", dest="dnnbench_profile", default="quick", choices=PROFILES, help="sweep size")
    group.addoption("--seed", dest="dnnbench_seed", type=int, default=None, help="seed of the random inputs")
    group.addoption("--stream", dest="dnnbench_stream", default=None, help="JSON-lines file of finished benchmarks")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.dnnbench = parse_options(config)
    set_precision_defaults()


def pytest_report_header(config):
    o = config.dnnbench
    return (
        f"dnnbench: devices={','.join(o.devices)} dtypes={','.join(o.dtypes) if o.dtypes else 'default'} "
        f"profile={o.profile} seed={o.seed} (rerun with --seed {o.seed}) "
        f"triton_interpret={os.environ.get('TRITON_INTERPRET', '0')}"
    )


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["dnnbench"] = dnnbench_machine_info()


def pytest_benchmark_update_json(config, benchmarks, output_json):
    o = config.dnnbench
    output_json["dnnbench"] = {
        "profile": o.profile,
        "devices": list(o.devices),
        "seed": o.seed,
        "stream": str(o.stream) if o.stream else None,
    }


_machine_line: dict | None = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or not report.passed:
        return
    fixture = getattr(item, "funcargs", {}).get("benchmark")
    if fixture is None or getattr(fixture, "stats", None) is None or fixture.has_error:
        return
    append_stream(item.config, fixture.stats.as_dict(include_data=False))


def append_stream(config, entry: dict) -> None:
    """Append one finished benchmark (pytest-benchmark's own JSON entry) to the run's JSON-lines stream; the first
    line of a stream holds the machine info."""
    global _machine_line
    path = config.dnnbench.stream
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        if _machine_line is None:
            _machine_line = {
                "machine_info": {"dnnbench": dnnbench_machine_info()},
                "dnnbench": {"seed": config.dnnbench.seed},
            }
            f.write(json.dumps(_machine_line) + "\n")
        f.write(json.dumps(entry, default=str) + "\n")
