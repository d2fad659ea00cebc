"""What machine and software a run used: stored with every result, so runs from different machines can be told
apart and compared honestly."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
from functools import cache
from pathlib import Path

import torch


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_info() -> list[dict]:
    if not torch.cuda.is_available():
        return []
    gpus = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        gpus.append(
            {
                "name": p.name,
                "capability": f"{p.major}.{p.minor}",
                "sm_count": p.multi_processor_count,
                "memory_gib": round(p.total_memory / 2**30, 1),
            }
        )
    return gpus


def gpu_used() -> dict | None:
    """The GPU this process times on (cuda:0, the first that CUDA_VISIBLE_DEVICES leaves it): its name, UUID and how
    CUDA_VISIBLE_DEVICES names it (None when the variable is unset: then it is physical GPU 0). None without CUDA."""
    if not torch.cuda.is_available():
        return None
    p = torch.cuda.get_device_properties(0)
    uuid = getattr(p, "uuid", None)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return {
        "name": p.name,
        "uuid": f"GPU-{uuid}" if uuid is not None else None,
        "visible_as": visible.split(",")[0].strip() if visible else None,
    }


@cache
def suite_commit() -> str | None:
    """The git commit of this suite's source (with '-dirty' when tracked files differ from it), or None outside a
    git checkout: merged results from different commits are told apart by it."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def job_id() -> str | None:
    """The batch job this process runs in: Slurm's array job and task (1234_5) or job id, or the id dnnbench submit
    gives a local job (DNNBENCH_JOB_ID); None outside a job."""
    env = os.environ
    if env.get("SLURM_ARRAY_JOB_ID") and env.get("SLURM_ARRAY_TASK_ID"):
        return f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"
    return env.get("SLURM_JOB_ID") or env.get("DNNBENCH_JOB_ID")


def card_slug(device: str = "cuda") -> str:
    """A folder name for this machine's accelerator, e.g. 'nvidia-h200'; 'cpu' without one."""
    if device != "cuda" or not torch.cuda.is_available():
        return "cpu"
    name = torch.cuda.get_device_name(0).lower()
    name = re.sub(r"\b(nvidia|geforce|tesla)\b", " ", name)
    words = re.findall(r"[a-z0-9]+", name)
    return "-".join(["nvidia", *words[:2]]) if words else "nvidia-gpu"


def set_precision_defaults() -> None:
    """fp32 means fp32: TF32 is a separate, named precision. cuDNN convolutions default to TF32 and cuBLAS matmuls
    do not; an fp32 comparison with TF32 on one side only is meaningless, so both are set (and recorded)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def precision_flags() -> dict:
    return {
        "cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }


def machine_info() -> dict:
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    return {
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "triton": triton_version,
        "triton_interpret": os.environ.get("TRITON_INTERPRET", "0") == "1",
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "gpus": gpu_info(),
        "gpu_used": gpu_used(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "commit": suite_commit(),
        "job_id": job_id(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        **precision_flags(),
    }
