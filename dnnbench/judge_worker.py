"""The candidate's side of `dnnbench judge`: a child process that imports the candidate file and runs its variants
on request, and the parent's proxy that makes a remote variant look like a local function to the suite's checks.

Isolation: the parent makes every input from a seed the candidate never sees, keeps the float64 reference and the
verdict, and sends the candidate only values. The child answers each request (a forward, a backward, a declared
limit) with plain CPU tensors; a crash, an exit or a hang in the candidate ends the child, never the judge.

The proxy (`Remote.variant(op, name)`) is an autograd Function: its forward asks the child for the candidate's
output, its backward for the candidate's input gradients, so that kernels.check.compare judges it exactly as it
judges a registered variant. What the candidate wrote into its arguments is written back into the parent's, so
that the "inputs unchanged" check sees it; the aten operators it ran come back with every answer, for the torch-op
guard.
"""

from __future__ import annotations

import contextlib
import importlib.util
import multiprocessing
import sys
import traceback
from collections import Counter
from pathlib import Path

import torch

ANSWER_S = 120.0  # how long one request may take (an interpreted Triton kernel on a large case takes seconds)
LADDER_S = 900.0  # how long timing the whole ladder may take (Inductor compiles the compiled rung first)


class CandidateError(Exception):
    """The candidate's process failed: it died, exited or did not answer in time."""


class CandidateRaised(Exception):
    """The candidate raised an exception: `kind` is its type's name."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind, self.message = kind, message


# ---- the child ----


def _load(path: str) -> list[dict]:
    """Import the candidate file; return what it declared (registry variants new since the import)."""
    from kernels import registry

    before = {(op, v.name) for op in registry.ops() for v in registry.variants(op)}
    spec = importlib.util.spec_from_file_location("candidate", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["candidate"] = module
    spec.loader.exec_module(module)
    declared = []
    for op in registry.ops():
        for v in registry.variants(op):
            if (op, v.name) not in before:
                declared.append(
                    dict(
                        op=op,
                        name=v.name,
                        rung=v.rung,
                        devices=list(v.devices),
                        differentiable=v.differentiable,
                        interpreted_on_cpu=v.interpreted_on_cpu,
                        torch_ops=dict(v.torch_ops),
                    )
                )
    return declared


def cpu_copy(t):
    """A copy that keeps the layout: the same strides, storage offset and gaps (the whole storage is copied), so
    that the other side sees a transposed, sliced or expanded tensor as it was made."""
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu()
        return torch.empty(0, dtype=t.dtype).set_(t.untyped_storage().clone(), t.storage_offset(), t.size(), t.stride())
    if isinstance(t, (tuple, list)):
        return type(t)(cpu_copy(x) for x in t)
    return t


def _to(t, device: str):
    """`t` on `device` in its own layout: the whole storage moved and viewed with the same strides and offset
    (`Tensor.to` would make a sliced or expanded tensor contiguous on another device)."""
    if isinstance(t, torch.Tensor):
        storage = t.untyped_storage()
        whole = torch.empty(0, dtype=t.dtype).set_(storage, 0, (storage.nbytes() // t.itemsize,))
        return whole.to(device).as_strided(t.size(), t.stride(), t.storage_offset())
    if isinstance(t, (tuple, list)):
        return type(t)(_to(x, device) for x in t)
    return t


def _aliases(out, args) -> bool:
    outs = out if isinstance(out, (tuple, list)) else (out,)
    ptrs = {a.untyped_storage().data_ptr() for a in args if isinstance(a, torch.Tensor) and a.numel()}
    return any(isinstance(o, torch.Tensor) and o.numel() and o.untyped_storage().data_ptr() in ptrs for o in outs)


CUDA_TIMING = ("synchronize", "Event", "Stream", "current_stream", "stream", "set_stream", "is_initialized")


def _timing_code() -> dict[str, object]:
    """Every function and class the timing runs on, by name: the suite's timers and rounds, the host clocks, CUDA's
    synchronization and events. Taken before the candidate is imported and compared before and after it is timed: a
    candidate that replaces one of them (a clock that runs slow, an event that reports nothing) is caught."""
    import time

    import bench.calibration
    import bench.rounds
    import bench.timers

    found: dict[str, object] = {f"time.{n}": getattr(time, n) for n in ("perf_counter", "perf_counter_ns", "monotonic")}
    found |= {f"torch.cuda.{n}": getattr(torch.cuda, n) for n in CUDA_TIMING}
    owners = [bench.timers, bench.rounds, bench.calibration, torch.cuda.Event, torch.cuda.Stream]
    owners += [c for m in owners[:3] for c in vars(m).values() if isinstance(c, type) and c.__module__ == m.__name__]
    for owner in owners:
        where = f"{owner.__module__}.{owner.__qualname__}" if isinstance(owner, type) else owner.__name__
        for name, value in vars(owner).items():
            if callable(value) or isinstance(value, (staticmethod, classmethod)):
                found[f"{where}.{name}"] = value
    return found


def _replaced(before: dict[str, object]) -> list[str]:
    now = _timing_code()
    return sorted(n for n in before if now.get(n) is not before[n])


SLEEP_CYCLES = 50_000_000  # torch.cuda._sleep's spin before the inputs are written: tens of ms at GPU clocks


def _stream_probe(fn, args: list, kwargs: dict, device: str) -> dict:
    """On CUDA: the inputs are written on the current stream only after a long spin there, then the candidate is
    called and its output copied back at once on the current stream; then, after the whole device is
    synchronized, copied again. A kernel on a side stream that does not wait for the current one reads the
    inputs before they are written (its result is wrong); one that waits but is not waited for is read before it
    has finished (the first copy differs from the second)."""
    staged = [_to(a, device) for a in args]  # lists of tensors too (an optimizer step's parameters)
    blank = lambda t: torch.full_like(t, float("nan")) if t.is_floating_point() else torch.zeros_like(t)
    inputs = tensors_map(blank, staged)
    torch.cuda.synchronize()
    torch.cuda._sleep(SLEEP_CYCLES)
    for a, value in zip(tensors_in(inputs), tensors_in(staged), strict=True):
        a.copy_(value)  # queued on the current stream behind the spin
    with torch.no_grad():
        out = fn(*inputs, **kwargs)
    first = [o.to("cpu") for o in tensors_in(out)]  # on the current stream
    torch.cuda.synchronize()
    return {"first": first, "out": cpu_copy(out), "args": [cpu_copy(a) for a in inputs]}


def tensors_in(x) -> list[torch.Tensor]:
    """The tensors in `x`, a tensor or a (nested) list or tuple of them, in order."""
    if isinstance(x, torch.Tensor):
        return [x]
    return [t for item in x for t in tensors_in(item)] if isinstance(x, (tuple, list)) else []


def tensors_map(fn, x):
    if isinstance(x, torch.Tensor):
        return fn(x)
    return type(x)(tensors_map(fn, item) for item in x) if isinstance(x, (tuple, list)) else x


def serve(conn, path: str) -> None:
    """The child's loop: import the candidate, then answer requests until told to stop."""
    from kernels import registry
    from kernels.torch_ops import AtenRecorder

    timing_code = _timing_code()
    try:
        conn.send({"declared": _load(path)})
    except BaseException as e:  # noqa: BLE001 - a file that cannot be imported is the judge's exit 2, with its error
        conn.send({"load_error": f"{type(e).__name__}: {e}", "where": _where(e, path)})
        return
    pending: dict[int, tuple] = {}
    while True:
        msg = conn.recv()
        kind = msg["kind"]
        if kind == "stop":
            return
        recorder = AtenRecorder()
        try:
            v = registry.get(msg["op"], msg["name"]) if kind in ("reason", "call") else None
            if kind == "reason":
                reply = {"reason": v.skip_reason(msg["device"]) or v.unsupported_reason(msg["case"], msg["device"])}
            elif kind == "call":
                device = msg["device"]
                args = [_to(a, device) for a in msg["args"]]
                args = [a.requires_grad_() if g else a for a, g in zip(args, msg["grad"], strict=True)]
                kwargs = {k: _to(a, device) for k, a in msg["kwargs"].items()}
                with recorder:
                    out = v.fn(*args, **kwargs)
                pending[msg["id"]] = (out, [a for a, g in zip(args, msg["grad"], strict=True) if g])
                reply = {"out": cpu_copy(out), "args": [cpu_copy(a) for a in args], "aliases": _aliases(out, args)}
            elif kind == "stream":
                v = registry.get(msg["op"], msg["name"])
                kwargs = {k: _to(a, msg["device"]) for k, a in msg["kwargs"].items()}
                reply = _stream_probe(v.fn, msg["args"], kwargs, msg["device"])
            elif kind == "time":
                replaced = _replaced(timing_code)
                reply = {} if replaced else time_ladder(msg["op"], msg["name"], msg["device"], msg["max_time"])
                reply["replaced"] = replaced or _replaced(timing_code)
            elif kind == "grad":
                out, leaves = pending.pop(msg["id"])
                first = out[0] if isinstance(out, (tuple, list)) else out
                if not first.requires_grad:  # an output made apart from the inputs (an empty one): no gradient
                    grads = [None] * len(leaves)
                else:
                    grad_out = _to(msg["grad_out"], first.device)
                    with recorder:
                        grads = torch.autograd.grad(first, leaves, grad_out, allow_unused=True)
                reply = {"grads": [None if g is None else cpu_copy(g) for g in grads]}
            else:
                reply = {"raised": ("ValueError", f"unknown request {kind!r}")}
        except Exception as e:  # noqa: BLE001 - the candidate's exception, sent back by name
            reply = {"raised": (type(e).__name__, str(e))}
        reply["ops"] = dict(recorder.counts)
        conn.send(reply)


def _where(e: BaseException, path: str) -> str:
    """The candidate file's line the error points at ('my_kernel.py:12'), or the file."""
    if isinstance(e, SyntaxError) and e.lineno:
        return f"{path}:{e.lineno}"
    frames = [f for f in traceback.extract_tb(e.__traceback__) if Path(f.filename).resolve() == Path(path).resolve()]
    return f"{path}:{frames[-1].lineno}" if frames else path


def time_ladder(op: str, name: str, device: str, max_time: float) -> dict:
    """In the child: the candidate and every rung of its op's ladder that can be timed here, forward, on the quick
    profile's benchmark shapes in fp32 (the plain op: no fused parameters), timed in turn with the suite's timer and
    rounds; and this device's copy and matmul ceilings, for the roofline."""
    from bench.calibration import Ceiling, ceiling_call
    from bench.rounds import calls_per_round, median, median_rse, run_rounds
    from bench.timers import default_timer, make_timer
    from kernels import registry
    from kernels.spec import Case

    spec, timer_name = registry.spec(op), default_timer("op", device)

    def timed(call, timer_name=timer_name) -> tuple[float, float]:
        timer = make_timer(timer_name, call, device)
        calls = calls_per_round(timer, False)
        samples = run_rounds(timer, calls, max_time)  # per call
        return median(samples), median_rse(samples)

    ceilings = {}
    for kind in ("copy", "matmul"):
        call, work, _ = ceiling_call(Ceiling(kind, device, "fp32"))
        ceilings[kind] = work / timed(call)[0]
    rows, names = [], [v.name for v in registry.variants(op) if v.name != name] + [name]
    for batch in spec.batch_sizes["quick"]:
        for shape in spec.bench_shapes("quick", batch, device):
            case = Case("judge", shape, torch.float32, spec.bench_params(shape)[0])
            inputs = spec.make_inputs(case, device, 0)
            for variant_name in names:
                v = registry.get(op, variant_name)
                row = dict(
                    case="x".join(map(str, shape)),
                    variant=variant_name,
                    candidate=variant_name == name,
                    flops=spec.flops(case, "forward"),
                    bytes=spec.bytes(case, "forward"),
                )
                why = v.skip_reason(device, timing=True) or v.unsupported_reason(case, device)
                if why:
                    rows.append({**row, "skip": why})
                    continue
                call = lambda v=v, inputs=inputs: v.fn(*inputs.args, **inputs.kwargs)
                with torch.no_grad():
                    row["median_s"], row["rse"] = timed(call)
                    if device == "cuda":  # and by the host clock, synchronized across the whole device
                        row["wall_s"], row["wall_rse"] = timed(call, "wall")
                rows.append({**row, "timer": timer_name})
    return {"rows": rows, "ceilings": ceilings}


# ---- the parent ----


class Remote:
    """The candidate's child process, and the proxies of its variants."""

    def __init__(self, path: Path, timeout_s: float = ANSWER_S):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=serve, args=(child, str(path)), daemon=True)
        self.proc.start()
        self.timeout_s = timeout_s
        self.ops: Counter[str] = Counter()
        self._id = 0
        first = self._receive(timeout_s)
        self.load_error = (first.get("load_error"), first.get("where")) if "load_error" in first else None
        self.declared = first.get("declared", [])

    def _receive(self, timeout_s: float) -> dict:
        if not self.conn.poll(timeout_s):
            self.close()
            raise CandidateError(f"the candidate did not answer in {timeout_s:.0f} s (a hang)")
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            self.proc.join(5)
            raise CandidateError(f"the candidate's process died (exit code {self.proc.exitcode})") from None

    def request(self, timeout_s: float | None = None, **msg) -> dict:
        """Send one request; its answer within `timeout_s` (default: the per-call limit), else CandidateError."""
        if not self.proc.is_alive():
            raise CandidateError(f"the candidate's process died (exit code {self.proc.exitcode})")
        try:
            self.conn.send(msg)
        except (BrokenPipeError, OSError):
            raise CandidateError(f"the candidate's process died (exit code {self.proc.exitcode})") from None
        reply = self._receive(timeout_s or self.timeout_s)
        self.ops.update(reply.get("ops", {}))
        if "raised" in reply:
            raise CandidateRaised(*reply["raised"])
        return reply

    def next_id(self) -> int:
        self._id += 1
        return self._id

    def close(self) -> None:
        if self.proc.is_alive():
            with contextlib.suppress(BrokenPipeError, OSError):
                self.conn.send({"kind": "stop"})
            self.proc.join(2)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(2)

    def variant(self, op: str, name: str, device: str, aliases: list | None = None):
        """A local function with the variant's signature that runs it in the child (tensors on `device` there)."""

        def proxy(*args, **kwargs):
            tensors = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
            out = _RemoteCall.apply(self, op, name, device, args, kwargs, aliases, *[args[i] for i in tensors])
            return out[0] if len(out) == 1 else tuple(out)

        return proxy


class _RemoteCall(torch.autograd.Function):
    @staticmethod
    def forward(ctx, remote, op, name, device, args, kwargs, aliases, *tensors):
        grad = [isinstance(a, torch.Tensor) and a.requires_grad for a in args]
        ctx.remote, ctx.id = remote, remote.next_id()
        reply = remote.request(
            kind="call",
            id=ctx.id,
            op=op,
            name=name,
            device=device,
            args=[cpu_copy(a) for a in args],
            kwargs={k: cpu_copy(a) for k, a in kwargs.items()},
            grad=grad,
        )
        for a, after in zip(args, reply["args"], strict=True):  # what the candidate wrote into its arguments
            if isinstance(a, torch.Tensor) and not torch.equal(a.detach().cpu(), after):
                a.data.copy_(after.to(a.device))
        if aliases is not None:
            aliases.append(reply["aliases"])
        outs = reply["out"] if isinstance(reply["out"], (tuple, list)) else (reply["out"],)
        ctx.n_args, ctx.grad_at = len(tensors), [i for i, g in enumerate(grad) if g]
        ctx.positions = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
        outs = tuple(o.to(tensors[0].device if tensors else o.device) for o in outs)
        ctx.mark_non_differentiable(*[o for o in outs if not o.is_floating_point()])
        return outs

    @staticmethod
    def backward(ctx, *grad_outs):
        reply = ctx.remote.request(kind="grad", id=ctx.id, op="", name="", grad_out=cpu_copy(grad_outs[0]))
        by_position = dict(zip(ctx.grad_at, reply["grads"], strict=True))
        grads = [by_position.get(p) for p in ctx.positions]
        device = grad_outs[0].device
        return (None,) * 7 + tuple(g.to(device) if g is not None else None for g in grads)
