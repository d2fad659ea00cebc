"""Read pytest-benchmark results (JSON files, and the JSON-lines stream of a run that may have been killed) from any
machines and devices into one long pandas table: one row per measurement."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from reports import schema
from reports.study_analysis import KINDS as STUDY_KINDS

COLUMNS = list(schema.COLUMNS)
# the columns an op or calibration entry's extra_info holds under the same name
PASSTHROUGH = [c for c in COLUMNS if c in schema.OP or c in schema.CEILING]
# how a row was timed and the machine's state, under the same name in every kind's extra_info
MEASUREMENT = [c for c in COLUMNS if c in schema.TIMING or c in schema.MACHINE_STATE]


class ResultsError(ValueError):
    """A results file that cannot be used; the message names the file and the reason."""


# stream records of benchmarks that did not give a measurement; "missing" is a whole shard of a sharded sweep that
# failed every attempt (dnnbench submit writes it to missing-shards.jsonl, with the shard's log)
COVERAGE = ("skipped", "failed", "left_out", "missing")
MISSING_SHARDS = "missing-shards.jsonl"


def expand(paths) -> list[Path]:
    """The results files of `paths`: a file as it is; a folder (a run's, or a sharded sweep's with one folder per
    shard or worker) gives every stream in it (*.stream*.jsonl), or its pytest-benchmark JSON files where it has no
    stream, its study files and its missing-shards record."""
    return [path for path, _ in labelled(paths)]


def labelled(paths) -> list[tuple[Path, str]]:
    """expand(), each file with its label in the table's `source` column: its name, or its path inside the folder
    it was found in (shard-2-of-8/results.stream.jsonl), so that a sweep's files stay apart."""
    out = []
    for p in map(Path, paths):
        if not p.is_dir():
            out.append((p, p.name))
            continue
        streams = sorted(p.rglob("*.stream*.jsonl"))
        jsons = [] if streams else sorted(q for q in p.rglob("*.json") if q.name.startswith("results"))
        found = [*streams, *jsons, *sorted(p.rglob("study-*.jsonl")), *sorted(p.rglob(MISSING_SHARDS))]
        if not found:
            raise ResultsError(f"{p}: a folder without results (no *.stream.jsonl, results*.json or study-*.jsonl)")
        out += [(q, str(q.relative_to(p))) for q in found]
    return out


def read_records(path: Path) -> list[dict]:
    """The JSON records of a dnnbench stream (.jsonl), one per line; a run killed while writing its last line keeps
    the lines before it."""
    text = _read_text(path)
    records, lines = [], text.splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            if number == len(lines):
                break
            raise ResultsError(f"{path}: line {number} is not valid JSON ({e.msg})") from None
        if isinstance(record, dict):
            records.append(record)
    return records


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as e:
        raise ResultsError(f"{path}: cannot be read ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise ResultsError(f"{path}: not a text file, so not pytest-benchmark output") from None


def read_entries(path: Path, records: list[dict] | None = None) -> tuple[dict, list[dict]]:
    """(machine_info, benchmark entries) of one pytest-benchmark JSON file or dnnbench stream (.jsonl; its records
    when already read)."""
    if path.suffix == ".jsonl":
        records = read_records(path) if records is None else records
        machine = next((r["machine_info"] for r in records if "machine_info" in r), {})
        return machine, [r for r in records if "stats" in r]
    data = read_json(path)
    return data.get("machine_info") or {}, data["benchmarks"]


def read_json(path: Path) -> dict:
    """A pytest-benchmark JSON file's content (machine_info, benchmarks, and dnnbench's run line under 'dnnbench')."""
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ResultsError(f"{path}: not pytest-benchmark output (no 'benchmarks' list)")
    return data


def read_coverage(records: list[dict]) -> tuple[dict, list[dict]]:
    """(the run's profile line, what did not give a measurement) of a dnnbench stream's records: the profile, what it
    covers and what only the full profile adds, the budget; and each benchmark or study skipped, failed or left out
    by the budget, as {status, test, param, reason}. A pytest-benchmark JSON file has neither: pass []."""
    run = next((r.get("dnnbench") or {} for r in records if "machine_info" in r), {})
    out = []
    for r in records:
        for status in COVERAGE:
            if isinstance(r.get(status), dict):
                e = r[status]
                out.append(
                    {
                        "status": status.replace("_", " "),
                        "test": e.get("test"),
                        "param": e.get("param"),
                        "reason": e.get("reason") or e.get("error") or "",
                    }
                )
    return run, out


def machine_name(machine: dict) -> str:
    """'host (GPU)' or 'host (CPU model)': what tells two machines' results apart in tables and plots."""
    info = machine.get("dnnbench", {})
    host = info.get("host") or machine.get("node") or "unknown host"
    gpus = info.get("gpus") or []
    if gpus:
        return f"{host} ({gpus[0]['name']})"
    cpu = info.get("cpu_model") or (machine.get("cpu") or {}).get("brand_raw") or machine.get("processor") or "cpu"
    return f"{host} ({cpu})"


def provenance(machine: dict, run: dict) -> dict:
    """The provenance columns of every row from one results file: host, the GPU it timed on, its shard and worker,
    its batch job, the suite's commit, torch's and triton's versions."""
    info = machine.get("dnnbench", {})
    gpu = info.get("gpu_used") or {}
    return {
        "host": info.get("host") or machine.get("node"),
        "gpu": gpu.get("name"),
        "gpu_uuid": gpu.get("uuid"),
        "gpu_visible_as": gpu.get("visible_as"),
        "shard": run.get("shard"),
        "worker": run.get("worker"),
        "job_id": info.get("job_id"),
        "commit": info.get("commit"),
        "torch": info.get("torch"),
        "triton": info.get("triton"),
    }


def measured(entry: dict, stats: dict) -> dict:
    """The columns every kind of row takes from pytest-benchmark itself: its group and name, and the statistics."""
    return {
        "group": entry.get("group"),
        "name": entry.get("name"),
        "median_s": stats.get("median"),
        "iqr_s": stats.get("iqr"),
        "q1_s": stats.get("q1"),
        "q3_s": stats.get("q3"),
        "rounds": stats.get("rounds"),
        "outliers": stats.get("iqr_outliers"),
    }


def measurement(info: dict) -> dict:
    """How a row was timed and the machine's state while it ran. Results written before rows named their timer and
    cache state were all timed with the synchronized host clock on a warm cache: they read as `wall`, `warm`."""
    out = {c: info.get(c) for c in MEASUREMENT}
    out["timer"] = info.get("timer") or "wall"
    out["cache"] = info.get("cache") or "warm"
    energy, flops = info.get("energy_j_per_call"), info.get("flops")
    out["gflop_per_j"] = flops / 1e9 / energy if energy and flops else None
    return out


def entry_row(entry: dict, machine: str, source: str) -> dict | None:
    """One table row of a benchmark entry, or None for an entry without dnnbench fields."""
    info, stats = entry.get("extra_info") or {}, entry.get("stats") or {}
    if not isinstance(info, dict) or not ({"op", "ceiling", "lesson"} & set(info)) or "median" not in stats:
        return None
    if "lesson" in info:
        return lesson_row(entry, info, stats, machine, source)
    shape = info.get("shape") or []
    flops, nbytes = info.get("flops"), info.get("bytes")
    row = dict.fromkeys(COLUMNS)
    row.update({c: info.get(c) for c in PASSTHROUGH})
    row.update(
        kind="ceiling" if "ceiling" in info else "op",
        baseline=bool(info.get("baseline", False)),
        machine=machine,
        shape=info.get("case") or "x".join(map(str, shape)),
        # the case's parameters without its shape ("eval", "bias-relu"; "" for the plain op): one curve per family
        family=(info.get("case") or "").removeprefix("x".join(map(str, shape))).lstrip("-"),
        elements=int(pd.Series(shape).prod()) if shape else None,
        **measured(entry, stats),
        intensity=flops / nbytes if flops and nbytes else None,
        noisy=bool(info.get("noisy", False)),
        source=source,
    )
    row.update(measurement(info))
    return row


def lesson_row(entry: dict, info: dict, stats: dict, machine: str, source: str) -> dict:
    """A lesson benchmark (bench/lessons.py) as a row: op 'lesson <id>', variant = the backend, shape 'b<batch>'."""
    row = dict.fromkeys(COLUMNS)
    form = "" if info.get("form", "plain") == "plain" else info["form"]
    row.update(
        kind="lesson",
        op=f"lesson {info['lesson']}",
        variant=info.get("backend"),
        mode=info.get("mode"),
        device=info.get("device"),
        machine=machine,
        dtype=info.get("dtype"),
        family=form,
        shape=f"b{info.get('batch')}" + (f"-{form}" if form else ""),
        elements=info.get("batch"),
        batch=info.get("batch"),
        **measured(entry, stats),
        flops=info.get("flops"),
        gflops=info.get("gflops"),
        compile_s=info.get("compile_s"),
        noisy=bool(info.get("noisy", False)),
        samples_per_s=info.get("samples_per_s"),
        op_shares=info.get("op_shares"),
        baseline=info.get("backend") == "eager",
        source=source,
        rung={"eager": 1, "compiled": 2, "triton": 3, "triton_fused": 4, "triton_mlp": 4}.get(info.get("backend")),
    )
    row.update(measurement(info))
    return row


def load(paths) -> pd.DataFrame:
    """One long table of every dnnbench measurement in `paths`.

    Entries without dnnbench fields (another project's pytest-benchmark file) are left out and counted in
    attrs['skipped']. A run's JSON and its stream hold the same measurements: duplicates are kept once."""
    rows, skipped, studies, headers, runs, coverage = [], 0, [], {}, [], []
    for p, label in labelled(paths):
        if p.name.startswith("study-") and p.suffix == ".jsonl":  # `dnnbench study` rows, one table of their own
            header, study_rows = read_study(p)
            headers.setdefault(header["study"], header)  # the same study from several machines: the first header
            studies += study_rows
            continue
        if p.suffix == ".jsonl":  # a stream is read once
            records = read_records(p)
            machine, entries = read_entries(p, records)
            run, missing = read_coverage(records)
        else:
            data = read_json(p)
            machine, entries, missing = data.get("machine_info") or {}, data["benchmarks"], []
            run = data.get("dnnbench") if isinstance(data.get("dnnbench"), dict) else {}
        name = machine_name(machine)
        if run and p.suffix == ".jsonl":  # a JSON file's run line is its stream's: counted once
            runs.append({**run, "machine": name, "source": label})
        coverage += [{**m, "machine": name} for m in missing]
        where = provenance(machine, run)
        for entry in entries:
            row = entry_row(entry, name, label) if isinstance(entry, dict) else None
            if row is None:
                skipped += 1
            else:
                rows.append({**row, **where})
    df = pd.DataFrame(rows, columns=COLUMNS)
    df = df.drop_duplicates(subset=["machine", "name", "median_s", "rounds"]).reset_index(drop=True)
    df.attrs["skipped"] = skipped
    df.attrs["studies"] = studies  # rows as dicts: a DataFrame in attrs breaks pandas' concat
    df.attrs["study_headers"] = headers
    df.attrs["runs"] = runs  # each stream's profile line: profile, covers, leaves_out, budget_s
    df.attrs["coverage"] = coverage  # benchmarks and studies skipped, failed or left out, with their reasons
    return df


def read_study(path: Path) -> tuple[dict, list[dict]]:
    """(header, rows) of a study's result file (`dnnbench study`): a header line `{"header": {...}}` with the study's
    metadata (reports/study_analysis.py), then one long-format row per line."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ResultsError(f"{path}: cannot be read ({e})") from None
    header, rows = None, []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line) if line.strip() else None
        except json.JSONDecodeError as e:
            raise ResultsError(f"{path}: line {number} is not valid JSON ({e.msg})") from None
        if record is None:
            continue
        if header is None:
            if not isinstance(record, dict) or not isinstance(record.get("header"), dict):
                raise ResultsError(
                    f'{path}: line {number} is not the study header ({{"header": ...}}): written '
                    "before study files carried their metadata; rerun dnnbench study"
                )
            header = record["header"]
            missing = {"study", "kind", "question", "metric"} - set(header)
            if missing:
                raise ResultsError(f"{path}: the study header lacks {', '.join(sorted(missing))}")
            if header["kind"] not in STUDY_KINDS:
                raise ResultsError(f"{path}: unknown study kind {header['kind']!r} (kinds: {', '.join(STUDY_KINDS)})")
            continue
        if not isinstance(record, dict) or record.get("study") != header["study"]:
            raise ResultsError(f"{path}: line {number} is not a row of study {header['study']!r}")
        rows.append(record)
    if header is None:
        raise ResultsError(f"{path}: empty (no study header)")
    return header, rows
