"""Progress of the long commands (`dnnbench run`, `study`, `report`): what runs now, done/total, elapsed and the
time left.

In a terminal it is a rich progress bar; when stdout is not a terminal (a CI log, a pipe) it is plain lines, one
when a phase starts, then at most one every `every` seconds, and one when the phase ends; `--quiet` shows none.

The time left is not the finished steps' average times the steps left: a sweep's steps differ by 100x (a compiled
rung pays its compilation, a Triton rung on the CPU is a skip). Each step comes with its expected seconds (the
planner's, bench/budget.py), and the time left is the expected seconds still to run, scaled by how the finished
steps' real time compares with their expectation (`eta_seconds`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

MODES = ("rich", "plain", "none")


def choose_mode(quiet: bool, stream) -> str:
    """none with --quiet, rich in a terminal, plain lines otherwise."""
    if quiet:
        return "none"
    isatty = getattr(stream, "isatty", None)
    return "rich" if isatty is not None and isatty() else "plain"


def eta_seconds(elapsed: float, done_expected: float, left_expected: float) -> float:
    """Seconds left: the expected seconds still to run, scaled by elapsed / expected of the steps already done (the
    plan's own figure until something has finished)."""
    if left_expected <= 0:
        return 0.0
    if done_expected <= 0 or elapsed <= 0:
        return left_expected
    return left_expected * elapsed / done_expected


def clock(seconds: float | None) -> str:
    """h:mm:ss or m:ss; '?' for an unknown time."""
    if seconds is None or seconds != seconds:
        return "?"
    s = int(round(max(seconds, 0.0)))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


@dataclass
class Phase:
    name: str
    expected: dict[str, float]  # step -> expected seconds
    started: float
    done: dict[str, float] = field(default_factory=dict)  # finished step -> its expected seconds
    current: str = ""

    @property
    def total(self) -> int:
        return len(self.expected)

    def left_expected(self) -> float:
        return sum(s for k, s in self.expected.items() if k not in self.done)

    def line(self, now: float) -> str:
        elapsed = now - self.started
        left = eta_seconds(elapsed, sum(self.done.values()), self.left_expected())
        pct = 100 * len(self.done) // self.total if self.total else 100
        current = f"  {self.current}" if self.current else ""
        return (
            f"{self.name} {len(self.done)}/{self.total} ({pct}%)  elapsed {clock(elapsed)}  eta {clock(left)}{current}"
        )


class Progress:
    """`phase(name, expected)` starts a phase (step -> expected seconds), `start(step)` names the one running,
    `done(step)` counts it, `end()` closes the phase. A step not in the plan is counted with 0 expected seconds."""

    def __init__(self, mode: str = "plain", stream=None, every: float = 10.0, now=time.monotonic):
        if mode not in MODES:
            raise ValueError(f"progress mode {mode!r}; modes: {', '.join(MODES)}")
        self.mode, self.stream, self.every, self.now = mode, stream or sys.stdout, every, now
        self.phase_: Phase | None = None
        self._last_line = 0.0
        self._bar = None

    def phase(self, name: str, expected: dict[str, float]) -> None:
        self.end()
        self.phase_ = Phase(name, dict(expected), self.now())
        if self.mode == "rich":
            self._bar = _RichBar(self.stream, self.phase_)
        elif self.mode == "plain":
            self._print(self.phase_.line(self.now()))

    def start(self, step: str) -> None:
        if self.phase_ is None:
            return
        self.phase_.current = step
        self._refresh()

    def done(self, step: str) -> None:
        if self.phase_ is None:
            return
        self.phase_.expected.setdefault(step, 0.0)
        self.phase_.done[step] = self.phase_.expected[step]
        self._refresh()

    def end(self) -> None:
        if self.phase_ is None:
            return
        self.phase_.current = ""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.mode == "plain":
            self._print(self.phase_.line(self.now()))
        self.phase_ = None

    def _refresh(self) -> None:
        if self._bar is not None:
            self._bar.update(self.now)
        elif self.mode == "plain" and self.now() - self._last_line >= self.every:
            self._print(self.phase_.line(self.now()))

    def _print(self, line: str) -> None:
        self._last_line = self.now()
        print(line, file=self.stream, flush=True)


class _RichBar:
    """A rich progress bar over one phase: the bar counts steps; the text after it is Phase.line's (done/total,
    elapsed, eta, the step running), drawn at every refresh so that the clock moves during a long step."""

    def __init__(self, stream, phase: Phase):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn
        from rich.text import Text

        class PhaseLine(ProgressColumn):
            def render(self, task):
                return Text(phase.line(time.monotonic()).removeprefix(phase.name + " "))

        self.phase = phase
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), PhaseLine(), console=Console(file=stream), transient=False
        )
        self.task = self.bar.add_task(phase.name, total=phase.total or 1)
        self.bar.start()

    def update(self, now) -> None:
        self.bar.update(self.task, completed=len(self.phase.done), total=self.phase.total or 1)

    def close(self) -> None:
        self.bar.stop()
