"""The progress display (dnnbench/progress.py): the time left, plain lines for logs, a rich bar in a terminal."""

import io

import pytest

from dnnbench.progress import Progress, choose_mode, clock, eta_seconds


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_the_time_left_scales_the_plan_by_how_fast_the_done_steps_went():
    assert eta_seconds(elapsed=0.0, done_expected=0.0, left_expected=30.0) == 30.0  # the plan's figure at first
    assert eta_seconds(elapsed=20.0, done_expected=10.0, left_expected=30.0) == 60.0  # twice as slow as planned
    assert eta_seconds(elapsed=5.0, done_expected=10.0, left_expected=30.0) == 15.0
    assert eta_seconds(elapsed=5.0, done_expected=10.0, left_expected=0.0) == 0.0


@pytest.mark.parametrize("seconds, text", [(0, "0:00"), (59.6, "1:00"), (75, "1:15"), (3725, "1:02:05"), (None, "?")])
def test_clock(seconds, text):
    assert clock(seconds) == text


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_the_mode_follows_the_terminal_and_quiet():
    assert choose_mode(False, Tty()) == "rich"
    assert choose_mode(False, io.StringIO()) == "plain"
    assert choose_mode(True, Tty()) == "none"
    with pytest.raises(ValueError, match="modes"):
        Progress("fancy")


def test_plain_lines_name_the_step_count_elapsed_and_eta_at_most_every_few_seconds():
    out, now = io.StringIO(), Clock()
    p = Progress("plain", out, every=10.0, now=now)
    p.phase("benchmarks", {"a": 1.0, "b": 3.0, "c": 6.0})
    p.start("a")
    now.t += 2.0
    p.done("a")  # within 10 s of the first line: no line
    now.t += 9.0
    p.start("b")  # 11 s after the first line: a line; a took 2 s for 1 expected, so 9 s left is 9 * 11/1
    p.done("b")
    now.t += 1.0
    p.end()
    lines = out.getvalue().splitlines()
    assert lines[0] == "benchmarks 0/3 (0%)  elapsed 0:00  eta 0:10"
    assert lines[1] == "benchmarks 1/3 (33%)  elapsed 0:11  eta 1:39  b"
    assert lines[-1] == "benchmarks 2/3 (66%)  elapsed 0:12  eta 0:18"  # c: 6 s planned, 12 s for 4 s planned
    assert len(lines) == 3


def test_a_step_outside_the_plan_counts_and_quiet_prints_nothing():
    out, now = io.StringIO(), Clock()
    p = Progress("plain", out, every=0.0, now=now)
    p.phase("studies", {"a": 1.0})
    p.done("surprise")
    assert out.getvalue().splitlines()[-1].startswith("studies 1/2 (50%)")
    silent = io.StringIO()
    q = Progress("none", silent)
    q.phase("x", {"a": 1.0})
    q.start("a")
    q.done("a")
    q.end()
    assert silent.getvalue() == ""


def test_the_rich_bar_draws_the_same_line_in_a_terminal():
    out = Tty()
    p = Progress("rich", out)
    p.phase("report", {"overview": 1.0, "ops": 1.0})
    p.start("overview")
    p.done("overview")
    p.end()
    text = out.getvalue()
    assert "report" in text and "1/2 (50%)" in text and "eta" in text
