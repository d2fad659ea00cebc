"""The report's "Against the peers" sections (reports/peers.py): eager, our fastest Triton rung and each peer at
every shape of one run, the ratio with its interval, what each keeps, why a peer was not timed, what each gets wrong."""

import json

from reports.build import build_report
from tests.fake_results import write_run


def with_peer(path, name: str, library: str, slowdown: float, skip_reason: str | None = None):
    """The server's run with `name` timed beside our triton_online on CUDA, `slowdown` times its time; on the CPU
    (where the fake run times no Triton) a stream record says why it was skipped."""
    data = json.loads(path.read_text())
    added = []
    for b in data["benchmarks"]:
        info = b["extra_info"]
        if info.get("variant") == "triton_online" and info["device"] == "cuda":
            peer = json.loads(json.dumps(b))
            peer["name"] = peer["param"] = b["name"].replace("triton_online", name)
            peer["extra_info"].update(variant=name, library=library)
            if info["mode"] == "backward":
                peer["extra_info"]["saved_bytes"] = 3 * 2**20
            for k in ("min", "max", "mean", "median", "q1", "q3", "iqr"):
                peer["stats"][k] *= slowdown
            peer["stats"]["data"] = [t * slowdown for t in peer["stats"]["data"]]
            added.append(peer)
    data["benchmarks"] += added
    path.write_text(json.dumps(data))
    return added


def test_the_report_puts_each_peer_beside_our_fastest_triton_rung(tmp_path):
    run = write_run(tmp_path / "server.json", "server", seed=3)
    added = with_peer(run, "liger", "liger-kernel 0.8.5", slowdown=1.5)
    md = (build_report([run], tmp_path / "out").parent / "report.md").read_text()
    section = md[md.index("## Against the peers: softmax") :]
    section = section[: section.index("\n## ", 5)]
    cases = len(added)
    assert f"Against liger: ours is faster at {cases} of {cases} cases, slower at 0; no winner claimed at 0" in section
    assert "ours 1.50x (" in section  # the ratio to ours, with its interval
    assert "keeps 3.00 MiB" in section  # what the peer keeps for its backward
    assert "triton_online:" in section  # our fastest Triton rung, named
    # what the wrapper declares Liger gets wrong, from the registry
    assert "a mean over no targets" not in section  # cross-entropy's, not softmax's
    assert "an empty input raises RuntimeError" in section


def test_a_slower_ours_is_said_as_plainly(tmp_path):
    run = write_run(tmp_path / "server.json", "server", seed=4)
    added = with_peer(run, "liger", "liger-kernel 0.8.5", slowdown=0.5)
    md = (build_report([run], tmp_path / "out").parent / "report.md").read_text()
    assert f"Against liger: ours is faster at 0 of {len(added)} cases, slower at {len(added)}" in md


def test_no_winner_is_claimed_where_the_interval_includes_1(tmp_path):
    run = write_run(tmp_path / "server.json", "server", seed=5)
    added = with_peer(run, "liger", "liger-kernel 0.8.5", slowdown=1.0)
    md = (build_report([run], tmp_path / "out").parent / "report.md").read_text()
    n = len(added)
    assert f"Against liger: ours is faster at 0 of {n} cases, slower at 0; no winner claimed at {n}" in md
