"""Read pytest-benchmark results (JSON files, and the JSON-lines stream of a run that may have been killed) into one
long pandas table: one row per measurement."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

COLUMNS = [
    "kind", "op", "variant", "baseline", "mode", "device", "machine", "dtype", "shape", "batch", "group",
    "median_s", "iqr_s", "rounds", "flops", "bytes", "gflops", "gbps", "rel_error", "tolerance", "compile_s",
    "peak_memory_bytes", "noisy", "ceiling", "source",
]  # fmt: skip


class ResultsError(ValueError):
    """A results file that cannot be read; the message names the file and the reason."""


def read_entries(path: Path) -> tuple[dict, list[dict]]:
    """(machine_info, benchmark entries) of one pytest-benchmark JSON file or dnnbench stream (.jsonl)."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ResultsError(f"{path}: cannot be read ({e.strerror})") from None
    if path.suffix == ".jsonl":
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            records = [json.loads(line) for line in lines]
        except json.JSONDecodeError as e:
            raise ResultsError(f"{path}: not valid JSON lines ({e})") from None
        machine = next((r["machine_info"] for r in records if "machine_info" in r), {})
        return machine, [r for r in records if "stats" in r]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ResultsError(f"{path}: not pytest-benchmark output (no 'benchmarks' list)")
    return data.get("machine_info", {}), data["benchmarks"]


def machine_name(machine: dict) -> str:
    info = machine.get("dnnbench", {})
    gpus = info.get("gpus") or []
    host = info.get("host") or machine.get("node", "?")
    return f"{host} ({gpus[0]['name']})" if gpus else f"{host} ({info.get('cpu_model', machine.get('cpu', {}))})"


def entry_row(entry: dict, machine: str, source: str) -> dict | None:
    """One table row of a benchmark entry, or None for an entry without dnnbench fields."""
    info, stats = entry.get("extra_info", {}), entry.get("stats", {})
    if "op" not in info and "ceiling" not in info:
        return None
    return {
        "kind": "ceiling" if "ceiling" in info else "op",
        "op": info.get("op"),
        "variant": info.get("variant"),
        "baseline": info.get("baseline", False),
        "mode": info.get("mode"),
        "device": info.get("device"),
        "machine": machine,
        "dtype": info.get("dtype"),
        "shape": "x".join(map(str, info.get("shape", []))),
        "batch": info.get("batch"),
        "group": entry.get("group"),
        "median_s": stats.get("median"),
        "iqr_s": stats.get("iqr"),
        "rounds": stats.get("rounds"),
        "flops": info.get("flops"),
        "bytes": info.get("bytes"),
        "gflops": info.get("gflops"),
        "gbps": info.get("gbps"),
        "rel_error": info.get("rel_error"),
        "tolerance": info.get("tolerance"),
        "compile_s": info.get("compile_s"),
        "peak_memory_bytes": info.get("peak_memory_bytes"),
        "noisy": info.get("noisy", False),
        "ceiling": info.get("ceiling"),
        "source": source,
    }


def load(paths) -> pd.DataFrame:
    """One long table of every dnnbench measurement in `paths`; entries from other projects are left out (their
    count is in the table's attrs['skipped'])."""
    rows, skipped = [], 0
    for p in map(Path, paths):
        machine, entries = read_entries(p)
        name = machine_name(machine)
        for entry in entries:
            row = entry_row(entry, name, p.name)
            if row is None:
                skipped += 1
            else:
                rows.append(row)
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs["skipped"] = skipped
    return df
