"""`dnnbench compare`: a planted slowdown is found, a repeat of the same run is called within noise."""

import json

import pytest

from dnnbench.cli import main
from reports.compare import compare, judge, mann_whitney_p
from tests.fake_results import write_run

SLOW = "test_op[softmax-forward-cuda-fp32-1024x4096-triton]"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    base = write_run(tmp / "base.json", "server", seed=1)
    repeat = write_run(tmp / "repeat.json", "server", seed=2)
    slow = write_run(tmp / "slow.json", "server", seed=3, slowdown={SLOW: 2.0})
    return base, repeat, slow


def test_a_planted_2x_slowdown_is_slower_and_nothing_else_is(files):
    base, _, slow = files
    pairs, only_base, only_new = compare([base], [slow])
    verdicts = {p.name.split("::")[1]: p for p in pairs}
    assert verdicts[SLOW].verdict == "slower" and verdicts[SLOW].change_pct == pytest.approx(100, abs=10)
    assert [p.verdict for p in pairs].count("slower") == 1
    assert not only_base and not only_new


def test_a_repeat_of_the_same_run_is_within_noise(files):
    base, repeat, _ = files
    pairs, _, _ = compare([base], [repeat])
    assert len(pairs) > 50 and {p.verdict for p in pairs} == {"within noise"}


def test_fail_above_exits_1_on_a_regression_and_0_on_a_repeat(files, capsys):
    base, repeat, slow = files
    assert main(["compare", str(base), str(slow), "--fail-above", "20"]) == 1
    assert "FAIL: 1 benchmark(s) slower" in capsys.readouterr().out
    assert main(["compare", str(base), str(slow), "--fail-above", "150"]) == 0
    assert main(["compare", str(base), str(repeat), "--fail-above", "1"]) == 0


def test_files_without_raw_timings_compare_by_their_iqrs(files, tmp_path):
    """pytest-benchmark's --benchmark-save keeps stats only: the verdict then rests on the IQRs."""
    base, _, slow = files
    stripped = []
    for path in (base, slow):
        data = json.loads(path.read_text())
        for b in data["benchmarks"]:
            del b["stats"]["data"]
            b["extra_info"] = {}  # another project's file: no dnnbench fields either
        out = tmp_path / path.name
        out.write_text(json.dumps(data))
        stripped.append(out)
    pairs, _, _ = compare(stripped[:1], stripped[1:])
    slow_pair = next(p for p in pairs if p.name.endswith(SLOW))
    assert slow_pair.verdict == "slower" and slow_pair.evidence == "IQRs apart"


def test_judge_uses_the_spread_not_a_fixed_threshold():
    tight = {"median": 1.0, "q1": 0.999, "q3": 1.001, "iqr": 0.002}
    shifted = {"median": 1.03, "q1": 1.029, "q3": 1.031, "iqr": 0.002}
    wide = {"median": 1.0, "q1": 0.8, "q3": 1.2, "iqr": 0.4}
    wide_shifted = {"median": 1.1, "q1": 0.9, "q3": 1.3, "iqr": 0.4}
    assert judge(tight, shifted)[0] == "slower"  # 3% beyond a 0.2% spread
    assert judge(wide, wide_shifted)[0] == "within noise"  # 10% inside a 40% spread


def test_mann_whitney_p_separates_shifted_samples():
    a = [1.0 + 0.01 * i for i in range(30)]
    assert mann_whitney_p(a, [x + 1.0 for x in a]) < 1e-6
    assert mann_whitney_p(a, list(reversed(a))) > 0.9


def stats(sample) -> dict:
    """pytest-benchmark's stats of a sample, quartiles as its own (sorted, by rank)."""
    data = sorted(sample)
    n = len(data)
    q1, q3 = data[n // 4], data[3 * n // 4]
    return {"median": data[n // 2], "q1": q1, "q3": q3, "iqr": q3 - q1, "data": data}


def test_a_real_difference_inside_the_spread_is_within_noise():
    """The rank test alone would call it: 1,000 rounds each, shifted by 0.05 within an IQR of 0.15 (p ~ 1e-20);
    the shift is no larger than the spread, so the verdict is within noise."""
    base = [1.0 + 0.3 * i / 999 for i in range(1000)]
    new = [x + 0.05 for x in base]
    assert mann_whitney_p(base, new) < 1e-10
    assert judge(stats(base), stats(new))[0] == "within noise"


def test_a_shift_beyond_the_spread_without_significance_is_within_noise():
    """The spread alone would call it: 5 rounds each, every new round 1.0 above every base round (a shift 50x the
    IQR), but 5 against 5 cannot reach p < 0.001 (the smallest two-sided p is ~0.012)."""
    base = [1.0, 1.01, 1.02, 1.03, 1.04]
    new = [x + 1.0 for x in base]
    assert 0.001 < mann_whitney_p(base, new) < 0.02
    assert judge(stats(base), stats(new)) == ("within noise", "U test p=0.012")


@pytest.mark.parametrize("n, verdict", [(7, "within noise"), (8, "slower")])
def test_the_significance_level_is_one_in_a_thousand(n, verdict):
    """Fully separated samples of n rounds: p = 0.0022 for 7 against 7, 0.00094 for 8 against 8 (normal
    approximation with continuity correction), on either side of ALPHA = 0.001; the shift is far beyond the spread."""
    base = [1.0 + 0.001 * i for i in range(n)]
    new = [x + 1.0 for x in base]
    assert judge(stats(base), stats(new))[0] == verdict


@pytest.mark.parametrize("factor, verdict", [(1.0, "within noise"), (1.02, "slower"), (-1.02, "faster")])
def test_the_spread_boundary_is_the_larger_iqr(factor, verdict):
    """A shift of exactly the IQR is within noise, 2% more is a verdict, in both directions (100 rounds each, p
    far below ALPHA in every case)."""
    base = stats([1.0 + 0.001 * i for i in range(100)])
    shift = factor * base["iqr"]
    new = stats([x + shift for x in base["data"]])
    assert new["median"] - base["median"] == pytest.approx(shift)
    assert judge(base, new)[0] == verdict


def test_mann_whitney_p_by_hand():
    """[1, 2, 3] against [4, 5, 6]: U = 0, mean 4.5, sigma = sqrt(3 * 3 * 7 / 12) = 2.2913, z = (4.5 - 0.5) / sigma
    = 1.7457, two-sided p = erfc(z / sqrt(2)) = 0.0809."""
    assert mann_whitney_p([1, 2, 3], [4, 5, 6]) == pytest.approx(0.08086, abs=1e-4)
    assert mann_whitney_p([4, 5, 6], [1, 2, 3]) == pytest.approx(0.08086, abs=1e-4)


def test_mann_whitney_p_with_ties_by_hand():
    """[1, 2, 2, 3] against [2, 3, 3, 4]: average ranks 1, 3, 3, 6 for the first (the three 2s share ranks 2-4, the
    three 3s ranks 5-7), U = 13 - 10 = 3 against a mean of 8; ties 2 x (3^3 - 3) = 48 over n(n-1) = 56, sigma =
    sqrt(16 / 12 * (9 - 48 / 56)) = 3.2950, z = (5 - 0.5) / sigma = 1.3657, p = 0.1720 (0.1939 without the tie
    correction)."""
    assert mann_whitney_p([1, 2, 2, 3], [2, 3, 3, 4]) == pytest.approx(0.17203, abs=1e-5)


def test_identical_and_centred_samples_give_p_1():
    """All values tied: no spread to test against (sigma 0), p = 1. U at its mean to within the continuity
    correction: z is clipped at 0, p = 1, never above."""
    assert mann_whitney_p([2.0] * 6, [2.0] * 6) == 1.0
    assert mann_whitney_p([1, 4], [2, 3]) == 1.0


def quartiles(median, q1, q3) -> dict:
    return {"median": median, "q1": q1, "q3": q3, "iqr": q3 - q1}


@pytest.mark.parametrize(
    "new, verdict, evidence",
    [
        (quartiles(0.5, 0.45, 0.55), "faster", "IQRs apart"),  # new q3 below base q1
        (quartiles(2.0, 1.95, 2.05), "slower", "IQRs apart"),
        (quartiles(1.5, 1.1, 1.9), "within noise", "IQRs overlap"),  # new q1 = base q3: touching is overlapping
        (quartiles(0.5, 0.1, 0.9), "within noise", "IQRs overlap"),  # new q3 = base q1
    ],
)
def test_without_raw_timings_the_verdict_rests_on_the_iqrs(new, verdict, evidence):
    base = quartiles(1.0, 0.9, 1.1)
    assert judge(base, new) == (verdict, evidence)


@pytest.mark.parametrize("n, evidence", [(4, "IQRs apart"), (5, "U test p=0.012")])
def test_the_u_test_needs_five_rounds_on_each_side(n, evidence):
    base = stats([1.0 + 0.01 * i for i in range(n)])
    new = stats([x + 1.0 for x in base["data"]])
    assert judge(base, new)[1] == evidence
    fewer = dict(new, data=new["data"][:4])  # five against four: not enough either
    assert judge(base, fewer)[1] in ("IQRs apart", "IQRs overlap") or n == 4


def test_a_missing_iqr_counts_as_no_spread():
    base = {"median": 1.0, "q1": 0.99, "q3": 1.01, "iqr": None, "data": [1.0 + 0.001 * i for i in range(50)]}
    new = {**base, "median": 1.1, "data": [1.1 + 0.001 * i for i in range(50)]}
    assert judge(base, new)[0] == "slower"  # 10% apart, p tiny, and no IQR to be within
    assert judge(new, base)[0] == "faster"


def test_change_pairs_and_names_present_on_one_side_only(tmp_path):
    from reports.compare import format_pairs

    def run(path, medians):
        entries = [
            {"name": n, "fullname": f"t.py::{n}", "stats": {"median": m, "q1": m, "q3": m, "iqr": 0.0}}
            for n, m in medians.items()
        ]
        entries.append({"name": "no_stats", "fullname": "t.py::no_stats", "stats": {}})
        path.write_text(json.dumps({"machine_info": {}, "benchmarks": entries}))
        return path

    base = run(tmp_path / "a.json", {"kept": 2e-3, "gone": 1e-3})
    new = run(tmp_path / "b.json", {"kept": 3e-3, "added": 1e-3})
    pairs, only_base, only_new = compare([base], [new])
    assert [p.name for p in pairs] == ["t.py::kept"] and only_base == ["t.py::gone"] and only_new == ["t.py::added"]
    assert pairs[0].change_pct == pytest.approx(50.0) and pairs[0].verdict == "slower"
    # name column as wide as the longest name (10), times in us, the change signed
    assert format_pairs(pairs).splitlines() == [
        "benchmark " + "  " + "       base" + "  " + "        new" + "  " + "  change" + "  verdict (evidence)",
        "t.py::kept" + "  " + "   2000.0us" + "  " + "   3000.0us" + "  " + "  +50.0%" + "  slower (IQRs apart)",
    ]


@pytest.mark.parametrize("fail_above, failing", [(49.9, 1), (50.0, 0)])
def test_fail_above_counts_only_slowdowns_beyond_it(fail_above, failing):
    from reports.compare import Pair, regressions

    pairs = [
        Pair("slow", 1.0, 1.5, 50.0, "slower", ""),
        Pair("fast", 1.0, 0.1, -90.0, "faster", ""),
        Pair("noisy", 1.0, 2.0, 100.0, "within noise", ""),
    ]
    assert [p.name for p in regressions(pairs, fail_above)] == ["slow"] * failing


def test_mann_whitney_p_of_unequal_samples_by_hand():
    """[1, 2, 3] against [4, 5, 6, 7] (n = 7, odd): U = 6 - 6 = 0 against a mean of 6, sigma = sqrt(3 * 4 / 12 *
    (7 + 1)) = 2.8284, z = (6 - 0.5) / sigma = 1.9445, p = 0.0518."""
    assert mann_whitney_p([1, 2, 3], [4, 5, 6, 7]) == pytest.approx(0.05183, abs=1e-5)


def test_the_table_is_at_least_as_wide_as_its_header():
    from reports.compare import Pair, format_pairs

    header, row = format_pairs([Pair("a", 1e-3, 1e-3, 0.0, "within noise", "IQRs overlap")]).splitlines()
    assert row.index("1000.0us") + len("1000.0us") == header.index("base") + len("base")  # columns line up


def test_rows_timed_differently_are_not_comparable_and_never_a_regression(files, tmp_path):
    """A cold run against a warm one (or events against the host clock) is a change of method, not of code."""
    base, _, slow = files
    data = json.loads(slow.read_text())
    for b in data["benchmarks"]:
        if b["name"] == SLOW:
            b["extra_info"].update(cache="cold", timer="cuda_events")
    cold = tmp_path / "cold.json"
    cold.write_text(json.dumps(data))
    pairs, _, _ = compare([base], [cold])
    (pair,) = [p for p in pairs if p.name.endswith(SLOW)]
    assert pair.verdict == "not comparable" and pair.evidence == "timed warm, wall against cold, cuda_events"
    assert main(["compare", str(base), str(cold), "--fail-above", "20"]) == 0
    assert {p.verdict for p in pairs if p is not pair} == {"within noise"}
