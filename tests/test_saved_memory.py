"""What a forward keeps for its backward, as the benchmarks record it (bench/harness.saved_bytes) and the report
shows it (reports/ops.memory_table): the memory side of the fused rungs' trade."""

import pandas as pd
import torch

from bench.harness import saved_bytes
from kernels import registry
from kernels.spec import Case
from reports.ops import memory_table
from tests import helpers


def inputs(op: str, case: Case):
    return registry.spec(op).make_inputs(case, "cpu", seed=0)


def test_eager_dropout_keeps_a_mask_and_the_triton_rung_none():
    case = Case("bench", (64, 300), torch.float32, params=(("p", 0.2),))
    assert saved_bytes(registry.get("dropout", "eager"), inputs("dropout", case)) >= 64 * 300  # 1 or 4 bytes each
    helpers.runnable("dropout", "triton_philox", "cpu")
    assert saved_bytes(registry.get("dropout", "triton_philox"), inputs("dropout", case)) == 0


def test_the_unfused_head_keeps_its_logits_and_the_fused_one_does_not():
    n, d, c = 32, 16, 2000
    case = Case("bench", (n, d, c), torch.float32)
    assert saved_bytes(registry.get("linear_cross_entropy", "eager"), inputs("linear_cross_entropy", case)) >= 4 * n * c
    helpers.runnable("linear_cross_entropy", "triton_fused", "cpu")
    fused = saved_bytes(registry.get("linear_cross_entropy", "triton_fused"), inputs("linear_cross_entropy", case))
    assert fused < 4 * n * c / 10  # per row: m, log(d), the kept flag; and two scalars


def test_liger_s_fused_head_keeps_the_gradients_it_made_in_the_forward_and_no_logits():
    """Liger computes dx, dW and db during the forward and keeps them: no [N, C] logits, but W's size (more than
    ours, which recomputes the logits per block in the backward)."""
    n, d, c = 32, 16, 2000
    helpers.runnable("linear_cross_entropy", "liger", "cpu")
    kept = saved_bytes(
        registry.get("linear_cross_entropy", "liger"),
        inputs("linear_cross_entropy", Case("b", (n, d, c), torch.float32)),
    )
    assert kept == 4 * (n * d + c * d + c)


def test_liger_cross_entropy_keeps_nothing_beyond_the_logits_it_overwrites():
    """Its gradient lives in the logits' own memory (an input, not counted): the trade behind the overwrite."""
    case = Case("bench", (64, 1000), torch.float32)
    helpers.runnable("cross_entropy", "liger", "cpu")
    assert saved_bytes(registry.get("cross_entropy", "eager"), inputs("cross_entropy", case)) >= 4 * 64 * 1000
    assert saved_bytes(registry.get("cross_entropy", "liger"), inputs("cross_entropy", case)) == 0


def test_a_step_without_a_backward_has_no_figure():
    spec = registry.spec("sgd_step")
    case = next(c for c in spec.test_cases() if c.name == "momentum")
    assert saved_bytes(registry.get("sgd_step", "eager"), spec.make_inputs(case, "cpu", 0)) is None


def rows(kept: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            dict(
                machine="m",
                device="cpu",
                dtype="fp32",
                shape="64x300",
                mode="backward",
                variant=v,
                saved_bytes=b,
                peak_memory_bytes=None,
                rung=i,
            )
            for i, (v, b) in enumerate(kept.items())
        ]
    )


def test_the_report_shows_memory_where_the_variants_differ_only():
    table = memory_table(rows({"eager": 2**20, "triton_fused": 0}))
    assert table is not None and table.iloc[0]["eager"] == "1.00 MiB" and table.iloc[0]["triton_fused"] == "0.00 MiB"
    assert memory_table(rows({"eager": 2**20, "compiled": 2**20})) is None
