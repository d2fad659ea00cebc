"""Studies apply what they claim: each systems execution's setting is observed inside its training steps (threads,
autocast's dtype, memory format, compiled graphs) while the study runs; compile cost is recorded; a dynamics
study's seeds give different runs and the same seed the same run."""

from dataclasses import replace

import pandas as pd
import pytest
import torch
from torch import nn

from bench import systems
from bench.systems import SYSTEMS_STUDIES, SystemsStudy, run_systems_study
from kernels.compile import compiled_graphs
from models.studies import STUDIES, Arm, Study, run_study


@pytest.fixture
def observed():
    """What every Linear and Conv2d forward sees while the fixture is active: the thread count, the output's dtype,
    whether the input is channels_last, and the input's device."""
    seen = []

    def hook(module, args, output):
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            x = args[0]
            nhwc = None  # a Linear's input has no memory format; one channel is stored alike in both
            if isinstance(module, nn.Conv2d) and x.shape[1] > 1:
                nhwc = not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
            seen.append(
                {"threads": torch.get_num_threads(), "dtype": output.dtype, "nhwc": nhwc, "device": x.device.type}
            )

    handle = nn.modules.module.register_module_forward_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


def shares(seen: list[dict], key: str) -> dict:
    """How many layer calls saw each value of `key`. Every execution makes the same calls (a first call, the
    warm-up, the timed rounds), so executions that apply their settings in every call split them evenly."""
    return pd.Series([o[key] for o in seen if o[key] is not None]).value_counts().to_dict()


def small(name: str, lessons: tuple[str, ...], monkeypatch) -> SystemsStudy:
    """Study `name` cut to one round of one small batch on `lessons` (its executions unchanged); the FLOP count that
    sizes CPU work (one more forward, in default settings) is left out."""
    monkeypatch.setattr(systems, "count_flops", lambda step: 0)
    s = SYSTEMS_STUDIES[name]
    return replace(
        s, name=f"{name}-mini", lessons={"quick": lessons}, batches={"quick": (8,)}, rounds={"quick": 1}, training={}
    )


def test_the_threads_study_runs_on_one_thread_and_on_all(observed, monkeypatch):
    before = torch.get_num_threads()
    # "all cores" is torch's setting when the study starts; under pytest-xdist a worker may hold one core's share
    # (tests/conftest.py), so the test gives torch two threads: one and all must be different executions
    torch.set_num_threads(max(before, 2))
    default = torch.get_num_threads()
    try:
        run_systems_study(small("threads", ("4.3",), monkeypatch))
        assert torch.get_num_threads() == default
    finally:
        torch.set_num_threads(before)
    counts = shares(observed, "threads")
    assert set(counts) == {1, default} and counts[1] == counts[default]


def test_the_precision_study_turns_autocast_on_and_off(observed, monkeypatch):
    run_systems_study(small("precision", ("4.3",), monkeypatch))
    counts = shares(observed, "dtype")  # fp32 and bf16-autocast (TF32 and fp16 autocast run on CUDA only)
    assert set(counts) == {torch.float32, torch.bfloat16} and counts[torch.float32] == counts[torch.bfloat16]


def test_the_layout_study_feeds_channels_last_and_nchw(observed, monkeypatch):
    run_systems_study(small("layout", ("6.4",), monkeypatch))
    counts = shares(observed, "nhwc")
    assert set(counts) == {True, False} and counts[True] == counts[False]


def test_the_device_study_runs_where_it_says(observed, monkeypatch):
    df = pd.DataFrame(run_systems_study(small("device", ("4.3",), monkeypatch)))
    devices = {o["device"] for o in observed}
    assert devices == set(df[df["kind"] == "timing"]["device"])
    assert devices == ({"cpu", "cuda"} if torch.cuda.is_available() else {"cpu"})


def test_the_backend_study_compiles_and_records_the_cost(monkeypatch):
    before = compiled_graphs()
    df = pd.DataFrame(run_systems_study(small("backend", ("4.3",), monkeypatch)))
    assert compiled_graphs() > before, "the compiled execution compiled nothing"
    timing = df[df["kind"] == "timing"].set_index("setting")
    # the compiled step's first call traces and compiles: many steps' worth (even with Inductor's caches warm, which
    # makes a fixed number of seconds a flaky bound), and more than eager's first call adds to a step
    compiled, eager = timing.loc["compiled"], timing.loc["eager"]
    assert compiled["compile_s"] > max(10 * compiled["step_s"], eager["compile_s"]), (compiled, eager)
    assert timing.loc["compiled", "first_call_s"] > timing.loc["compiled", "compile_s"] > 0


def test_a_dynamics_study_runs_each_seed_once_and_seeds_differ(monkeypatch):
    study = Study(
        "seeds", "?", (Arm("default", "5.3", "default", {"epochs": 1, "limit": 120}),), "loss", seeds=(1, 2, 1)
    )
    monkeypatch.setitem(STUDIES, "seeds", study)
    df = pd.DataFrame(run_study("seeds"))
    losses = [df[df["seed"] == s]["loss"].tolist() for s in (1, 2)]
    assert sorted(df["seed"].unique()) == [1, 2]
    assert losses[0] != losses[1], "seeds 1 and 2 trained the same run"
    first, repeat = losses[0][: len(losses[0]) // 2], losses[0][len(losses[0]) // 2 :]
    assert first == repeat, "seed 1 twice gave two runs"
