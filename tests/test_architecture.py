"""The layering the README's Layout states, checked on the source: every import (module level and inside functions)
of every module, read with `ast`. kernels imports only kernels; models imports kernels; bench (the benchmark
harness) imports models and kernels, and the results schema (reports/schema.py, a leaf); reports imports nothing of
the suite but reports, so a report is built from result files on a machine without torch; the entry points
(dnnbench/) may import everything, and nothing imports them. No import cycle anywhere."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kernels", "models", "bench", "reports", "dnnbench")
MAY_IMPORT = {
    "kernels": {"kernels"},
    "models": {"models", "kernels"},
    "bench": {"bench", "models", "kernels"},
    "reports": {"reports"},
    "dnnbench": set(PACKAGES),
}
# dependency-free modules every layer may import: the results schema, which bench writes and reports reads
SHARED_LEAVES = {"reports.schema"}


def modules() -> dict[str, Path]:
    """Every module of the suite's packages by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The suite's modules that module `name` imports anywhere in its body (in a function, and for annotations only
    under `if TYPE_CHECKING:` too: a cycle a type checker walks is a cycle). `from pkg import mod` counts as an
    import of pkg.mod when that is a module, else of pkg."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from .mod import y
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for a in node.names:
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base)
    return {m for m in out if m in known and m != name}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_each_package_imports_only_the_layers_below_it(graph):
    wrong = [
        f"{m} imports {t}"
        for m, targets in graph.items()
        for t in sorted(targets)
        if t.split(".")[0] not in MAY_IMPORT[m.split(".")[0]] and t not in SHARED_LEAVES
    ]
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_the_shared_leaves_import_nothing_of_the_suite(graph):
    for leaf in SHARED_LEAVES:
        assert graph[leaf] == set(), f"{leaf} imports {graph[leaf]}"
        assert "import torch" not in modules()[leaf].read_text()


def test_there_is_no_import_cycle(graph):
    # Tarjan's strongly connected components: a component of more than one module is a cycle
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_walk_sees_imports_inside_functions_and_relative_ones(tmp_path):
    # the checker itself: a function-level import, a relative import and an annotation-only one are all edges
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from pkg import b\n")
    (pkg / "b.py").write_text(
        "from . import a\nfrom .a import f\nfrom typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg import c\n"
    )
    (pkg / "c.py").write_text("")
    known = {"pkg": pkg / "__init__.py", "pkg.a": pkg / "a.py", "pkg.b": pkg / "b.py", "pkg.c": pkg / "c.py"}
    assert imports("pkg.a", pkg / "a.py", known) == {"pkg.b"}
    assert imports("pkg.b", pkg / "b.py", known) == {"pkg.a", "pkg.c"}


def test_a_report_is_built_without_torch_triton_or_the_suite_s_code(tmp_path):
    """In a fresh interpreter: reports.build imports, and builds a report of an op results file and a study file,
    without importing torch, triton, kernels, models or bench, and without touching TRITON_INTERPRET."""
    from tests.test_planted_report import planted_results

    results = planted_results(tmp_path / "planted.json")
    study = tmp_path / "study-toy.jsonl"
    header = (
        '{"header": {"study": "toy", "kind": "dynamics", "question": "Which is lower?", "metric": "loss", '
        '"higher_is_better": false, "target": null, "also": [], "contrast": null, "arms": [{"label": "a", '
        '"lesson": "2.7", "group": "2.7", "target": null}, {"label": "b", "lesson": "2.7", "group": "2.7", '
        '"target": null}]}}'
    )
    rows = [
        f'{{"study": "toy", "lesson": "2.7", "setting": "{s}", "seed": {seed}, "epoch": 1, "seconds": 1.0, '
        f'"loss": {loss}, "device": "cpu", "version": "quick"}}'
        for s, loss in (("a", 1.0), ("b", 2.0))
        for seed in (0, 1)
    ]
    study.write_text("\n".join([header, *rows]) + "\n")
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from reports.build import build_report\n"
        f"build_report([Path({str(results)!r}), Path({str(study)!r})], Path({str(tmp_path / 'report')!r}))\n"
        "mods = ('torch', 'triton', 'kernels', 'models', 'bench', 'dnnbench')\n"
        "loaded = sorted(m for m in mods if m in sys.modules)\n"
        "print(loaded, os.environ.get('TRITON_INTERPRET'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[] None"
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## Op: softmax" in md
    assert "toy: a reaches the best final loss, 1 (range 1 to 1 over 2 seeds)." in md
