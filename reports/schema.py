"""The results schema, defined once: what each kind of benchmark records in pytest-benchmark's `extra_info` (name ->
unit and meaning), and the columns of the long table reports/load.py reads them into.

bench/ writes through `check(kind, info)`, which refuses a field this file does not list and a listed one left out;
reports/load.py takes the fields it passes through from here. So a renamed or forgotten field is an error where it
is written, never a silent empty column in a report. A leaf: the standard library only, so that the benchmark
harness may import it without importing the rest of the reports.
"""

from __future__ import annotations

_PRECISION_FLAGS = {
    "cuda_matmul_allow_tf32": "bool: torch.backends.cuda.matmul.allow_tf32 while timing",
    "cudnn_allow_tf32": "bool: torch.backends.cudnn.allow_tf32 while timing",
    "float32_matmul_precision": "torch.get_float32_matmul_precision() while timing",
}

# how a row was timed (bench/measure.py); every kind of benchmark records these
TIMING = {
    "timer": "wall, cuda_events, cuda_graph or kernel: what timed the rounds (bench/timers.py)",
    "cache": "warm (the same inputs every call) or cold (an untimed cache flush before every timed call)",
    "rse": "the median's relative standard error (order statistics of the rounds)",
    "calls_per_round": "int: calls in each timed round",
    "kernels_per_call": "int: device activities one call launches (kernel timer), else None",
}
# the machine while a row was measured (bench/clocks.py): each reading's name ends in its unit
MACHINE_STATE = {
    "clock_source": "os, nvml or torch.cuda: where the readings came from",
    "cpu_governor": "the cpufreq governor, or None",
    **{
        f"{reading}_{when}": f"{reading.rsplit('_', 1)[0]} in {reading.rsplit('_', 1)[1]} {when} the rounds, or None"
        for reading in ("cpu_mhz", "gpu_sm_mhz", "gpu_mem_mhz", "gpu_temp_c", "gpu_power_w")
        for when in ("before", "after")
    },
    "throttle_reasons": "list: the throttle reasons seen before or after the rounds",
    "throttled": "bool: measured while throttled; None where nothing could tell",
    "energy_j_per_call": "J per call (CUDA: NVML's energy counter over a warm window), or None",
    "energy_skip": "why energy_j_per_call is None, or None",
}

OP = {
    "op": "the op's name (softmax, matmul, ...)",
    "variant": "the rung's variant name (eager, triton_fused, ...)",
    "rung": "int: the ladder position (0 lesson, 1 eager, 2 compiled, 3 triton...)",
    "library": "a peer library's kernel: the library and its version ('liger-kernel 0.8.5'); '' for the suite's own",
    "baseline": "bool: the op's baseline variant",
    "mode": "forward or backward",
    "device": "cpu or cuda",
    "dtype": "fp32, fp16, bf16 or tf32",
    "shape": "list of int: the case's shape",
    "case": "the shape with its parameters and layout (256x1024x1024-bias-relu)",
    "params": "dict: the case's parameters",
    "batch": "int: the batch size of the shape",
    "flops": "FLOP per call (the op's work model)",
    "bytes": "bytes moved per call (the op's work model)",
    "work_model": "how flops and bytes are counted",
    "rel_error": "norm-wise relative error against float64",
    "tolerance": "the error allowed for the case",
    "first_call_s": "s: the first call (compilation, JIT, autotuning)",
    "compile_s": "s: the first call's time above a steady call's",
    "peak_memory_bytes": "bytes: peak CUDA allocation above the inputs (None on the CPU)",
    "saved_bytes": "bytes autograd keeps from one forward for the backward, inputs not counted (backward rows; "
    "None on forward rows)",
    "threads": "int: torch's CPU threads",
    **_PRECISION_FLAGS,
    "gflops": "GFLOP/s at the median",
    "gbps": "GB/s at the median",
    "noisy": "bool: IQR above 10% of the median",
    **TIMING,
    **MACHINE_STATE,
}
LESSON = {
    "lesson": "the lesson's id (4.3)",
    "title": "the lesson's title",
    "backend": "eager, compiled or triton",
    "mode": "forward or train_step",
    "device": "cpu or cuda",
    "dtype": "fp32, fp16 or bf16",
    "batch": "int: samples per step",
    "form": "plain, channels_last or autocast",
    "flops": "FLOP per call (torch's flop counter, on the eager model)",
    "first_call_s": "s: the first call",
    "compile_s": "s: the first call's time above a steady call's",
    "threads": "int: torch's CPU threads",
    "op_shares": "dict: each hot op's share of the eager step's self time, or None",
    **_PRECISION_FLAGS,
    "samples_per_s": "samples per second at the median",
    "gflops": "GFLOP/s at the median",
    "noisy": "bool: IQR above 10% of the median",
    **TIMING,
    **MACHINE_STATE,
}
LAB = {
    "lesson": "the lesson's id (1.1)",
    "title": "the lesson's title",
    "backend": "the lab's setting (or lab)",
    "mode": "lab",
    "device": "cpu or cuda",
    "dtype": "fp32",
    "batch": "int: the lab's size, or None",
    "first_call_s": "s: the first call",
    "threads": "int: torch's CPU threads",
    "samples_per_s": "the lab's size per second at the median, or None",
    "noisy": "bool: IQR above 10% of the median",
    **TIMING,
    **MACHINE_STATE,
}
CEILING = {
    "ceiling": "copy or matmul",
    "device": "cpu or cuda",
    "dtype": "fp32, fp16, bf16 or tf32",
    "bytes": "bytes moved per call (copy)",
    "flops": "FLOP per call (matmul)",
    **_PRECISION_FLAGS,
    "gbps": "GB/s at the median (copy)",
    "gflops": "GFLOP/s at the median (matmul)",
    **TIMING,
    **MACHINE_STATE,
}
KINDS = {"op": OP, "lesson": LESSON, "lab": LAB, "ceiling": CEILING}
# fields a kind records only in some cases: a ceiling measures either bytes (copy) or flops (matmul)
OPTIONAL = {"ceiling": {"bytes", "flops", "gbps", "gflops"}}


def check(kind: str, info: dict) -> dict:
    """`info` as recorded by a benchmark of `kind`; raises if it holds a field the schema does not list for that
    kind, or lacks one it does."""
    fields = KINDS[kind]
    unknown = sorted(set(info) - set(fields))
    missing = sorted(set(fields) - set(info) - OPTIONAL.get(kind, set()))
    if unknown or missing:
        raise ValueError(f"{kind} results: fields not in reports/schema.py: {unknown}; missing: {missing}")
    return info


# The long table (one row per measurement), column -> unit and meaning. Columns named as an `extra_info` field of a
# kind are that field, passed through; the others are computed by reports/load.py.
COLUMNS = {
    "kind": "op, lesson or ceiling",
    "op": "the op, or 'lesson <id>'",
    "variant": "the variant, or the lesson's backend",
    "rung": "int: the ladder position",
    "library": "the peer library and version of a peer's kernel, '' for the suite's own",
    "baseline": "bool",
    "mode": "forward, backward, train_step or lab",
    "device": "cpu or cuda",
    "machine": "host (GPU or CPU model)",
    "dtype": "fp32, fp16, bf16 or tf32",
    "shape": "the case (shape, parameters, layout), or b<batch>",
    "family": "the case's parameters without its shape: one curve per family",
    "elements": "int: product of the shape (lessons: the batch)",
    "batch": "int",
    "group": "pytest-benchmark's group: the variants compared side by side",
    "name": "the benchmark's test id",
    "median_s": "s",
    "iqr_s": "s",
    "q1_s": "s",
    "q3_s": "s",
    "rounds": "int",
    "flops": "FLOP per call",
    "bytes": "bytes per call",
    "gflops": "GFLOP/s",
    "gbps": "GB/s",
    "intensity": "FLOP/byte",
    "rel_error": "norm-wise relative error against float64",
    "tolerance": "the error allowed",
    "compile_s": "s",
    "peak_memory_bytes": "bytes",
    "saved_bytes": "bytes kept for the backward (backward rows)",
    "noisy": "bool",
    "ceiling": "copy or matmul (calibration rows)",
    "cache": "warm or cold",
    "timer": "wall, cuda_events, cuda_graph or kernel",
    "rse": "the median's relative standard error",
    "outliers": "int: rounds beyond Tukey's 1.5 IQR fences (kept in the statistics)",
    "calls_per_round": "int",
    "kernels_per_call": "int (kernel timer)",
    "speedup": "baseline median / this median, same group, cache state and timer",
    "speedup_lo": "the speedup's 95% interval, low end (both medians' standard errors, in log space)",
    "speedup_hi": "the speedup's 95% interval, high end",
    **MACHINE_STATE,
    "gflop_per_j": "GFLOP per joule (flops over energy_j_per_call)",
    "samples_per_s": "samples/s (lessons)",
    "op_shares": "dict (lessons)",
    "source": "the results file's name",
    # provenance (bench/machine.py, bench/plugin.py): where and from what a row was measured
    "host": "the machine's host name",
    "gpu": "the GPU the row was timed on (its name), or None on the CPU",
    "gpu_uuid": "that GPU's UUID (GPU-...), or None",
    "gpu_visible_as": "how CUDA_VISIBLE_DEVICES named that GPU (index or UUID), or None when it was unset",
    "shard": "I/N: the shard of the sweep (--shard), or None",
    "worker": "the pytest-xdist worker (gw0, ...), or None",
    "job_id": "the batch job (Slurm array job_task, or dnnbench submit's local job), or None",
    "commit": "the suite's git commit (-dirty: with local changes), or None",
    "torch": "torch's version",
    "triton": "triton's version",
}


def budget_text(seconds: float) -> str:
    """A run's --budget in words, as the harness writes it in its skip reasons and the report in its coverage."""
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"
