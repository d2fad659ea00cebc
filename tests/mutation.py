"""Mutation testing of one module: `make mutation MODULE=reports/compare.py` (or python -m tests.mutation MODULE).

cosmic-ray changes the module one small thing at a time (an operator swapped, a comparison flipped, a constant
changed, a condition negated, a statement dropped) and runs the tests that cover the module after each change; a
mutant that the tests still pass survives, and names a claim no test checks. It all happens in a scratch copy of
the tree, so the working tree is never left mutated, whatever interrupts the run. Prints the score and each
survivor's diff; writes the JSON session dump to $MUTATION_OUT (default results/mutation-<module>.jsonl).
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# module -> the tests that exercise it (the fast ones: each mutant reruns them)
COVERING = {
    "reports/compare.py": ["tests/test_compare.py"],
    "reports/narrative.py": ["tests/test_narrative.py", "tests/test_planted_report.py"],
    "reports/study_analysis.py": ["tests/test_study_analysis.py"],
    "models/studies.py": [
        "tests/test_study_truths.py::test_a_dynamics_study_runs_each_seed_once_and_seeds_differ",
        "tests/test_studies.py",
    ],
    "bench/systems.py": ["tests/test_study_truths.py", "tests/test_systems_studies.py"],
    "models/precision.py": [
        "tests/test_study_truths.py::test_the_precision_study_turns_autocast_on_and_off",
        "tests/test_systems_studies.py::test_precision_names_its_problems_and_restores_tf32",
        "tests/test_systems_studies.py::test_fit_scales_the_loss_under_fp16_autocast_only",
        "tests/test_systems_studies.py::test_bf16_autocast_trains_as_well_as_fp32_on_the_digits",
    ],
    "models/backends.py": [
        "tests/test_lesson_truths.py::test_the_triton_backend_runs_no_torch_layer",
        "tests/test_lesson_backends.py::test_the_triton_backend_replaces_the_layers_and_keeps_the_parameters",
        "tests/test_lessons.py::test_bad_settings_backends_and_overrides_name_the_problem",
    ],
    "kernels/check.py": [
        "tests/test_correctness.py::test_check_rejects_wrong_outputs",
        "tests/test_reference.py",
        "tests/test_correctness.py -k 'matmul and eager'",
    ],
    "kernels/matmul/spec.py": [
        "tests/test_correctness.py -k matmul",
        "tests/test_matmul_edges.py",
        "tests/test_reference.py",
        "tests/test_opinfo.py -k 'matmul and not compiled'",
    ],
}


def tracked_copy() -> Path:
    """The tracked and untracked-but-not-ignored files, copied to a scratch directory."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    scratch = Path(tempfile.mkdtemp(prefix="dnnbench-mutation-"))
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (scratch / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, scratch / name)
    return scratch


def test_command(module: str) -> str:
    if module not in COVERING:
        raise SystemExit(f"no covering tests are listed for {module}; known: {', '.join(COVERING)} (tests/mutation.py)")
    # each entry is run in turn and the first failure stops: one pytest call per entry keeps each `-k` its own
    runs = [f"{sys.executable} -m pytest -x -q -p no:cacheprovider --seed 1 {entry}" for entry in COVERING[module]]
    return " && ".join(runs)


USAGE = "usage: python -m tests.mutation MODULE [SAMPLE]   (e.g. reports/narrative.py 120)"


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2) or (len(argv) == 2 and not argv[1].isdigit()):
        raise SystemExit(USAGE)
    module = argv[0]
    sample = int(argv[1]) if len(argv) == 2 else None
    if not (ROOT / module).is_file():
        raise SystemExit(f"{module}: no such file in {ROOT}")
    command = test_command(module)
    scratch = tracked_copy()
    try:
        start = time.perf_counter()
        baseline = subprocess.run(command, shell=True, cwd=scratch, capture_output=True, text=True)
        if baseline.returncode != 0:
            print(baseline.stdout[-3000:], baseline.stderr[-3000:])
            raise SystemExit(f"the covering tests fail on the unmutated tree: {command}")
        timeout = 3 * (time.perf_counter() - start) + 30
        config = scratch / "mutation.toml"
        config.write_text(
            "[cosmic-ray]\n"
            f"module-path = {json.dumps(module)}\n"
            f"timeout = {timeout:.0f}\n"
            "excluded-modules = []\n"
            f"test-command = {json.dumps(command)}\n"
            '[cosmic-ray.distributor]\nname = "local"\n'
        )
        session = scratch / "session.sqlite"
        cosmic = [sys.executable, "-m", "cosmic_ray.cli"]
        subprocess.run([*cosmic, "init", str(config), str(session)], cwd=scratch, check=True)
        if sample is not None:
            keep_sample(session, sample)
        subprocess.run([*cosmic, "exec", str(config), str(session)], cwd=scratch, check=True)
        dump = subprocess.run(
            [*cosmic, "dump", str(session)], cwd=scratch, capture_output=True, text=True, check=True
        ).stdout
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out = Path(os.environ.get("MUTATION_OUT") or ROOT / "results" / f"mutation-{module.replace('/', '.')}.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dump)
    print(summary(module, dump))
    return 0


def keep_sample(session: Path, size: int, seed: int = 0) -> None:
    """Mark all but a seeded random sample of `size` mutants as skipped: a module with hundreds of mutants at
    several seconds each is scored from a sample, and the summary gives the sample's confidence interval."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session), WorkDB.Mode.open) as db:
        jobs = sorted(item.job_id for item in db.work_items)
        skipped = set(jobs) - set(random.Random(seed).sample(jobs, min(size, len(jobs))))
        db.set_multiple_results(sorted(skipped), WorkResult(worker_outcome=WorkerOutcome.SKIPPED))


def wilson(killed: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a kill rate measured on `total` sampled mutants."""
    if total == 0:
        return 0.0, 1.0
    p = killed / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def summary(module: str, dump: str) -> str:
    """The score and every survivor, from cosmic-ray's JSON-lines session dump."""
    killed, survived, skipped, other = 0, [], 0, 0
    for line in dump.splitlines():
        item, result = json.loads(line)
        outcome = (result or {}).get("test_outcome")
        if outcome == "killed":
            killed += 1
        elif outcome == "survived":
            survived.append(result.get("diff") or str(item))
        elif (result or {}).get("worker_outcome") == "skipped":
            skipped += 1  # outside the sample
        else:
            other += 1  # incompetent (the mutant does not run at all) or not done
    total = killed + len(survived)
    low, high = wilson(killed, total)
    sampled = (
        f" (a sample of {total + other} of {total + other + skipped}; 95% interval {100 * low:.0f}-{100 * high:.0f}%)"
    )
    lines = [
        f"{module}: {killed} of {total} mutants killed ({100 * killed / max(total, 1):.0f}%)"
        f"{sampled if skipped else ''}, {len(survived)} survived, {other} incompetent or not run"
    ]
    lines += [f"survivor {i + 1}: {changed(diff)}" for i, diff in enumerate(survived)]
    return "\n".join(lines)


def changed(diff: str) -> str:
    """'line N: old -> new' from a mutant's unified diff."""
    start = next((int(line.split()[1].split(",")[0][1:]) for line in diff.splitlines() if line.startswith("@@")), 0)
    body = [line for line in diff.splitlines() if not line.startswith(("---", "+++", "@@"))]
    old = next((line[1:].strip() for line in body if line.startswith("-")), "")
    new = next((line[1:].strip() for line in body if line.startswith("+")), "")
    offset = next((i for i, line in enumerate(body) if line.startswith("-")), 0)
    return f"line {start + offset}: {old}  ->  {new}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
