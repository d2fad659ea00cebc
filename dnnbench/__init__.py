"""The entry points: the `dnnbench` command (cli), the GPU check (gpu_check) and the Triton compile check
(triton_compile). They may import every layer; no layer imports them."""
