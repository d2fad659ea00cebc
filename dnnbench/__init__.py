"""The entry points: the `dnnbench` command (cli), the GPU check (gpu_check), the Triton compile check
(triton_compile) and the judge (judge). They may import every layer; no layer imports them.

`from dnnbench import variant` is the registry's decorator (kernels.registry.variant), the short import for a file
that `dnnbench judge` judges; it is looked up on first use, so that the command's other parts (a report) do not import
torch for it."""


def __getattr__(name: str):
    if name == "variant":
        from kernels.registry import variant

        return variant
    raise AttributeError(f"module 'dnnbench' has no attribute {name!r}")
