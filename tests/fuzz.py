"""The layout fuzz's test helpers: the examples and strategies live in kernels/layouts.py and kernels/fuzz.py; here,
checking a registered variant on one example. A failure's reproduction is pasted into Python as

    from tests.fuzz import *
    check_example("triton_rowwise", FuzzExample(...))
"""

from __future__ import annotations

import torch  # noqa: F401 - the reproductions' dtypes (torch.float32)

from kernels import registry
from kernels.fuzz import CASES, examples, torch_bug  # noqa: F401 - the fuzz's strategies and torch's own bugs
from kernels.layouts import LAYOUTS, TEMPLATES, FuzzExample, layout_example, restride  # noqa: F401
from kernels.spec import Case  # noqa: F401 - the reproductions' cases


def known_wrong(variant: str, example: FuzzExample, device: str = "cpu") -> str | None:
    """The reason `variant` declares for being wrong on this example's inputs (kernels/registry.py wrong_on)."""
    inputs = example.inputs(device)
    return registry.get(example.op, variant).known_wrong(inputs.args, inputs.kwargs)


def check_example(variant: str, example: FuzzExample, device: str = "cpu") -> list[str]:
    """Compare variant `variant` with the float64 reference on `example`; the failed comparisons, as text."""
    v = registry.get(example.op, variant)
    case = example.case
    inputs = example.inputs(device)
    results = registry.spec(example.op).compare(
        v.fn,
        case,
        device,
        example.seed,
        grads=case.grad and v.differentiable,
        inputs=inputs,
        grad_layout=lambda g: restride(g, example.grad_layout),
        keep_inputs=not v.overwrites_inputs,
    )
    return [str(r) for r in results if not r.ok]
