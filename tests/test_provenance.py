"""Every result row says where and from what it was measured (host, GPU, shard, worker, batch job, the suite's
commit, torch and triton), a report warns when merged rows come from different software, and compare refuses to
pair runs from different GPU models unless told to."""

import json
import subprocess
from pathlib import Path

import pytest

from bench import machine
from dnnbench.cli import main
from reports.compare import compare
from reports.load import ResultsError, load
from tests.fake_results import benchmarks, machine_info

ROOT = Path(__file__).resolve().parents[1]


def write_stream(
    path: Path, gpu: str | None = "Test GPU 80GB", commit="abc123", torch="2.14.1", seed=1, **place
) -> Path:
    info = machine_info("server")
    info["dnnbench"].update(commit=commit, torch=torch, job_id=place.pop("job_id", None))
    info["dnnbench"]["gpu_used"] = {"name": gpu, "uuid": f"GPU-{gpu}-{place.get('worker')}", "visible_as": "3"}
    if gpu is None:
        info["dnnbench"]["gpu_used"], info["dnnbench"]["gpus"] = None, []
    lines = [{"machine_info": info, "dnnbench": {"profile": "quick", **place}}, *benchmarks("server", seed)[:6]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def test_each_row_carries_its_provenance(tmp_path):
    stream = write_stream(tmp_path / "a.stream.jsonl", shard="2/4", worker="gw1", job_id="77_1")
    df = load([stream])
    assert len(df) == 6
    row = df.iloc[0]
    assert (row["host"], row["gpu"], row["gpu_visible_as"]) == ("server", "Test GPU 80GB", "3")
    assert (row["shard"], row["worker"], row["job_id"]) == ("2/4", "gw1", "77_1")
    assert (row["commit"], row["torch"], row["triton"]) == ("abc123", "2.14.1", "3.8.0")
    assert row["gpu_uuid"] == "GPU-Test GPU 80GB-gw1"


def test_the_report_warns_when_merged_rows_come_from_different_software(tmp_path):
    a = write_stream(tmp_path / "a.stream.jsonl", commit="abc123", worker="gw0")
    b = write_stream(tmp_path / "b.stream.jsonl", commit="def456", torch="2.11.0", seed=2, worker="gw1")
    assert main(["report", str(a), str(b), "-o", str(tmp_path / "mixed"), "--quiet"]) == 0
    md = (tmp_path / "mixed" / "report.md").read_text()
    assert "Warning: these results come from 2 commits of the suite (abc123, def456)" in md
    assert "Warning: these results come from 2 torch versions (2.11.0, 2.14.1)" in md
    assert "triton versions" not in md
    assert "These results merge 2 pytest-xdist workers, 2 GPUs (2 Test GPU 80GB)" in md
    same = write_stream(tmp_path / "c.stream.jsonl", seed=3, worker="gw1")
    assert main(["report", str(a), str(same), "-o", str(tmp_path / "same"), "--quiet"]) == 0
    assert "Warning" not in (tmp_path / "same" / "report.md").read_text()


def test_compare_refuses_different_gpu_models_unless_told(tmp_path, capsys):
    h100 = write_stream(tmp_path / "h100.stream.jsonl", gpu="NVIDIA H100")
    a100 = write_stream(tmp_path / "a100.stream.jsonl", gpu="NVIDIA A100")
    with pytest.raises(ResultsError, match="base ran on NVIDIA H100 and new on NVIDIA A100"):
        compare([h100], [a100])
    pairs, _, _ = compare([h100], [a100], across_gpus=True)
    assert len(pairs) == 6
    assert main(["compare", str(h100), str(a100)]) == 2
    assert "--across-gpus" in capsys.readouterr().err
    assert main(["compare", str(h100), str(a100), "--across-gpus"]) == 0
    same = write_stream(tmp_path / "again.stream.jsonl", gpu="NVIDIA H100")
    assert len(compare([h100], [same])[0]) == 6


def test_compare_reads_a_sharded_sweeps_folder(tmp_path):
    for i in (1, 2):
        write_stream(tmp_path / "sweep" / f"shard-{i}-of-2" / "results.stream.jsonl", shard=f"{i}/2")
    base = write_stream(tmp_path / "base.stream.jsonl")
    pairs, only_base, only_new = compare([base], [tmp_path / "sweep"])
    assert len(pairs) == 6 and not only_base and not only_new


def test_machine_info_names_the_suites_commit_and_batch_job(monkeypatch):
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout: the suite's commit is recorded as None")
    assert machine.suite_commit().removesuffix("-dirty") == head.stdout.strip()
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    monkeypatch.setenv("SLURM_JOB_ID", "4245")
    assert machine.job_id() == "4242_3"
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID")
    assert machine.job_id() == "4245"
    for var in ("SLURM_ARRAY_JOB_ID", "SLURM_JOB_ID"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("DNNBENCH_JOB_ID", "31337")
    assert machine.job_id() == "31337"
    monkeypatch.delenv("DNNBENCH_JOB_ID")
    assert machine.job_id() is None


def test_speedups_take_the_baseline_of_the_same_file_where_it_has_one(tmp_path):
    """Two runs of the same machine, the second twice as slow throughout (another day, a throttled card): each
    variant's speedup is over its own run's baseline, so both runs give the same speedups."""
    from reports.summary import speedups

    fast = write_stream(tmp_path / "fast.stream.jsonl", seed=1)
    slow = tmp_path / "slow.stream.jsonl"
    lines = fast.read_text().splitlines()
    doubled = [json.loads(lines[0])]
    for line in lines[1:]:
        e = json.loads(line)
        e["stats"] = {k: v * 2 if k in ("median", "q1", "q3", "iqr") else v for k, v in e["stats"].items()}
        doubled.append(e)
    slow.write_text("".join(json.dumps(x) + "\n" for x in doubled))
    ops = speedups(load([fast, slow]))
    by_file = ops.pivot_table(index="name", columns="source", values="speedup")
    assert len(by_file) >= 2
    assert by_file["fast.stream.jsonl"].to_numpy() == pytest.approx(by_file["slow.stream.jsonl"].to_numpy())
    # a variant whose file lacks the baseline (another shard timed it) takes the machine's baseline in its group
    only_variants = tmp_path / "variants.stream.jsonl"
    tripled = [json.loads(lines[0])]
    for line in lines[1:]:
        e = json.loads(line)
        if e["extra_info"].get("variant") != "eager":
            e["stats"] = {k: v * 3 if k in ("median", "q1", "q3", "iqr") else v for k, v in e["stats"].items()}
            tripled.append(e)
    only_variants.write_text("".join(json.dumps(x) + "\n" for x in tripled))
    mixed = speedups(load([fast, only_variants])).pivot_table(index="name", columns="source", values="speedup")
    assert mixed["variants.stream.jsonl"].notna().sum() >= 2
    assert mixed["variants.stream.jsonl"].dropna().to_numpy() == pytest.approx(
        mixed["fast.stream.jsonl"][mixed["variants.stream.jsonl"].notna()].to_numpy() / 3
    )
