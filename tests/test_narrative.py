"""The op sections' generated sentences on hand-made tables whose answers are known: the bound of each machine and
device by its own balance point (and "mixed" at the boundary), the winner counts with the baseline's own wins
plain, and the best case against its roof: the matmul peak for compute-bound work, the copy bandwidth otherwise."""

import math

import pandas as pd
import pytest

from reports.narrative import bound_sentence, ceiling_sentence, fmt_rate, winners_sentence


def ceilings(*roofs: tuple[str, str, float, float]) -> pd.DataFrame:
    """(machine, device, copy GB/s, fp32 matmul GFLOP/s) -> calibration rows."""
    rows = []
    for machine, device, gbps, gflops in roofs:
        rows.append({"machine": machine, "device": device, "ceiling": "copy", "dtype": "fp32", "gbps": gbps})
        rows.append({"machine": machine, "device": device, "ceiling": "matmul", "dtype": "fp32", "gflops": gflops})
    return pd.DataFrame(rows)


def op_rows(machine: str, device: str, intensities, variant: str = "eager", gbps=None, gflops=None) -> list[dict]:
    """One row per intensity, each its own case (group), each a larger size than the one before."""
    return [
        {
            "machine": machine,
            "device": device,
            "variant": variant,
            "dtype": "fp32",
            "mode": "forward",
            "family": "",
            "shape": f"{i}",
            "group": f"{machine}-{device}-{i}",
            "elements": 10 * (i + 1),
            "intensity": x,
            "gbps": (gbps or [None] * len(intensities))[i],
            "gflops": (gflops or [None] * len(intensities))[i],
        }
        for i, x in enumerate(intensities)
    ]


def test_rates_of_a_hundred_and_more_are_whole_numbers_with_separators():
    assert fmt_rate(1234.5, "GB/s") == "1,234 GB/s"
    assert fmt_rate(99.54, "GB/s") == "99.5 GB/s"


def test_each_machine_and_device_is_placed_by_its_own_balance_point():
    # balance points: a/cpu 10, a/cuda 0.5, b/cpu 2 (the boundary): each sees only its own rows' intensities
    roofs = ceilings(("a", "cpu", 100.0, 1000.0), ("a", "cuda", 1000.0, 500.0), ("b", "cpu", 100.0, 200.0))
    ops = pd.DataFrame(
        op_rows("a", "cpu", [1.0, 2.0]) + op_rows("a", "cuda", [1.0, 3.0]) + op_rows("b", "cpu", [2.0, 2.0])
    )
    text = bound_sentence("softmax", ops, roofs)
    assert text.startswith("softmax does 1 to 3 FLOP/byte: ")
    assert "memory-bound on cpu of a (balance point 10 FLOP/byte: 1,000 GFLOP/s fp32 over 100 GB/s, measured)" in text
    assert "compute-bound on cuda (balance point 0.5 FLOP/byte" in text
    assert "mixed on cpu of b (balance point 2 FLOP/byte" in text  # neither below nor above the balance


def test_an_intensity_at_the_balance_point_is_mixed_from_either_side():
    roofs = ceilings(("a", "cpu", 100.0, 200.0))
    assert "mixed on cpu" in bound_sentence("op", pd.DataFrame(op_rows("a", "cpu", [1.0, 2.0])), roofs)
    assert "mixed on cpu" in bound_sentence("op", pd.DataFrame(op_rows("a", "cpu", [2.0, 3.0])), roofs)
    one = bound_sentence("op", pd.DataFrame(op_rows("a", "cpu", [0.5, 0.5])), roofs)
    assert one.startswith("op does 0.5 FLOP/byte: memory-bound on cpu")


def case_rows(cases: dict[str, dict[str, float]], spread: float = 0.05) -> list[dict]:
    """One row per (case, variant) on machine m, cuda; each speedup's interval is speedup * exp(-+spread)."""
    rows = []
    for case, times in cases.items():
        for variant, t in times.items():
            speedup = times["eager"] / t
            rows.append(
                {
                    "machine": "m",
                    "device": "cuda",
                    "variant": variant,
                    "group": case,
                    "median_s": t,
                    "speedup": speedup,
                    "speedup_lo": speedup * math.exp(-spread),
                    "speedup_hi": speedup * math.exp(spread),
                    "mode": "forward",
                    "dtype": "fp32",
                    "shape": case,
                }
            )
    return rows


def test_the_baseline_winning_its_cases_gets_no_speedup_against_itself():
    rows = case_rows(
        {"c1": {"eager": 1.0, "triton": 2.0}, "c2": {"eager": 1.0, "triton": 0.5}, "c3": {"eager": 1.0, "triton": 1.5}}
    )
    other = [dict(r, device="cpu", median_s=1.0) for r in rows]  # another device's rows never count here
    text = winners_sentence("m", "cuda", "cuda", pd.DataFrame(rows + other), "eager")
    assert text == (
        "On cuda, the fastest variant is eager in 2, triton in 1 (up to 2.00x eager, 95% interval 1.90-2.10, at "
        "forward fp32 c2) of 3 cases; the slowest is triton at 0.50x eager (95% interval 0.48-0.53, forward fp32 c1)."
    )


def test_no_win_is_claimed_where_the_interval_holds_one():
    """A 2% lead with a 5% interval is no win, on either side; the slowest is named only below 1 all along."""
    rows = case_rows({"c1": {"eager": 1.0, "triton": 0.98}, "c2": {"eager": 1.0, "triton": 0.5}})
    text = winners_sentence("m", "cuda", "cuda", pd.DataFrame(rows), "eager")
    assert text == (
        "On cuda, the fastest variant is triton in 1 (up to 2.00x eager, 95% interval 1.90-2.10, at forward fp32 c2) "
        "of 2 cases; in 1 the fastest is within the 95% interval of eager: no winner claimed."
    )
    slower = case_rows({"c1": {"eager": 1.0, "triton": 1.02}})
    text = winners_sentence("m", "cuda", "cuda", pd.DataFrame(slower), "eager")
    assert text == "On cuda, the fastest is within the 95% interval of eager in every case (1)."
    unknown = [
        dict(r, speedup_lo=math.nan, speedup_hi=math.nan) for r in case_rows({"c1": {"eager": 1.0, "triton": 0.5}})
    ]
    text = winners_sentence("m", "cuda", "cuda", pd.DataFrame(unknown), "eager")
    assert text == "On cuda, the fastest is within the 95% interval of eager in every case (1)."


@pytest.mark.parametrize("intensity, roof", [(4.0, "peak"), (2.0, "copy")])  # balance point 2: at it, memory-bound
def test_the_best_case_is_measured_against_the_roof_of_its_bound(intensity, roof):
    roofs = ceilings(("m", "cpu", 100.0, 200.0), ("m", "cuda", 1000.0, 2000.0))
    ops = pd.DataFrame(
        op_rows("m", "cpu", [intensity, intensity], gbps=[10.0, 25.0], gflops=[50.0, 100.0])
        + op_rows("m", "cuda", [intensity], gbps=[900.0], gflops=[900.0])
    )
    text = ceiling_sentence("softmax", ops, roofs)
    if roof == "peak":
        cpu = "On cpu the best softmax case reaches 100 GFLOP/s (eager, forward fp32 1), 50% of the measured fp32 "
        assert text.startswith(cpu + "matmul peak; on cuda the best softmax case reaches 900 GFLOP/s")
        assert text.endswith("(eager, forward fp32 0), 45% of the measured fp32 matmul peak.")
    else:
        cpu = "On cpu the best softmax case moves 25 GB/s (eager, forward fp32 1), 25% of the measured copy "
        assert text.startswith(cpu + "bandwidth (100 GB/s); on cuda the best softmax case moves 900 GB/s")
        assert text.endswith("90% of the measured copy bandwidth (1,000 GB/s).")


@pytest.mark.parametrize("cache", ["warm", "cold"])
def test_a_warm_figure_above_the_copy_bandwidth_says_it_is_a_cache_figure(cache):
    roofs = ceilings(("m", "cpu", 100.0, 200.0))
    ops = pd.DataFrame([dict(r, cache=cache) for r in op_rows("m", "cpu", [0.5], gbps=[180.0], gflops=[90.0])])
    text = ceiling_sentence("softmax", ops, roofs)
    assert text.startswith("On cpu the best softmax case moves 180 GB/s (eager, forward fp32 0), 180% of the measured")
    clause = "a warm-cache figure, its working set stays in cache (--cache cold reads it from memory)"
    assert (clause in text) == (cache == "warm")


def test_no_measured_copy_bandwidth_means_no_ceiling_sentence():
    ops = pd.DataFrame(op_rows("m", "cpu", [1.0], gbps=[10.0], gflops=[10.0]))
    assert ceiling_sentence("softmax", ops, ceilings(("other", "cpu", 100.0, 200.0))) is None
