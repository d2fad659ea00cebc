"""Rung 2: torch.compile of the baseline's function. Dynamo unrolls the loop over the parameters and Inductor fuses
each tensor's update; the bias corrections read the CPU step counts: one graph per parameter list and options."""

from kernels.adam_step.eager import eager_adam_step
from kernels.adam_step.spec import check_args
from kernels.compile import compile_static
from kernels.registry import variant

_compiled = compile_static(eager_adam_step)


@variant("adam_step", "compiled", differentiable=False)
def compiled_adam_step(
    params,
    grads,
    exp_avgs,
    exp_avg_sqs,
    max_exp_avg_sqs,
    state_steps,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    amsgrad=False,
    maximize=False,
) -> None:
    """torch.compile(the baseline's step, dynamic=False); an empty list runs eager (nothing to compile)."""
    args = (
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        max_exp_avg_sqs,
        state_steps,
        lr,
        betas,
        eps,
        weight_decay,
        amsgrad,
        maximize,
    )
    check_args(*args)
    return (_compiled if params else eager_adam_step)(*args)
