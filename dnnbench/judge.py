"""`dnnbench judge PATH.py`: anyone's own kernel, put through the suite's checks, with the candidate isolated in a
child process (dnnbench/judge_worker.py).

Each variant PATH.py declares (with kernels.registry.variant, as the README's "Adding a variant" says) is judged by
named checks, each passed or failed with its evidence:

- correct: every case of the op's spec (every dtype, the edge cases), forward and backward, against float64 with the
  op's own tolerances; the op's layout template with every argument and the output gradient in each layout of the
  layout fuzz (transposed, sliced with NaN in its gaps, expanded ...); random examples of the layout fuzz (10, or 300
  with --full), the first wrong one shrunk to the smallest; and torch's own OpInfo samples of its counterpart;
- drop_in: the output's dtype, shape and device are torch's; no argument is written to; the output aliases no
  input; a bad argument gets an exception, not a crash or a wrong answer;
- not_cached: the same shape with other values gets its own right answer; the same inputs twice, the same answer;
- honest_stream: on CUDA, the work is on the current stream (inputs written late there are the ones it reads, and
  its output is final when the call returns);
- honest_triton: a variant on a Triton rung runs no PyTorch compute it does not declare in `torch_ops`;
- isolated: the candidate's crash, exit or hang is its rejection, never the judge's;
- timed: once accepted, with the ladder, by the suite's timers, which the candidate must leave as they were.

Exit status: 0 every variant accepted, 1 one or more rejected, 2 the file cannot be judged (one line: what, where).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import torch

from dnnbench.judge_worker import LADDER_S, CandidateError, CandidateRaised, Remote, cpu_copy, tensors_in
from kernels.spec import Case, OpSpec
from reports.summary import Z95

EXIT_ACCEPTED, EXIT_REJECTED, EXIT_UNUSABLE = 0, 1, 2
QUICK_CASES = 12  # cases per op in the quick mode (every case with --full)


class Unusable(Exception):
    """The file cannot be judged: the message says what and where."""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Verdict:
    op: str
    name: str
    checks: list[Check] = field(default_factory=list)
    timings: list[dict] = field(default_factory=list)  # the candidate and the ladder, timed in one child
    ceilings: dict = field(default_factory=dict)  # the device's measured copy (B/s) and matmul (FLOP/s) ceilings

    @property
    def verdict(self) -> str:
        return "accepted" if self.checks and all(c.ok for c in self.checks) else "rejected"

    def as_dict(self) -> dict:
        checks = [asdict(c) for c in self.checks]
        verdict = {"op": self.op, "name": self.name, "verdict": self.verdict, "checks": checks}
        return verdict | {"timings": self.timings, "ceilings": self.ceilings}


def fresh_seed() -> int:
    """A seed the candidate cannot see or predict: from the OS, in the parent."""
    return int.from_bytes(os.urandom(4), "little") % (2**31)


def cases_for(spec, full: bool) -> list:
    cases = spec.test_cases()
    return cases if full else cases[:: max(1, len(cases) // QUICK_CASES)][:QUICK_CASES]


def _failed(results) -> list[str]:
    """The failed comparisons, as text; inputs written to are drop_in's to judge, not correctness's."""
    return [str(r) for r in results if not r.ok and not r.what.startswith("inputs unchanged")]


def _unsupported(remote: Remote, d: dict, case, device: str) -> str | None:
    """Why the candidate declares `case` unsupported (a dtype, a size), or None."""
    return remote.request(kind="reason", op=d["op"], name=d["name"], case=case, device=device)["reason"]


def check_correct(remote: Remote, d: dict, spec, device: str, full: bool) -> Check:
    fn, failures, judged, skipped = remote.variant(d["op"], d["name"], device), [], 0, []
    for case in cases_for(spec, full):
        reason = _unsupported(remote, d, case, device)
        if reason:
            skipped.append(f"{case.id}: {reason}")
            continue
        try:
            results = spec.compare(fn, case, device, fresh_seed(), grads=case.grad and d["differentiable"])
        except (CandidateRaised, RuntimeError) as e:  # RuntimeError: autograd's, on an output with no gradient path
            failures.append(f"{case.id}: raised {type(e).__name__}: {e}"[:200])
            continue
        bad = _failed(results)
        failures += [f"{case.id}: {'; '.join(bad)}"] if bad else []
        judged += 1
    if failures:
        return Check(
            "correct", False, f"{len(failures)} of {judged + len(failures)} cases wrong: " + " | ".join(failures[:3])
        )
    if not judged:
        return Check("correct", False, "no case could be judged: " + " | ".join(skipped[:3]))
    extra = f"; {len(skipped)} declared unsupported" if skipped else ""
    return Check("correct", True, f"{judged} cases against float64, forward and backward{extra}")


def _wrong_on(remote: Remote, d: dict, spec, fn, example, device: str) -> list[str]:
    """What the candidate gets wrong on a fuzz example (kernels/layouts.py): the failed comparisons against float64,
    or the exception it raised; nothing where it declares the case unsupported."""
    from kernels.layouts import restride

    case = example.case
    if _unsupported(remote, d, case, device):
        return []
    try:
        results = spec.compare(
            fn,
            case,
            device,
            example.seed,
            grads=case.grad and d["differentiable"],
            inputs=example.inputs(device),
            grad_layout=partial(restride, layout=example.grad_layout),
        )
    except (CandidateRaised, RuntimeError) as e:  # RuntimeError: autograd's, on an output with no gradient path
        return [f"raised {type(e).__name__}: {e}"[:200]]
    return _failed(results)


def check_layouts(remote: Remote, d: dict, spec, device: str) -> Check:
    """The op's layout template (every optional tensor present: bias, affine, running statistics) with every tensor
    argument and the output gradient re-stored in each layout of the layout fuzz (transposed, sliced with NaN in the
    gaps, expanded, ...), as tests/test_layout_fuzz.py checks the suite's own variants."""
    from kernels.layouts import LAYOUTS, layout_example

    fn, wrong = remote.variant(d["op"], d["name"], device), []
    for layout in LAYOUTS:
        example = dataclasses.replace(layout_example(d["op"], layout), seed=fresh_seed())
        bad = _wrong_on(remote, d, spec, fn, example, device)
        wrong += [f"{layout}: {'; '.join(bad)}"] if bad else []
    case = layout_example(d["op"], "contiguous").case
    detail = " | ".join(wrong) if wrong else f"{case.id} in {len(LAYOUTS)} layouts: {', '.join(LAYOUTS)}"
    return Check("correct: every layout", not wrong, detail)


FUZZ_EXAMPLES = {False: 10, True: 300}  # random layout-fuzz examples per variant: quick, --full


def check_fuzz(remote: Remote, d: dict, spec, device: str, full: bool) -> Check:
    """Random examples of the layout fuzz (kernels/fuzz.py: shapes, parameters, dtypes, values and a layout for every
    tensor argument and the output gradient), drawn from a seed the candidate cannot see; the first wrong one is
    shrunk by hypothesis to a small reproduction. torch's own bugs (kernels/fuzz.py torch_bug) are left out: a
    candidate is held to no more than torch's op."""
    import hypothesis
    from hypothesis import HealthCheck, Phase

    from kernels.fuzz import examples, torch_bug

    fn, budget = remote.variant(d["op"], d["name"], device), FUZZ_EXAMPLES[full]
    probe = next(c for c in spec.test_cases() if c.fill == "randn")
    probes = {dt: Case(probe.name, probe.shape, dt, probe.params) for dt in spec.dtypes}
    dtypes = [dt for dt, case in probes.items() if not _unsupported(remote, d, case, device)]
    if not dtypes:
        return Check("correct: layout fuzz", False, "declares every dtype unsupported")
    tried = []

    def wrong(example) -> bool:
        if torch_bug("eager", example, device):
            return False
        tried.append(example)
        return bool(_wrong_on(remote, d, spec, fn, example, device))

    settings = hypothesis.settings(
        max_examples=budget,
        database=None,
        deadline=None,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
    try:
        found = hypothesis.find(examples(d["op"], dtypes), wrong, settings=settings, random=random.Random(fresh_seed()))
    except hypothesis.errors.NoSuchExample:
        names = ", ".join(str(dt).removeprefix("torch.") for dt in dtypes)
        return Check("correct: layout fuzz", True, f"{len(tried)} random examples right ({names}, every layout)")
    bad = _wrong_on(remote, d, spec, fn, found, device)
    return Check("correct: layout fuzz", False, f"{'; '.join(bad)}"[:300] + f" | the smallest wrong example: {found!r}")


OPINFO_SAMPLES = 24  # torch's samples judged per op (spread over them all; --full: every one)
REFUSALS = ("TypeError", "ValueError", "NotImplementedError")  # a clear refusal of an argument it does not take


def check_opinfo(remote: Remote, d: dict, device: str, full: bool, stochastic: bool) -> Check:
    """torch's own OpInfo samples for the op's torch counterpart, in fp32: the output and the input gradients against
    torch's op in float64. A sample refused with a clear error (TypeError, ValueError) is counted, not failed."""
    from kernels.check import rel_error
    from kernels.opinfo import OPINFO, samples
    from kernels.spec import RTOL

    if d["op"] not in OPINFO or stochastic:
        why = "random or in place: no single right answer" if stochastic else "torch has no OpInfo for it"
        return Check("correct: torch's OpInfo samples", True, f"not applicable: {why}")
    try:
        torch_op, found = samples(d["op"], torch.float32)
    except ImportError as e:
        return Check("correct: torch's OpInfo samples", True, f"not run: {e}")
    found = found if full else found[:: max(1, len(found) // OPINFO_SAMPLES)][:OPINFO_SAMPLES]
    fn, wrong, refused, tol = remote.variant(d["op"], d["name"], device), [], [], 10 * RTOL[torch.float32]
    for s in found:
        args = [a.to(device) if isinstance(a, torch.Tensor) else a for a in (s.input, *s.args)]
        ref_args = [_as_float64(a, leaf=True) for a in (s.input, *s.args)]
        ref_kwargs = {k: _as_float64(a) for k, a in s.kwargs.items()}
        try:
            out = fn(*args, **s.kwargs)
        except CandidateRaised as e:
            (refused if e.kind in REFUSALS else wrong).append(f"{s.summary()}: {e}"[:160])
            continue
        got, want = _outputs(out), _outputs(torch_op(*ref_args, **ref_kwargs))
        errors = [rel_error(g, w) for g, w in zip(got, want, strict=False) if w.is_floating_point()]
        if len(got) != len(want) or any(e > tol for e in errors):
            wrong.append(f"{s.summary()}: error {max(errors, default=float('inf')):.3g}"[:160])
            continue
        leaves = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
        if d["differentiable"] and leaves and got[0].requires_grad:
            dy = torch.randn(want[0].shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
            try:
                mine = torch.autograd.grad(got[0], leaves, dy.to(got[0]), allow_unused=True)
            except (CandidateRaised, RuntimeError) as e:
                wrong.append(f"{s.summary()}: its backward raised {type(e).__name__}: {e}"[:160])
                continue
            theirs = torch.autograd.grad(
                want[0], [a for a in ref_args if isinstance(a, torch.Tensor) and a.requires_grad], dy, allow_unused=True
            )
            for g, w in zip(mine, theirs, strict=True):
                if w is not None and w.numel() and (g is None or rel_error(g, w, floor=dy.norm().item()) > 10 * tol):
                    wrong.append(f"{s.summary()}: a wrong gradient"[:160])
                    break
    judged = len(found) - len(refused)
    detail = f"{judged - len(wrong)} of {len(found)} samples right" + (
        f"; {len(refused)} refused clearly" if refused else ""
    )
    return Check(
        "correct: torch's OpInfo samples", not wrong and judged > 0, detail + "".join(f" | {w}" for w in wrong[:3])
    )


def _as_float64(a, leaf: bool = False):
    """A float tensor as a float64 copy (a leaf tracking gradients where `a` does, with `leaf`); anything else as is."""
    if not (isinstance(a, torch.Tensor) and a.is_floating_point()):
        return a
    copy = a.detach().double().clone()
    return copy.requires_grad_(a.requires_grad) if leaf else copy


def _outputs(out) -> list[torch.Tensor]:
    """A variant's outputs as a list (max_pool2d with return_indices gives two)."""
    return list(out) if isinstance(out, tuple) else [out]


def output_like_torch(remote: Remote, d: dict, spec, device: str) -> Check:
    """The output's dtype, shape and device against torch's own op, on the first case of each dtype."""
    from kernels import registry

    fn, seen, wrong = remote.variant(d["op"], d["name"], device), set(), []
    for case in spec.test_cases():
        if case.fill != "randn" or case.precision in seen:
            continue
        seen.add(case.precision)
        inputs = spec.make_inputs(case, device, fresh_seed())
        want = registry.baseline(d["op"]).fn(*[_copy(a) for a in inputs.args], **inputs.kwargs)
        out = fn(*inputs.args, **inputs.kwargs)
        got, ref = _described(out), _described(want)
        wrong += [f"{case.id}: {got}, torch's {ref}"] if got != ref else []
    detail = " | ".join(wrong) if wrong else f"dtype, shape and device as torch's in {', '.join(sorted(seen))}"
    return Check("drop_in: output like torch's", not wrong, detail)


def _copy(a):
    return a.detach().clone() if isinstance(a, torch.Tensor) else a


def _described(out) -> list[tuple]:
    outs = _outputs(out)
    return [(str(o.dtype).removeprefix("torch."), tuple(o.shape), o.device.type) for o in outs]


def check_drop_in(remote: Remote, d: dict, spec, device: str) -> list[Check]:
    checks = [output_like_torch(remote, d, spec, device)]
    case = next(c for c in spec.test_cases() if c.fill == "randn")
    inputs = spec.make_inputs(case, device, fresh_seed())
    aliases: list = []
    fn = remote.variant(d["op"], d["name"], device, aliases)
    before = [_copy(a) for a in inputs.args]
    fn(*inputs.args, **inputs.kwargs)  # the proxy writes back what the call wrote into its arguments
    written = [
        i
        for i, (a, b) in enumerate(zip(inputs.args, before, strict=True))
        if isinstance(a, torch.Tensor) and i not in inputs.state and not torch.equal(a.detach(), b)
    ]
    checks.append(
        Check("drop_in: inputs unchanged", not written, f"argument {written} written to" if written else "none written")
    )
    in_place = bool(spec.in_place or inputs.kwargs.get("inplace"))
    shared = any(aliases) and not in_place
    checks.append(
        Check("drop_in: no output aliases an input", not shared, "shares an input's memory" if shared else "fresh")
    )
    bad = [a.to(torch.int32) if i == 0 and isinstance(a, torch.Tensor) else a for i, a in enumerate(before)]
    try:
        fn(*bad, **inputs.kwargs)
        checks.append(Check("drop_in: bad input refused", False, "an int32 first argument was accepted"))
    except CandidateRaised as e:
        ok = e.kind in ("TypeError", "ValueError", "RuntimeError", "IndexError", "NotImplementedError")
        checks.append(
            Check("drop_in: bad input refused", ok, f"an int32 first argument raised {e.kind}: {e.message[:120]}")
        )
    return checks


def check_not_cached(remote: Remote, d: dict, spec, device: str, stochastic: bool) -> Check:
    """Two calls of one shape with other values, each against float64; the same inputs twice, the same answer."""
    fn = remote.variant(d["op"], d["name"], device)
    fp32 = [c for c in spec.test_cases() if c.fill == "randn" and c.dtype == torch.float32]
    case = max(fp32, key=lambda c: math.prod(c.shape))
    for seed in (fresh_seed(), fresh_seed()):
        results = spec.compare(fn, case, device, seed, grads=False)
        bad = _failed(results)
        if bad:
            return Check("not_cached", False, f"{case.id}, other values of the same shape: {'; '.join(bad)}")
    if stochastic:
        return Check(
            "not_cached",
            True,
            f"{case.id}: two sets of values, each right (random or in place: its own properties judge it, no repeat)",
        )
    inputs = spec.make_inputs(case, device, fresh_seed())
    first = fn(*[a.clone() if isinstance(a, torch.Tensor) else a for a in inputs.args], **inputs.kwargs)
    again = fn(*inputs.args, **inputs.kwargs)
    same = torch.equal(_outputs(first)[0], _outputs(again)[0])
    return Check(
        "not_cached",
        same,
        f"{case.id}: two sets of values right; the same inputs twice " + ("agree" if same else "differ"),
    )


STREAM_PROBES = 3  # calls with the inputs written late on the current stream (dnnbench/judge_worker.py)


def check_stream(remote: Remote, d: dict, spec, device: str, stochastic: bool) -> Check:
    """On CUDA: the work is on the current stream. The child writes the inputs on the current stream behind a long
    spin, calls the candidate, and copies its output back at once on the current stream, then again after
    synchronizing the whole device: work on a side stream that does not wait for the current one reads the inputs
    before they are written; work that is not waited for is read before it is done."""
    name = "honest_stream"
    if device != "cuda":
        return Check(name, True, f"not applicable on {device}: one stream (checked on CUDA)")
    # the largest benchmark shape: its kernels run long enough that output read too soon is caught in the act
    shape = max(spec.bench_shapes("quick", max(spec.batch_sizes["quick"]), device), key=math.prod)
    case = Case("stream", shape, torch.float32, spec.bench_params(shape)[0])
    for _ in range(STREAM_PROBES):
        seed = fresh_seed()
        inputs = spec.make_inputs(case, device, seed)
        reply = remote.request(
            kind="stream",
            op=d["op"],
            name=d["name"],
            device=device,
            args=[cpu_copy(a) for a in inputs.args],
            kwargs={k: cpu_copy(a) for k, a in inputs.kwargs.items()},
        )
        late = [
            i
            for i, (first, done) in enumerate(zip(reply["first"], tensors_in(reply["out"]), strict=False))
            if not torch.equal(first.nan_to_num(), done.nan_to_num())
        ]
        if late:
            return Check(
                name,
                False,
                f"{case.id}: output {late} read on the current stream after the call is not its "
                "final value: the work runs on another stream that the current one does not wait for",
            )
        if stochastic:  # no single right answer: the inputs read before they were written show as NaN
            written = tensors_in(reply["out"]) + tensors_in(reply["args"])
            nan = any(a.is_floating_point() and a.isnan().any() for a in written)
            bad = ["NaN in its output or its state, from inputs that held none"] if nan else []
        else:

            def given(*args, reply=reply, **kwargs):  # the child's answer, and what it wrote into its arguments
                for a, after in zip(tensors_in(args), tensors_in(reply["args"]), strict=True):
                    a.data.copy_(after)
                return _to_device(reply["out"], device)

            bad = _failed(spec.compare(given, case, device, seed, grads=False))
        if bad:
            return Check(
                name,
                False,
                f"{case.id}, with its inputs written late on the current stream: "
                f"{'; '.join(bad)} (work on another stream that does not wait for the current one)",
            )
    return Check(name, True, f"{case.id}: inputs written late on the current stream, the output read at once: right")


def _to_device(out, device: str):
    return tuple(o.to(device) for o in out) if isinstance(out, (tuple, list)) else out.to(device)


def check_honest_triton(remote: Remote, d: dict) -> Check | None:
    from kernels.registry import RUNGS
    from kernels.torch_ops import ALLOWED

    if d["rung"] < RUNGS["triton"]:
        return None
    extra = sorted(set(remote.ops) - ALLOWED - set(d["torch_ops"]))
    detail = (
        f"runs PyTorch compute it does not declare in torch_ops: {extra}" if extra else "no undeclared PyTorch compute"
    )
    return Check("honest_triton", not extra, detail)


IMPOSSIBLE = 2.0  # a time below the roofline's by this factor cannot be the work done (the ceilings are measured)


def time_against_ladder(remote: Remote, d: dict, device: str, max_time: float) -> tuple[list[dict], dict, list[Check]]:
    """Once accepted: the candidate and every rung of the ladder timed in the same child, the speedups over eager
    with their 95% intervals, and a check that no figure beats the roofline of the device's measured ceilings."""
    limit = max(remote.timeout_s, LADDER_S)
    reply = remote.request(limit, kind="time", op=d["op"], name=d["name"], device=device, max_time=max_time)
    if reply["replaced"]:
        return (
            [],
            {},
            [Check("timed", False, f"the candidate replaced the timing code: {', '.join(reply['replaced'])}")],
        )
    rows, ceilings = reply["rows"], reply["ceilings"]
    eager = {r["case"]: r for r in rows if r["variant"] == "eager" and "median_s" in r}
    impossible = []
    for r in rows:
        base = eager.get(r["case"])
        if "median_s" in r and base:
            # on CUDA also timed by the synchronized host clock: the speedup kept is the lesser of the two, so that
            # work the current stream's events do not see (another stream, the host) cannot make it faster
            timers = [("median_s", "rse")] + ([("wall_s", "wall_rse")] if "wall_s" in r else [])
            time_key, rse_key = min(timers, key=lambda t: base[t[0]] / r[t[0]])
            r["speedup"] = base[time_key] / r[time_key]
            r["speedup_timer"] = r["timer"] if time_key == "median_s" else "wall"
            spread = Z95 * (base[rse_key] ** 2 + r[rse_key] ** 2) ** 0.5
            r["speedup_lo"], r["speedup_hi"] = r["speedup"] * math.exp(-spread), r["speedup"] * math.exp(spread)
        if "median_s" in r:  # the roofline's time for this work, and the share of it the variant reaches
            r["roofline_s"] = max(r["bytes"] / ceilings["copy"], r["flops"] / ceilings["matmul"])
            r["of_roofline"] = r["roofline_s"] / r["median_s"]
        if r["candidate"] and "median_s" in r and r["median_s"] * IMPOSSIBLE < r["roofline_s"]:
            impossible.append(f"{r['case']}: {r['median_s'] * 1e6:.1f} us, the roofline {r['roofline_s'] * 1e6:.1f} us")
    mine = [r for r in rows if r["candidate"]]
    if not any("median_s" in r for r in mine):
        return (
            rows,
            ceilings,
            [Check("timed", True, f"not timed here: {mine[0]['skip'] if mine else 'no benchmark shape'}")],
        )
    detail = "; ".join(
        f"{r['case']}: {r['median_s'] * 1e6:,.1f} us, {r.get('speedup', float('nan')):.2f}x eager "
        f"({r.get('speedup_lo', float('nan')):.2f}-{r.get('speedup_hi', float('nan')):.2f})"
        for r in mine
        if "median_s" in r
    )
    checks = [Check("timed", True, detail)]
    checks.append(Check("plausible_speed", not impossible, " | ".join(impossible) or "no figure beats the roofline"))
    return rows, ceilings, checks


def judge_variant(remote: Remote, d: dict, device: str, full: bool, max_time: float = 0.2) -> Verdict:
    from kernels import registry

    spec, verdict = registry.spec(d["op"]), Verdict(d["op"], d["name"])
    if device not in d["devices"]:
        verdict.checks.append(Check("runs here", False, f"declared for {d['devices']}, judged on {device}"))
        return verdict
    remote.ops.clear()
    # a random op (dropout) or an in-place step judges itself by its properties: no repeat of one answer to ask for
    stochastic = type(spec).compare is not OpSpec.compare
    steps = [
        lambda: [check_correct(remote, d, spec, device, full)],
        lambda: [check_layouts(remote, d, spec, device)],
        lambda: [check_fuzz(remote, d, spec, device, full)],
        lambda: [check_opinfo(remote, d, device, full, stochastic)],
        lambda: check_drop_in(remote, d, spec, device),
        lambda: [check_not_cached(remote, d, spec, device, stochastic)],
        lambda: [check_stream(remote, d, spec, device, stochastic)],
    ]
    for step in steps:
        try:
            verdict.checks += step()
        except CandidateError as e:
            verdict.checks.append(Check("isolated", False, str(e)))
            return verdict
        except (CandidateRaised, RuntimeError) as e:  # one step's failure keeps the other steps' checks
            verdict.checks.append(Check("drop_in: runs", False, f"raised {type(e).__name__}: {e}"[:300]))
    honest = check_honest_triton(remote, d)
    verdict.checks += [honest] if honest else []
    if verdict.verdict == "accepted":
        try:
            verdict.timings, verdict.ceilings, timed = time_against_ladder(remote, d, device, max_time)
            verdict.checks += timed
        except (CandidateError, CandidateRaised) as e:
            verdict.checks.append(Check("timed", False, f"timing failed: {e}"))
    return verdict


def judge(
    path: Path, device: str = "cpu", full: bool = False, timeout_s: float = 120.0, max_time: float = 0.2
) -> list[Verdict]:
    """Judge every variant `path` declares; raises Unusable where the file cannot be judged."""
    if not path.is_file():
        raise Unusable(f"{path}: no such file")
    remote = Remote(path, timeout_s)
    try:
        if remote.load_error:
            error, where = remote.load_error
            raise Unusable(f"{where}: does not import: {error.splitlines()[0]}")
        if not remote.declared:
            raise Unusable(f"{path}: declares no variant (use @variant from kernels.registry)")
        from kernels import registry

        known = registry.ops()  # this process never imports the candidate: the suite's own ops
        for d in remote.declared:
            if d["op"] not in known:
                raise Unusable(
                    f"{path}: variant {d['name']!r} names an unknown op {d['op']!r}; known: {', '.join(known)}"
                )
        verdicts = []
        for d in remote.declared:
            verdicts.append(judge_variant(remote, d, device, full, max_time))
            if not remote.proc.is_alive():  # a crash or a hang ends the child: the next variant gets a fresh one
                remote = Remote(path, timeout_s)
        return verdicts
    finally:
        remote.close()


def write_json(verdicts: list[Verdict], path: Path) -> None:
    path.write_text(json.dumps({"variants": [v.as_dict() for v in verdicts]}, indent=1))


def print_verdicts(verdicts: list[Verdict]) -> None:
    for v in verdicts:
        print(f"{v.op}/{v.name}: {v.verdict}")
        for c in v.checks:
            print(f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}")


def _split_params(params: str) -> list[str]:
    """A signature's parameters, split at the commas outside brackets (a default may be a tuple)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(params):
        depth += ch in "([{" and 1 or ch in ")]}" and -1 or 0
        if ch == "," and depth == 0:
            parts.append(params[start:i])
            start = i + 1
    return parts + [params[start:]]


def template(op: str) -> str:
    """A starting file for a variant of `op`: the signature of its baseline, the decorator, what will be checked."""
    import inspect

    from kernels import registry

    base = registry.baseline(op).fn
    signature = str(inspect.signature(base)).replace("torch.Tensor", "Tensor")
    if len(f"def my_{op}{signature}:") > 120:  # one parameter a line, as the formatter would write it
        params, returns = signature[1:].split(") -> ")
        signature = "(\n" + "".join(f"    {p.strip()},\n" for p in _split_params(params)) + f") -> {returns}"
    checks = "\n".join(f"# {line}" for line in __doc__.split("\n\n")[2].strip().splitlines())
    return f'''"""My {op}: a variant of dnnbench's {op} ladder. Judge it with: dnnbench judge {op}_mine.py"""

# dnnbench judge checks every variant this file declares:
{checks}
# A Triton kernel: rung="triton", interpreted_on_cpu=True, and in torch_ops={{"aten op": "why"}} every PyTorch
# operator it runs besides its kernels.

import torch
from torch import Tensor

from dnnbench import variant


@variant("{op}", "mine", rung="eager")
def my_{op}{signature}:
    """One line on what it does (dnnbench list shows it)."""
    raise NotImplementedError("write the kernel here, with the signature of {base.__module__}.{base.__name__}")
'''
