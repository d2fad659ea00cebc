"""Summaries and generated conclusions of the studies, from their result files alone (pandas only).

A study file (`study-NAME.jsonl`, written by `dnnbench study`) starts with one header line, `{"header": {...}}`,
that carries everything this module needs to know about the study: its name, kind, question, metric and
direction, target, baseline and the order of its arms or executions. The rows follow, one JSON object each. So a
report reads a study written by any version of the suite without importing the code that declared it.

Header of a training-dynamics study (models/studies.py):
    study, kind="dynamics", question, metric, higher_is_better, target, also (further metrics), contrast (one of
    `also` that would choose another setting), arms: [{label, lesson, group, target}] in order.
Header of a systems study (bench/systems.py):
    study, kind="systems", question, metric (of the precision study's training), executions: [{label}] in order, the
    first the baseline, figure (the second sentence: break_even, accuracy, crossover, largest_batch or scaling) and
    about (the execution that figure is about: compiled, cuda, all cores ...).

A dynamics study claims a difference only where the arms' ranges over seeds do not overlap; a systems study a
speedup only where the ranges over rounds do not overlap.
"""

from __future__ import annotations

import math

import pandas as pd

KINDS = ("dynamics", "systems")


def outcome(header: dict, rows: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """(summary table, conclusion) of one study's rows."""
    if header.get("kind") == "dynamics":
        summary = summarize(header, rows)
        return summary, conclusion(header, summary)
    if header.get("kind") == "systems":
        summary = summarize_systems(header, rows)
        return summary, systems_conclusion(header, summary, rows)
    raise ValueError(f"study {header.get('study')!r}: unknown kind {header.get('kind')!r} (kinds: {', '.join(KINDS)})")


# --- training-dynamics studies: arms x seeds x epochs ---------------------------------------------------------------


def summarize(header: dict, rows: pd.DataFrame) -> pd.DataFrame:
    """Per arm (lesson and setting): the final metric's mean, min and max over seeds, the mean wall seconds to
    reach the arm's target (NaN when some seed never reaches it) and of training per epoch, and the final mean of
    each of the study's `also` columns."""
    metric, out = header["metric"], []
    for arm in header["arms"]:
        runs = rows[(rows["lesson"] == arm["lesson"]) & (rows["setting"] == arm["label"])].sort_values("epoch")
        finals = runs.groupby("seed")[metric].last()
        target = arm["target"] if arm.get("target") is not None else header.get("target")
        reached = []
        for _, run in runs.groupby("seed"):
            if target is None:
                break
            ok = run[metric] >= target if header["higher_is_better"] else run[metric] <= target
            reached.append(run[ok]["seconds"].iloc[0] if ok.any() else math.nan)
        also = {m: runs.groupby("seed")[m].last().mean() for m in header.get("also", ()) if m in runs}
        per_epoch = (runs.groupby("seed")["seconds"].last() / runs.groupby("seed")["epoch"].max()).mean()
        out.append(
            {
                "lesson": arm["lesson"],
                "group": arm.get("group") or arm["lesson"],
                "setting": arm["label"],
                "seeds": len(finals),
                "mean": finals.mean(),
                "min": finals.min(),
                "max": finals.max(),
                "target": target,
                "seconds_to_target": pd.Series(reached, dtype=float).mean(skipna=False),
                "seconds_per_epoch": per_epoch,
                **also,
            }
        )
    return pd.DataFrame(out)


def _contrast(header: dict, arms: pd.DataFrame, best: pd.Series) -> str:
    contrast = header.get("contrast")
    if contrast is None or contrast not in arms:
        return ""
    by_contrast = arms.loc[arms[contrast].idxmin()]
    if by_contrast["setting"] == best["setting"]:
        return f"; the final {contrast} makes the same choice"
    return f"; by the final {contrast} alone the choice would be {by_contrast['setting']} ({by_contrast[contrast]:.4g})"


def _first_to_target(header: dict, arms: pd.DataFrame) -> str:
    reached = arms.dropna(subset=["seconds_to_target"])
    if arms["target"].isna().all():
        return ""
    target = f"{header['metric']} {arms['target'].dropna().iloc[0]:g}"
    if reached.empty:
        return f"; no setting reaches {target} with every seed"
    first = reached.loc[reached["seconds_to_target"].idxmin()]
    return f"; the first to reach {target} is {first['setting']}, after {first['seconds_to_target']:.3g} s of training"


def conclusion(header: dict, summary: pd.DataFrame) -> str:
    """Two sentences per lesson of the study: its best arm with the mean and range over seeds, then whether the
    lead over the runner-up is larger than the spread (the ranges over seeds do not overlap) or not, in which case
    no difference is claimed, and which arm reaches the target first in wall time (mean over seeds)."""
    name, metric, higher = header["study"], header["metric"], header["higher_is_better"]
    sentences = []
    for lesson, arms in summary.groupby("group", sort=False):
        ranked = arms.sort_values("mean", ascending=not higher).reset_index(drop=True)
        best, second = ranked.iloc[0], ranked.iloc[1]
        where = f" on {lesson}" if summary["group"].nunique() > 1 else ""
        sentences.append(
            f"{name}{where}: {best['setting']} reaches the best final {metric}, {best['mean']:.4g} "
            f"(range {best['min']:.4g} to {best['max']:.4g} over {best['seeds']} seeds)."
        )
        apart = best["min"] > second["max"] if higher else best["max"] < second["min"]
        if apart:
            lead = f"Its lead over {second['setting']} ({second['mean']:.4g})"
            second_sentence = lead + " is larger than the spread over seeds"
        else:
            second_sentence = (
                f"{second['setting']} ({second['mean']:.4g}) is within the spread over seeds: no "
                "difference is claimed between them"
            )
        sentences.append(second_sentence + _first_to_target(header, arms) + _contrast(header, arms, best) + ".")
    return " ".join(sentences)


# --- systems studies: lessons x batches x executions, timed in rounds ------------------------------------------------


def _labels(header: dict) -> list[str]:
    return [e["label"] for e in header["executions"]]


def summarize_systems(header: dict, rows: pd.DataFrame) -> pd.DataFrame:
    """Per (lesson, batch, execution): the step time's mean and range over rounds, samples/s, the first call's
    extra seconds (compile), the speedup over the baseline and whether their ranges are apart; skipped executions
    with their reason."""
    baseline = _labels(header)[0]
    timing = rows[rows["kind"] == "timing"]
    out = []
    timed = rows[rows["kind"].isin(["timing", "skipped"])]  # not the training or census rows
    for (lesson, batch), case in timed.groupby(["lesson", "batch"], sort=False):
        batch = int(batch)  # a column that also holds the training rows' None is float
        t = timing[(timing["lesson"] == lesson) & (timing["batch"] == batch)]
        base = t[t["setting"] == baseline]["step_s"]
        for label in _labels(header):
            runs = t[t["setting"] == label]
            mine = runs["step_s"]
            skipped = case[(case["setting"] == label) & (case["kind"] == "skipped")]
            if mine.empty:
                reason = skipped["reason"].iloc[0] if not skipped.empty else "not run"
                out.append({"lesson": lesson, "batch": batch, "setting": label, "skipped": reason})
                continue
            speedup = base.mean() / mine.mean() if not base.empty else math.nan
            faster = not base.empty and mine.max() < base.min()
            slower = not base.empty and mine.min() > base.max()
            out.append(
                {
                    "lesson": lesson,
                    "batch": batch,
                    "setting": label,
                    "device": runs["device"].iloc[0],
                    "rounds": len(mine),
                    "step_ms": 1e3 * mine.mean(),
                    "step_ms_min": 1e3 * mine.min(),
                    "step_ms_max": 1e3 * mine.max(),
                    "samples_per_s": batch / mine.mean(),
                    "compile_s": runs["compile_s"].mean(),
                    "speedup": speedup,
                    "apart": "faster" if faster else "slower" if slower else "within",
                    "skipped": None,
                }
            )
    return pd.DataFrame(out)


def _cases(n: int) -> str:
    return f"{n} case" + ("" if n == 1 else "s")


def _versus_baseline(header: dict, summary: pd.DataFrame) -> str:
    """First sentence: each execution against the baseline over the (lesson, batch) cases both ran."""
    baseline, parts = _labels(header)[0], []
    for label in _labels(header)[1:]:
        mine = summary[(summary["setting"] == label) & summary["skipped"].isna()].dropna(subset=["speedup"])
        if mine.empty:
            skipped = summary[summary["setting"] == label]["skipped"].dropna()
            parts.append(f"{label} did not run here ({skipped.iloc[0] if not skipped.empty else 'no rows'})")
            continue
        best = mine.loc[mine["speedup"].idxmax()]
        parts.append(
            f"{label} is faster than {baseline} beyond the spread in {(mine['apart'] == 'faster').sum()} "
            f"of {_cases(len(mine))} and slower in {(mine['apart'] == 'slower').sum()}, from "
            f"{mine['speedup'].min():.2f}x to {best['speedup']:.2f}x (best: lesson {best['lesson']}, "
            f"batch {best['batch']})"
        )
    return f"{header['study']}: " + "; ".join(parts) + "."


# executions whose first call pays something besides compiling the model (capturing CUDA graphs, compiling Triton
# kernels): the break-even sentence gives the payback of each, in these words
FIRST_CALLS = {
    "cudagraphs": "warming up and capturing the step",
    "compiled_cudagraphs": "compiling and capturing the step",
    "triton_mlp": "compiling its two Triton kernels",
}


def _break_even(header: dict, summary: pd.DataFrame, rows: pd.DataFrame) -> str:
    """When the first call's extra cost of `about` (compiling) pays back, from its saving per step; then the same for
    each execution whose first call captures CUDA graphs or compiles Triton kernels, where one ran."""
    text = _pays_back(header, summary, header["about"], "Compiling")
    for label in (e for e in _labels(header) if e in FIRST_CALLS and e != header["about"]):
        if not summary[(summary["setting"] == label) & summary["skipped"].isna()].empty:
            text += " " + _pays_back(header, summary, label, f"On {label}, {FIRST_CALLS[label]}")
    return text


def _pays_back(header: dict, summary: pd.DataFrame, about: str, what: str) -> str:
    """`what` costs (the first call's time above a step's) and after how many steps `about` pays it back."""
    baseline = _labels(header)[0]
    compiled = summary[(summary["setting"] == about) & summary["skipped"].isna()]
    if compiled.empty:
        return f"Compile cost was not measured ({about} did not run)."
    base = summary[(summary["setting"] == baseline) & summary["skipped"].isna()].set_index(["lesson", "batch"])
    paying = []
    for _, c in compiled[compiled["apart"] == "faster"].iterrows():
        saved_s = (base.loc[(c["lesson"], c["batch"]), "step_ms"] - c["step_ms"]) / 1e3
        paying.append((c["compile_s"] / saved_s, c["lesson"], c["batch"]))
    cost = f"{what} costs {compiled['compile_s'].min():.2g} to {compiled['compile_s'].max():.2g} s"
    if not paying:
        return cost + f" on the first call and never pays back here: {about} is not faster beyond the spread."
    steps, lesson, batch = min(paying)
    return cost + (
        f" on the first call; it pays back soonest on lesson {lesson} at batch {batch}, after "
        f"{math.ceil(steps):,} steps."
    )


def _accuracy(header: dict, summary: pd.DataFrame, rows: pd.DataFrame) -> str:
    """The metric each execution's training reached, against the baseline's, over seeds."""
    trained, metric, baseline = rows[rows["kind"] == "training"], header["metric"], _labels(header)[0]
    if trained.empty:
        return "No lesson was trained here, so no accuracy is compared."
    parts = []
    for lesson, d in trained.groupby("lesson", sort=False):
        finals = d.sort_values("epoch").groupby(["setting", "seed"])[metric].last().groupby("setting")
        stats = finals.agg(["mean", "min", "max"]).reindex(_labels(header)).dropna()
        if baseline not in stats.index:
            parts.append(f"on {lesson} {baseline} did not train, so nothing is compared")
            continue
        base = stats.loc[baseline]
        for label, s in stats.drop(baseline).iterrows():
            apart = s["max"] < base["min"] or s["min"] > base["max"]
            parts.append(
                f"on {lesson} {label} reaches {metric} {s['mean']:.3f} ({s['min']:.3f} to {s['max']:.3f}) "
                f"against {base['mean']:.3f} in {baseline}, "
                + ("a difference beyond the spread over seeds" if apart else "within the spread")
            )
    if not parts:
        return f"Only {baseline} trained here: no accuracy to compare."
    return "Accuracy: " + "; ".join(parts) + "."


def _crossover(header: dict, summary: pd.DataFrame, rows: pd.DataFrame) -> str:
    """Per lesson, the smallest batch from which `about` (the GPU) is faster beyond the spread at every larger one."""
    about, baseline = header["about"], _labels(header)[0]
    gpu = summary[(summary["setting"] == about) & summary["skipped"].isna()]
    if gpu.empty:
        return (
            f"{about} did not run here, so there is no crossover: run dnnbench study {header['study']} on a "
            "GPU machine for both devices' rows."
        )
    parts = []
    for lesson, d in gpu.sort_values("batch").groupby("lesson", sort=False):
        wins = list(d["apart"] == "faster")
        start = next((i for i in range(len(wins)) if all(wins[i:])), None)
        parts.append(
            f"from batch {d['batch'].iloc[start]} on {lesson}"
            if start is not None
            else f"at no measured batch on {lesson}"
        )
    return f"{about} beats {baseline} " + ", ".join(parts) + "."


def _largest_batch(header: dict, summary: pd.DataFrame, rows: pd.DataFrame, ideal: bool = False) -> str:
    """Each execution against the baseline at each lesson's largest batch; with `ideal`, also as a share of the
    ideal speedup, the thread count of the rows (the cores of the machine that wrote them) over the baseline's."""
    ran, baseline, parts = summary[summary["skipped"].isna()], _labels(header)[0], []
    for label in _labels(header)[1:]:
        for lesson, d in ran[ran["setting"] == label].groupby("lesson", sort=False):
            top = d.loc[d["batch"].idxmax()]
            note = ""
            if ideal:
                ratio = (
                    rows.loc[rows["setting"] == label, "threads"].max()
                    / rows.loc[rows["setting"] == baseline, "threads"].max()
                )
                note = f", {100 * top['speedup'] / ratio:.0f}% of the ideal {ratio:g}x"
            apart = {"faster": "faster beyond the spread", "slower": "slower beyond the spread"}.get(
                top["apart"], "within the spread"
            )
            parts.append(f"{top['speedup']:.2f}x on {lesson} at batch {top['batch']} ({apart}{note})")
    if not parts:
        return "Nothing ran against the baseline here."
    return f"At the largest batch, {_labels(header)[1]} against {baseline}: " + "; ".join(parts) + "."


def _scaling(header: dict, summary: pd.DataFrame, rows: pd.DataFrame) -> str:
    return _largest_batch(header, summary, rows, ideal=True)


def _fusion(header: dict, summary: pd.DataFrame, rows: pd.DataFrame) -> str:
    """Each fused execution against the unfused one (header `about`) at each lesson's largest batch, then the
    census: the suite's kernel launches per step of the unfused and the fully fused executions."""
    unfused, labels = header["about"], _labels(header)
    fused = labels[labels.index(unfused) + 1 :]
    ran = summary[summary["skipped"].isna()] if "skipped" in summary else summary.iloc[0:0]
    parts = []
    for lesson, d in ran.groupby("lesson", sort=False):
        top = d[d["batch"] == d["batch"].max()].set_index("setting")
        if unfused not in top.index:
            continue
        base = top.loc[unfused]
        ratios = [
            f"{label} {base['step_ms'] / top.loc[label, 'step_ms']:.2f}x" for label in fused if label in top.index
        ]
        if ratios:
            parts.append(f"{lesson} at batch {int(base['batch'])}: " + ", ".join(ratios))
    text = (
        f"Against {unfused}, at the largest batch: " + "; ".join(parts) + "."
        if parts
        else f"No fused execution ran beside {unfused} here."
    )
    census = rows[(rows["kind"] == "census")] if "kind" in rows else rows.iloc[0:0]
    if "suite_launches" in census:
        census = census.dropna(subset=["suite_launches"])
        counts = []
        for lesson, d in census.groupby("lesson", sort=False):
            d = d[d["batch"] == d["batch"].max()].set_index("setting")
            if unfused in d.index and fused and fused[-1] in d.index:
                counts.append(
                    f"{lesson} {int(d.loc[unfused, 'suite_launches'])} -> {int(d.loc[fused[-1], 'suite_launches'])}"
                )
        if counts:
            text += f" Suite kernel launches per step, {unfused} -> {fused[-1]}: " + ", ".join(counts) + "."
    return text


FIGURES = {
    "fusion": _fusion,
    "break_even": _break_even,
    "accuracy": _accuracy,
    "crossover": _crossover,
    "largest_batch": _largest_batch,
    "scaling": _scaling,
}


def systems_conclusion(header: dict, summary: pd.DataFrame, rows: pd.DataFrame) -> str:
    """Two sentences: every execution against the baseline (claimed only beyond the spread over rounds), then the
    study's own figure (header `figure`): compile break-even, accuracy reached, crossover batch, or the speedup at
    the largest batch."""
    figure = header.get("figure", "largest_batch")
    if figure not in FIGURES:
        raise ValueError(f"study {header['study']!r}: unknown figure {figure!r} (figures: {', '.join(FIGURES)})")
    return f"{_versus_baseline(header, summary)} {FIGURES[figure](header, summary, rows)}"
