"""Mutation testing of one module: `make mutation MODULE=reports/compare.py` (or python -m tests.mutation MODULE).

cosmic-ray changes the module one small thing at a time (an operator swapped, a comparison flipped, a constant
changed, a condition negated, a statement dropped) and runs the tests that cover the module after each change; a
mutant that the tests still pass survives, and names a claim no test checks. It all happens in a scratch copy of
the tree, so the working tree is never left mutated, whatever interrupts the run. Prints the score and each
survivor's diff; writes the JSON session dump to $MUTATION_OUT (default results/mutation-<module>.jsonl).
"""

from __future__ import annotations

import json
import os
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
    "reports/narrative.py": ["tests/test_planted_report.py"],
    "reports/studies.py": ["tests/test_studies.py::test_the_report_has_a_section_per_study_with_its_conclusion"],
    "models/studies.py": ["tests/test_study_truths.py::test_a_dynamics_study_runs_each_seed_once_and_seeds_differ",
                          "tests/test_studies.py"],
    "bench/systems.py": ["tests/test_study_truths.py", "tests/test_systems_studies.py"],
    "models/precision.py": ["tests/test_study_truths.py::test_the_precision_study_turns_autocast_on_and_off",
                            "tests/test_systems_studies.py::test_precision_names_its_problems_and_restores_tf32",
                            "tests/test_systems_studies.py::test_fit_scales_the_loss_under_fp16_autocast_only",
                            "tests/test_systems_studies.py::test_bf16_autocast_trains_as_well_as_fp32_on_the_digits"],
    "models/backends.py": ["tests/test_lesson_truths.py::test_the_triton_backend_runs_no_torch_layer",
                           "tests/test_lesson_backends.py::test_the_triton_backend_replaces_the_layers_and_keeps_the_parameters",
                           "tests/test_lessons.py::test_bad_settings_backends_and_overrides_name_the_problem"],
    "kernels/check.py": ["tests/test_correctness.py::test_check_rejects_wrong_outputs", "tests/test_reference.py",
                         "tests/test_correctness.py -k 'matmul and eager'"],
    "kernels/matmul/spec.py": ["tests/test_correctness.py -k matmul", "tests/test_matmul_edges.py",
                               "tests/test_reference.py", "tests/test_opinfo.py -k 'matmul and not compiled'"],
}  # fmt: skip


def tracked_copy() -> Path:
    """The tracked and untracked-but-not-ignored files, copied to a scratch directory."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")  # fmt: skip
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


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        raise SystemExit("usage: python -m tests.mutation MODULE   (e.g. reports/compare.py)")
    module = argv[0]
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
        subprocess.run([*cosmic, "exec", str(config), str(session)], cwd=scratch, check=True)
        dump = subprocess.run([*cosmic, "dump", str(session)], cwd=scratch, capture_output=True, text=True,
                              check=True).stdout  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out = Path(os.environ.get("MUTATION_OUT") or ROOT / "results" / f"mutation-{module.replace('/', '.')}.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dump)
    print(summary(module, dump))
    return 0


def summary(module: str, dump: str) -> str:
    """The score and every survivor, from cosmic-ray's JSON-lines session dump."""
    killed, survived, other = 0, [], 0
    for line in dump.splitlines():
        item, result = json.loads(line)
        outcome = (result or {}).get("test_outcome")
        if outcome == "killed":
            killed += 1
        elif outcome == "survived":
            survived.append(result.get("diff") or str(item))
        else:
            other += 1  # incompetent (the mutant does not run at all) or not done
    total = killed + len(survived)
    lines = [f"{module}: {killed} of {total} mutants killed ({100 * killed / max(total, 1):.0f}%), "
             f"{len(survived)} survived, {other} incompetent or not run"]  # fmt: skip
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
