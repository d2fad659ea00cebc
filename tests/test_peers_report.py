"""The report's "Against the peers" sections (reports/peers.py): eager, our fastest Triton rung and each peer at
every shape of one run, the ratio with its interval, what each keeps, why a peer was not timed, what each gets wrong."""

import json

from reports.build import build_report
from tests.fake_results import write_run


def with_peer(path, name: str, library: str, slowdown: float):
    """The server's run with `name` timed on CUDA beside our fastest Triton rung of each case, at `slowdown` times its
    time (the same rounds, scaled)."""
    data = json.loads(path.read_text())
    fastest = {}
    for b in data["benchmarks"]:
        info = b["extra_info"]
        ours = info.get("rung") == 3 and info["device"] == "cuda"
        if ours and (b["group"] not in fastest or b["stats"]["median"] < fastest[b["group"]]["stats"]["median"]):
            fastest[b["group"]] = b
    added = []
    for b in fastest.values():
        peer = json.loads(json.dumps(b))
        peer["name"] = peer["param"] = b["name"].replace(f"-{b['extra_info']['variant']}]", f"-{name}]")
        peer["extra_info"].update(variant=name, library=library)
        if peer["extra_info"]["mode"] == "backward":
            peer["extra_info"]["saved_bytes"] = 3 * 2**20
        for k in ("min", "max", "mean", "median", "q1", "q3", "iqr"):
            peer["stats"][k] *= slowdown
        peer["stats"]["data"] = [t * slowdown for t in peer["stats"]["data"]]
        added.append(peer)
    data["benchmarks"] += added
    # as a run's stream: its header records what the peers are declared to get wrong (bench/plugin.py); a skipped
    # record says why a peer was not timed on the CPU
    declared = {"softmax": {name: {"library": library, "devices": ["cpu", "cuda"], "declared": [DEFECT]}}}
    header = {"machine_info": data["machine_info"], "dnnbench": {"profile": "quick", "peers": declared}}
    skipped = {"skipped": {"test": "test_op", "param": f"softmax-forward-cpu-fp32-1024x16-{name}", "reason": SKIP}}
    stream = path.with_name("results.stream.jsonl")
    stream.write_text("\n".join(json.dumps(r) for r in [header, *data["benchmarks"], skipped]) + "\n")
    path.unlink()
    return stream, added


DEFECT = "an empty input raises RuntimeError"
SKIP = "interpreted, not a performance figure"


def test_the_report_puts_each_peer_beside_our_fastest_triton_rung(tmp_path):
    run = write_run(tmp_path / "server.json", "server", seed=3)
    run, added = with_peer(run, "liger", "liger-kernel 0.8.5", slowdown=1.5)
    md = (build_report([run], tmp_path / "out").parent / "report.md").read_text()
    section = md[md.index("## Against the peers: softmax") :]
    section = section[: section.index("\n## ", 5)]
    cases = len(added)
    assert f"Against liger: ours is faster at {cases} of {cases} cases, slower at 0; no winner claimed at 0" in section
    assert "ours 1.50x (" in section  # the ratio to ours, with its interval
    assert "keeps 3.00 MiB" in section  # what the peer keeps for its backward
    assert "| triton: " in section and "| triton_online: " in section  # our fastest Triton rung of each case, named
    assert f"| liger (liger-kernel 0.8.5) | {DEFECT} |" in section  # what the run's header declared
    assert f"liger not timed in 1 benchmarks (skipped: {SKIP})." in section


def test_a_slower_ours_is_said_as_plainly(tmp_path):
    run = write_run(tmp_path / "server.json", "server", seed=4)
    run, added = with_peer(run, "liger", "liger-kernel 0.8.5", slowdown=0.5)
    md = (build_report([run], tmp_path / "out").parent / "report.md").read_text()
    assert f"Against liger: ours is faster at 0 of {len(added)} cases, slower at {len(added)}" in md


def test_no_winner_is_claimed_where_the_interval_includes_1(tmp_path):
    run = write_run(tmp_path / "server.json", "server", seed=5)
    run, added = with_peer(run, "liger", "liger-kernel 0.8.5", slowdown=1.0)
    md = (build_report([run], tmp_path / "out").parent / "report.md").read_text()
    n = len(added)
    assert f"Against liger: ours is faster at 0 of {n} cases, slower at 0; no winner claimed at {n}" in md
