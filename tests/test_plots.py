"""The report's figures as a reader sees them: on every log axis each tick its own label (an axis narrower than a
decade once wrote 6e4 seven times), and the roofline's percentage labels never on top of one another."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from reports import plots  # noqa: E402
from reports.build import build_report  # noqa: E402
from tests.fake_results import write_run  # noqa: E402


@pytest.mark.parametrize("lo, hi", [(6.0e4, 6.6e4), (3.0e4, 3.3e4), (1.0e5, 1.2e5), (0.5, 0.55), (1.2e-4, 1.5e-4)])
def test_a_narrow_log_axis_labels_each_tick_with_its_own_value(lo, hi, tmp_path):
    fig, ax = plt.subplots()
    ax.plot([1, 2], [lo, hi])
    ax.set_yscale("log")
    plots._render(fig, tmp_path / "narrow.png", None)
    labels = plots.visible_tick_labels(ax)["y"]
    assert len(labels) >= 2 and len(set(labels)) == len(labels), labels
    assert all(lo * 0.99 <= float(t) <= hi * 1.01 for t in labels), labels  # each label is its tick's value


def test_a_wide_log_axis_keeps_its_short_labels(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([1, 2], [1, 1e6])
    ax.set_yscale("log")
    plots._render(fig, tmp_path / "wide.png", None)
    assert plots.visible_tick_labels(ax)["y"] == ["1", "10", "100", "1000", "1e4", "1e5", "1e6"]


def repeated(fig) -> list[str]:
    found = []
    for ax in fig.axes:
        for name, labels in plots.visible_tick_labels(ax).items():
            if len(set(labels)) < len(labels):
                found.append(f"{ax.get_title()!r} {name}: {labels}")
    return found


def test_no_figure_of_a_report_repeats_a_tick_label(tmp_path, monkeypatch):
    """Every figure of a report, checked as it is drawn (in the drawing processes: a repeat fails the build)."""
    drawn = plots._render

    def checked(fig, path, note):
        drawn(fig, path, note)
        assert not repeated(fig), f"{path.name}: repeated tick labels {repeated(fig)}"

    monkeypatch.setattr(plots, "_render", checked)
    runs = [write_run(tmp_path / f"{machine}.json", machine, seed=1) for machine in ("laptop", "server")]
    build_report(runs, tmp_path / "report")
    assert len(list((tmp_path / "report").glob("*.png"))) >= 5


def test_the_roofline_labels_do_not_overlap(tmp_path):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set(xscale="log", yscale="log")
    points = [(1.0, 10.0 * (1 + i / 100), f"{50 + i}%") for i in range(12)]  # one cluster: most cannot be placed
    points += [(1.0, 1000.0, "99%")]  # alone: always labelled
    ax.scatter([x for x, _, _ in points], [y for _, y, _ in points])
    left_out = plots.label_points(ax, points)
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in ax.texts]
    assert len(boxes) == len(points) - left_out and left_out > 0 and "99%" in [t.get_text() for t in ax.texts]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (a, b)
    plt.close(fig)
