"""The generated sentences that open each section: what bounds an op, which variant wins where, how far the best
is from the measured ceiling. Every figure a sentence states is read from the results table."""

from __future__ import annotations

import pandas as pd

from reports.ceilings import measured_roof
from reports.frame import largest_cases
from reports.summary import interval_text


def fmt_rate(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"


def case_label(r) -> str:
    return f"{r['mode']} {r['dtype']} {r['shape']}"


def places(ops: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(machine, device, how a sentence names it): just the device, unless several machines have that device."""
    pairs = sorted(map(tuple, ops[["machine", "device"]].drop_duplicates().to_numpy()))
    per_device = pd.Series([d for _, d in pairs]).value_counts()
    return [(m, d, d if per_device[d] == 1 else f"{d} of {m.split(' (')[0]}") for m, d in pairs]


def bound_sentence(op: str, ops: pd.DataFrame, ceilings: pd.DataFrame) -> str:
    """Memory- or compute-bound, by the op's measured arithmetic intensity against each machine's balance point
    (measured fp32 matmul peak / measured copy bandwidth)."""
    intensity = ops["intensity"].dropna()
    if intensity.empty:
        return f"{op} has no flop and byte model in these results, so its bound is not placed."
    lo, hi = intensity.min(), intensity.max()
    span = f"{lo:.3g} FLOP/byte" if f"{lo:.3g}" == f"{hi:.3g}" else f"{lo:.3g} to {hi:.3g} FLOP/byte"
    parts = []
    for machine, device, where in places(ops):
        bw, peak = measured_roof(ceilings, machine, device, "fp32")
        if bw and peak:
            balance = peak / bw
            sub = ops[(ops["machine"] == machine) & (ops["device"] == device)]["intensity"].dropna()
            kind = "memory-bound" if sub.max() < balance else "compute-bound" if sub.min() > balance else "mixed"
            parts.append(
                f"{kind} on {where} (balance point {balance:.3g} FLOP/byte: {peak:,.0f} GFLOP/s fp32 over "
                f"{bw:,.0f} GB/s, measured)"
            )
    if not parts:
        return f"{op} does {span}; no ceilings were measured with these results, so its bound is not placed."
    return f"{op} does {span}: " + "; ".join(parts) + "."


def decided(group: pd.DataFrame, baseline: str):
    """The fastest row of one case's variants, when its lead over the baseline is outside the speedup's 95%
    interval: a variant whose interval against the baseline lies above 1, or the baseline when every other
    variant's lies below 1. None when the fastest is within the interval of the baseline (or has none)."""
    best = group.loc[group["median_s"].idxmin()]
    if best["variant"] != baseline:
        return best if best["speedup_lo"] > 1 else None
    others = group[group["variant"] != baseline]
    return best if (others["speedup_hi"] < 1).all() else None


def winners_sentence(machine: str, device: str, where: str, ops: pd.DataFrame, baseline: str) -> str:
    """Which variant is fastest in how many of the machine's cases on a device, with its best speedup and that
    speedup's 95% interval; a case whose fastest variant is within the interval of the baseline is counted apart,
    with no winner claimed. The slowest variant is named only where its interval lies below 1."""
    sub = ops[(ops["machine"] == machine) & (ops["device"] == device)]
    keys = [k for k in ("group", "cache", "timer") if k in sub]
    cases = [decided(g, baseline) for _, g in sub.groupby(keys, sort=True)]
    best = pd.DataFrame([c for c in cases if c is not None])
    undecided = sum(c is None for c in cases)
    phrases = []
    for variant, n in best["variant"].value_counts().head(3).items() if not best.empty else ():
        rows = best[best["variant"] == variant]
        top = rows.loc[rows["speedup"].idxmax()] if rows["speedup"].notna().any() else None
        extra = ""
        if top is not None and variant != baseline:
            extra = f" (up to {top['speedup']:.2f}x {baseline}, {interval_text(top)}, at {case_label(top)})"
        phrases.append(f"{variant} in {n}{extra}")
    if phrases:
        text = f"On {where}, the fastest variant is " + ", ".join(phrases) + f" of {len(cases)} cases"
        if undecided:
            text += f"; in {undecided} the fastest is within the 95% interval of {baseline}: no winner claimed"
    else:
        text = f"On {where}, the fastest is within the 95% interval of {baseline} in every case ({len(cases)})"
    slow = sub[sub["speedup_hi"] < 1]
    if not slow.empty:
        worst = slow.loc[slow["speedup"].idxmin()]
        text += (
            f"; the slowest is {worst['variant']} at {worst['speedup']:.2f}x {baseline} "
            f"({interval_text(worst)}, {case_label(worst)})"
        )
    return text + "."


def ceiling_sentence(op: str, ops: pd.DataFrame, ceilings: pd.DataFrame) -> str | None:
    """How close the best measurement comes to its roof: copy bandwidth for memory-bound work, matmul peak else.
    Only the largest size of each case family counts: small working sets stay in cache and can pass the copy
    ceiling, which is measured far above the cache."""
    ops = largest_cases(ops)
    sentences = []
    for machine, device, where in places(ops):
        sub = ops[(ops["machine"] == machine) & (ops["device"] == device)]
        bw, peak = measured_roof(ceilings, machine, device, "fp32")
        if not bw or sub["gbps"].dropna().empty:
            continue
        if peak and sub["intensity"].dropna().min() > peak / bw:
            top = sub.loc[sub["gflops"].idxmax()]
            _, roof = measured_roof(ceilings, machine, device, top["dtype"])
            if roof:
                sentences.append(
                    f"on {where} the best {op} case reaches {fmt_rate(top['gflops'], 'GFLOP/s')} "
                    f"({top['variant']}, {case_label(top)}), {100 * top['gflops'] / roof:.0f}% of the "
                    f"measured {top['dtype']} matmul peak"
                )
        else:
            top = sub.loc[sub["gbps"].idxmax()]
            warm = top["gbps"] > bw and top.get("cache") == "warm"
            sentences.append(
                f"on {where} the best {op} case moves {fmt_rate(top['gbps'], 'GB/s')} "
                f"({top['variant']}, {case_label(top)}), {100 * top['gbps'] / bw:.0f}% of the measured "
                f"copy bandwidth ({fmt_rate(bw, 'GB/s')})"
                + (
                    ": a warm-cache figure, its working set stays in cache (--cache cold reads it from memory)"
                    if warm
                    else ""
                )
            )
    if not sentences:
        return None
    text = "; ".join(sentences)
    return text[0].upper() + text[1:] + "."


def op_sentences(op: str, ops: pd.DataFrame, ceilings: pd.DataFrame, baseline: str) -> list[str]:
    out = [bound_sentence(op, ops, ceilings)]
    out += [winners_sentence(m, d, where, ops, baseline) for m, d, where in places(ops)]
    ceiling = ceiling_sentence(op, ops, ceilings)
    if ceiling:
        out.append(ceiling)
    return out
