"""The registry: one baseline per op, unique names, ladder order, clear errors, and full coverage by the tests and
the benchmarks (nothing can be timed that is not also checked)."""

import subprocess
import sys

import pytest

from bench.harness import bench_cases
from bench.plugin import RunOptions
from kernels import registry
from kernels.registry import RUNGS, variant
from tests.conftest import correctness_cases


def test_every_op_has_exactly_one_baseline_named_eager():
    assert registry.ops(), "no op is registered"
    for op in registry.ops():
        marked = [v.name for v in registry.variants(op) if v.baseline]
        assert marked == ["eager"], f"{op}: baselines {marked}"


# variants named for what they are rather than a rung, each with the rung it declares (torch's other optimizer paths)
PEERS = {(op, name): RUNGS["eager"] for op in ("sgd_step", "adam_step") for name in ("foreach", "fused")}


def test_variants_come_in_ladder_order_with_rungs_from_their_names():
    for op in registry.ops():
        vs = registry.variants(op)
        assert [v.rung for v in vs] == sorted(v.rung for v in vs)
        assert vs[0].name == "lesson" and vs[1].name == "eager"
        for v in vs:
            ours = RUNGS.get(v.name, RUNGS["triton"] if v.name.startswith("triton") else PEERS.get((op, v.name)))
            expected = RUNGS["triton"] if v.peer else ours  # a peer library's kernel stands on the Triton rung
            assert v.rung == expected, f"{op}/{v.name} sits on rung {v.rung}, expected {expected}"
            assert v.doc, f"{op}/{v.name} has no docstring: the report and `dnnbench list` show it"


# Every op's ladder, in ladder order: a new variant is added here too, and the test says so until it is. The peer
# libraries' kernels (kernels/peers/) follow ours on their rung; they are registered whether or not the libraries are
# installed (their rows then skip, saying how to install them).
LADDERS = {
    "softmax": ["lesson", "eager", "compiled", "triton_online", "triton_rowwise", "flaggems", "liger"],
    "matmul": ["lesson", "eager", "compiled", "triton_tiled", "flaggems", "triton_fused"],
    "batchnorm": ["lesson", "eager", "compiled", "triton_twopass", "flaggems", "triton_fused"],
    "conv2d": ["lesson", "eager", "compiled", "triton_implicit_gemm", "flaggems", "triton_fused"],
    "max_pool2d": ["lesson", "eager", "compiled", "triton_window", "flaggems", "triton_fused"],
    "cross_entropy": ["lesson", "eager", "compiled", "triton_online", "flaggems", "liger"],
    "linear_cross_entropy": ["lesson", "eager", "compiled", "liger", "triton_fused"],
    "dropout": ["lesson", "eager", "compiled", "triton_philox", "flaggems", "triton_fused"],
    "sgd_step": ["lesson", "eager", "foreach", "fused", "compiled", "triton_multitensor"],
    "adam_step": ["lesson", "eager", "foreach", "fused", "compiled", "triton_multitensor"],
}


def test_every_op_has_its_whole_ladder():
    assert {op: [v.name for v in registry.variants(op)] for op in registry.ops()} == LADDERS


def test_each_op_lives_in_the_package_named_after_it_and_each_variant_in_the_module_named_after_it():
    for op in registry.ops():
        assert type(registry.spec(op)).__module__ == f"kernels.{op}.spec"
        for v in registry.variants(op):
            home = f"kernels.peers.{v.name}" if v.peer else f"kernels.{op}.{v.name}"  # a peer: one module per library
            assert v.fn.__module__ == home, f"{op}/{v.name} is declared in {v.fn.__module__}"


def test_declaring_a_name_twice_is_an_error():
    with pytest.raises(ValueError, match="declared twice"):
        variant("softmax", "eager")(lambda x, dim=-1: x)


def test_off_ladder_names_and_unknown_devices_are_errors():
    with pytest.raises(ValueError, match="not on the ladder"):
        variant("softmax", "fast")(lambda x, dim=-1: x)
    with pytest.raises(ValueError, match="unknown devices"):
        variant("softmax", "triton_test_only", devices=("tpu",))(lambda x, dim=-1: x)
    assert "triton_test_only" not in [v.name for v in registry.variants("softmax")]


def test_a_peer_library_s_variant_names_its_rung(monkeypatch):
    monkeypatch.setitem(registry._VARIANTS, "softmax", dict(registry._VARIANTS["softmax"]))
    variant("softmax", "peerlib", rung="triton", interpreted_on_cpu=True)(lambda x, dim=-1: x)
    assert registry.get("softmax", "peerlib").rung == RUNGS["triton"]
    names = [v.name for v in registry.variants("softmax")]
    assert names.index("compiled") < names.index("peerlib") < names.index("triton_online")
    variant("softmax", "peerlib3", rung="triton", library="peerlib 1.0")(lambda x, dim=-1: x)
    names = [v.name for v in registry.variants("softmax")]
    assert names.index("triton_rowwise") < names.index("peerlib3")  # a peer library's after ours on its rung
    with pytest.raises(ValueError, match="rung 'fastest' is not on the ladder"):
        variant("softmax", "peerlib2", rung="fastest")(lambda x, dim=-1: x)


def test_lookup_errors_name_what_exists():
    with pytest.raises(KeyError, match="unknown op 'nope'.*softmax"):
        registry.variants("nope")
    with pytest.raises(KeyError, match="unknown variant 'nope' of op 'softmax'.*eager"):
        registry.get("softmax", "nope")
    assert registry.get("softmax", "eager").baseline


def test_every_variant_is_covered_by_tests_and_benchmarks():
    options = RunOptions(devices=("cpu", "cuda"), dtypes=None, batch_sizes=None, profile="quick", seed=0, stream=None)
    tested = {(c.op, c.variant, c.device) for c in correctness_cases(options)}
    benched = {(c.op, c.variant, c.device, c.mode) for c in bench_cases(options)}
    for op in registry.ops():
        for v in registry.variants(op):
            for device in v.devices:
                assert (op, v.name, device) in tested, f"{op}/{v.name} on {device} has no correctness case"
                for mode in registry.spec(op).modes:
                    assert (op, v.name, device, mode) in benched, f"{op}/{v.name} {mode} on {device} is not benched"


def test_triton_variants_are_interpreted_on_cpu_and_never_timed_there():
    for op in registry.ops():
        for v in registry.variants(op):
            if v.rung >= RUNGS["triton"]:  # by rung: a peer library's Triton kernel too
                assert v.interpreted_on_cpu
                if v.skip_reason("cpu") is None:  # runs here (a peer's library installed, and on the CPU)
                    assert v.skip_reason("cpu", timing=True) == "interpreted, not a performance figure"
            else:
                assert v.skip_reason("cpu", timing=True) is None


def test_ops_come_in_package_order_whatever_was_imported_first():
    """Tables, reports and the README list ops in OPS order, not in the order a test or a script happened
    to import their modules (batch norm's module, imported first, once moved it ahead of softmax)."""
    code = (
        "import kernels.batchnorm.module, kernels.max_pool2d.spec; from kernels import registry; print(*registry.ops())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out.split() == list(LADDERS)  # LADDERS lists the ops in OPS order


@pytest.mark.parametrize("op", registry.ops())
def test_the_compiled_rung_compiles_the_baseline_function_itself(op):
    """Not a re-typed copy of its body, which could drift from what the baseline computes."""
    module = sys.modules[registry.get(op, "compiled").fn.__module__]
    assert module._compiled._torchdynamo_orig_callable is registry.baseline(op).fn
