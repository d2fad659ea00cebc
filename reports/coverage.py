"""The report's first section: what the results cover. The profile each run used (what it times, and what only the
full profile adds), its time budget, how many benchmarks gave a measurement, and every benchmark or study that did not,
grouped by its reason: skipped (cannot be timed here: a Triton rung on the CPU's interpreter, a case beyond the CPU's
budget ...), failed (with its error), left out by the budget. Read from the streams' records (reports/load.py)."""

from __future__ import annotations

import pandas as pd

from reports.schema import budget_text
from reports.section import ReportContext, Section

KIND = {"test_op": "op", "test_lesson": "lesson", "test_lesson_lab": "lab", "test_ceiling": "ceiling"}
EXAMPLES = 3


def profile_sentences(runs: list[dict]) -> list[str]:
    """One sentence per profile the runs used (what it covers, what only the full one adds), one per budget."""
    out, seen = [], set()
    for run in runs:
        name = run.get("profile")
        if name and name not in seen:
            seen.add(name)
            text = f"The {name} profile times {run.get('covers') or 'its sweep'}."
            if run.get("leaves_out"):
                text += f" Only the full profile times {run['leaves_out']}."
            out.append(text)
    budgets = sorted({r["budget_s"] for r in runs if r.get("budget_s")})
    out += [f"The benchmarks ran within a time budget of {budget_text(b)}." for b in budgets]
    return out


# provenance columns whose mixing a report warns about: the same benchmark from two of them may differ by the software
MIXED = {"commit": "commits of the suite", "torch": "torch versions", "triton": "triton versions"}


def lacking_shards(runs: list[dict]) -> list[str]:
    """The shards ('2/8') of each sharded sweep in `runs` that no results file came from."""
    seen: dict[int, set[int]] = {}
    for r in runs:
        if r.get("shard"):
            i, n = map(int, str(r["shard"]).split("/"))
            seen.setdefault(n, set()).add(i)
    return [f"{i}/{n}" for n, have in sorted(seen.items()) for i in range(1, n + 1) if i not in have]


def provenance_sentences(df: pd.DataFrame, runs: list[dict]) -> list[str]:
    """Where the rows were measured (shards, xdist workers, GPUs) and a warning for each mix that makes rows
    incomparable: several commits of the suite, torch or triton versions, or CPU timings from parallel workers."""
    out = []
    parts = []
    for col, what in (("shard", "shards"), ("worker", "pytest-xdist workers"), ("job_id", "batch jobs")):
        n = df[col].dropna().nunique() if col in df else 0
        if n > 1:
            parts.append(f"{n} {what}")
    if "gpu_uuid" in df and df["gpu_uuid"].dropna().nunique() > 1:
        per_model = df.dropna(subset=["gpu_uuid"]).groupby("gpu")["gpu_uuid"].nunique()
        parts.append(f"{per_model.sum()} GPUs (" + ", ".join(f"{n} {m}" for m, n in per_model.items()) + ")")
    lacking = lacking_shards(runs)
    if lacking:
        out.append(
            f"Warning: shard {', '.join(lacking)} of this sweep has no results in these files: its benchmarks are "
            "missing from every table (dnnbench submit lists a shard that failed every attempt below, with its log)."
        )
    if parts:
        out.append("These results merge " + ", ".join(parts) + "; each row's provenance is in the long table.")
    for col, what in MIXED.items():
        values = sorted(map(str, df[col].dropna().unique())) if col in df else []
        if len(values) > 1:
            out.append(
                f"Warning: these results come from {len(values)} {what} ({', '.join(values)}): a difference between "
                f"rows of different {col} values may come from the software, not from the variant or the machine."
            )
    if any(r.get("shared_cores") for r in runs):
        out.append(
            "Warning: some CPU rows were timed by parallel workers or shards sharing the CPU's cores "
            "(--allow-shared-cores, or local shards with --max-parallel): they check the pipeline and are not "
            "performance figures."
        )
    return out


def missing_table(coverage: list[dict]) -> pd.DataFrame:
    """One row per (status, kind, reason): how many benchmarks, and the first few of them."""
    df = pd.DataFrame(coverage)
    df["kind"] = [KIND.get(t, t) for t in df["test"]]
    groups = df.groupby(["status", "kind", "reason"], sort=False)["param"]
    table = groups.agg(
        count="size", benchmarks=lambda p: ", ".join(p.iloc[:EXAMPLES]) + (" ..." if len(p) > EXAMPLES else "")
    )
    return table.reset_index()[["status", "kind", "count", "reason", "benchmarks"]]


def coverage_section(ctx: ReportContext) -> list[Section]:
    runs, coverage = ctx.meta.get("runs", []), ctx.meta.get("coverage", [])
    if not runs and not coverage:
        return []
    measured = ctx.df["kind"].value_counts()
    counts = ", ".join(f"{n} {kind}" for kind, n in measured.items()) or "no benchmark"
    studies = len(ctx.meta.get("study_headers", {}))
    text = profile_sentences(runs) + provenance_sentences(ctx.df, runs)
    text.append(f"Measured: {counts}" + (f", and {studies} studies." if studies else "."))
    tables = []
    if coverage:
        by_status = pd.Series([c["status"] for c in coverage]).value_counts()
        text.append(
            "Not measured: "
            + ", ".join(f"{n} {status}" for status, n in by_status.items())
            + " (each with its reason below)."
        )
        if "left out" in by_status:
            text.append(
                "A budget's plan runs the ceilings first, then the baselines, then the other rungs from the top of the "
                "ladder down, and leaves out what comes last in that order: a longer budget times it."
            )
        tables.append(("Benchmarks and studies without a measurement, by reason", missing_table(coverage)))
    return [Section("What these results cover", text, [], tables)]
