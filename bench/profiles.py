"""The sweep profiles: what `--profile quick` and `--profile full` time, and the sentences the report uses to say so.

quick is the sweep a first-time user waits for (README: minutes on a 2-core CPU, studies included): every op at one
small and one large size with every rung that can be timed here, one training lesson per family of the course at
its lab's own batch size, every lab once at its largest quick size, every study in its quick form. full keeps
everything: every training lesson x batch 1 to 4096, the workloads' other forms, every lab size, longer timing.
The op sizes of each profile are the ops' own (their spec's `batch_sizes` and `bench_shapes`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    max_time: float  # seconds of timed rounds per benchmark (pytest-benchmark's --benchmark-max-time)
    # training lesson -> the batch sizes timed; None: every training lesson at `lesson_batches`
    lessons: dict[str, tuple[int, ...]] | None
    lesson_batches: tuple[int, ...]
    lesson_forms: bool  # the workloads' other forms (6.5 in channels_last and under bf16 autocast)
    lab_sizes: str  # "largest": each lab at its largest size of this profile; "all": every size
    compile_cases: str  # "one": the compiled op rung on one case per op (bench/harness.py); "all": every case
    compiled_lesson_modes: tuple[str, ...]  # the lesson modes the compiled backend is timed in
    # (lesson, backend) -> why the profile does not time that backend on that lesson (a skip with this reason)
    lesson_skips: dict[tuple[str, str], str]
    covers: str  # what the profile times, one sentence for the report
    leaves_out: str  # what only the full profile times ("" for full)


# One lesson per family of the course, each at its lab's batch size: linear regression (2.8, SGD one sample at a
# time), logistic regression (3.3, batch 3), softmax regression on digits (4.3, batch 100), deep MLPs with batch norm
# (5.5, batch 48), the digits CNN (6.4, batch 100), transfer learning with ResNet-18 (6.5, batch 100).
FAMILIES = {"2.8": (1,), "3.3": (3,), "4.3": (100,), "5.5": (48,), "6.4": (100,), "6.5": (100,)}

PROFILES = {
    "quick": Profile(
        name="quick",
        max_time=0.1,
        lessons=FAMILIES,
        lesson_batches=(),
        lesson_forms=False,
        lab_sizes="largest",
        compile_cases="one",
        compiled_lesson_modes=("train_step",),
        lesson_skips={
            (
                "6.5",
                backend,
            ): "the quick profile does not compile ResNet-18 (about 50 s on a 2-core CPU for the forward and the "
            "training step); the other lessons time the compiled backend, --profile full times it here"
            for backend in ("compiled", "compiled_cudagraphs")
        },
        covers=(
            "every op at one small and one large size, forward and backward, with every rung that can be timed on "
            "the device (the compiled rung on the op's largest case with its fused block); one training lesson per "
            "family (2.8, 3.3, 4.3, 5.5, 6.4, 6.5) at its lab's batch size, forward and training step, on every "
            "backend (compiled: the training step); every lab without training once, at its largest quick size; "
            "every study in its quick form; 0.1 s of timed rounds per benchmark"
        ),
        leaves_out=(
            "the other training lessons, batch sizes 1 to 4096 per lesson, 6.5 compiled, in channels_last and under "
            "autocast, the compiled forward of the lessons, the compiled rung on the ops' other cases, the ops' "
            "other sizes and dtypes, every lab size, the studies' full grids and seeds, and longer timing "
            "(make bench PROFILE=full)"
        ),
    ),
    "full": Profile(
        name="full",
        max_time=0.5,
        lessons=None,
        lesson_batches=(1, 4, 16, 64, 256, 1024, 4096),
        lesson_forms=True,
        lab_sizes="all",
        compile_cases="all",
        compiled_lesson_modes=("forward", "train_step"),
        lesson_skips={},
        covers=(
            "every op at every size and dtype of its spec; every training lesson at batch 1 to 4096 in every form, "
            "forward and training step, on every backend; every lab at every size; every study in its full form"
        ),
        leaves_out="",
    ),
}


def profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; profiles: {', '.join(PROFILES)}")
    return PROFILES[name]
