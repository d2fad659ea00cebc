"""The machine while a row was measured: clocks, temperature, power and throttling before and after its rounds, and
on CUDA the energy of a call.

CPU: the cores' MHz from the OS (cpufreq's scaling_cur_freq, else /proc/cpuinfo), the cpufreq governor, and the
kernel's thermal-throttle counters where they exist. CUDA: NVML through nvidia-ml-py (`pip install -e .[gpu]`; the
GPU machines have it): SM and memory clocks, temperature, power and the clock-event (throttle) reasons, and the
energy counter (mJ since the driver loaded, Volta and later); without nvidia-ml-py, torch.cuda's own queries where
they answer. A reading that nothing gives is None, and the row's `energy_skip` says why energy is missing.

Energy per call is read apart from the timed rounds: the call back to back (warm) for ENERGY_WINDOW_S, the energy
counter read before and after. The counter updates every few milliseconds, so the window is kept well above that.
"""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path

import torch

ENERGY_WINDOW_S = 0.25
# NVML clock-event (throttle) reason bits that lower the clocks below what the work asks for; GPU idle (0x1), the
# application clocks setting (0x2), sync boost (0x10) and the display clock setting (0x100) are not throttling
THROTTLE_BITS = {
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
}
CPU_FIELDS = ("cpu_mhz", "cpu_governor", "cpu_throttle_count")
GPU_FIELDS = (
    "gpu_sm_mhz",
    "gpu_mem_mhz",
    "gpu_temp_c",
    "gpu_power_w",
    "gpu_throttle_bits",
)
STATE_FIELDS = CPU_FIELDS + GPU_FIELDS
# readings recorded before and after the rounds; each name ends in its unit
READINGS = ("cpu_mhz", "gpu_sm_mhz", "gpu_mem_mhz", "gpu_temp_c", "gpu_power_w")
CPU_ROOT = Path("/sys/devices/system/cpu")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_state(root: Path = CPU_ROOT, cpuinfo: Path = Path("/proc/cpuinfo")) -> dict:
    """The cores' mean MHz, the governor and the summed thermal-throttle count (None where the OS does not say)."""
    freqs = [_read(p) for p in root.glob("cpu[0-9]*/cpufreq/scaling_cur_freq")]
    mhz = [int(f) / 1000 for f in freqs if f and f.isdigit()]  # kHz
    if not mhz:
        text = _read(cpuinfo) or ""
        mhz = [float(line.split(":", 1)[1]) for line in text.splitlines() if line.startswith("cpu MHz")]
    counts = [_read(p) for p in root.glob("cpu[0-9]*/thermal_throttle/core_throttle_count")]
    counts = [int(c) for c in counts if c and c.isdigit()]
    return {
        "cpu_mhz": round(sum(mhz) / len(mhz), 1) if mhz else None,
        "cpu_governor": _read(root / "cpu0/cpufreq/scaling_governor"),
        "cpu_throttle_count": sum(counts) if counts else None,
    }


@cache
def nvml_handle():
    """(pynvml, the handle of the GPU this process times on: cuda:0 by its UUID, so CUDA_VISIBLE_DEVICES is
    honoured), or (None, why not)."""
    try:
        import pynvml
    except ImportError:
        return None, "nvidia-ml-py is not installed (pip install -e .[gpu])"
    try:
        pynvml.nvmlInit()
        uuid = getattr(torch.cuda.get_device_properties(torch.cuda.current_device()), "uuid", None)
        if uuid is not None:
            return pynvml, pynvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}")
        return pynvml, pynvml.nvmlDeviceGetHandleByIndex(0)
    except Exception as e:  # pynvml.NVMLError and its many subclasses
        return None, f"NVML cannot be read ({e})"


def _nvml(fn, *args):
    try:
        return fn(*args)
    except Exception:  # NVMLError_NotSupported and kin: that reading is absent on this GPU
        return None


def gpu_state() -> tuple[dict, str | None]:
    """(the GPU's readings, their source: 'nvml', 'torch.cuda' or None)."""
    nvml, handle = nvml_handle()
    if nvml is not None:
        reasons = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
            nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", None
        )
        power = _nvml(nvml.nvmlDeviceGetPowerUsage, handle)  # mW
        return {
            "gpu_sm_mhz": _nvml(nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_SM),
            "gpu_mem_mhz": _nvml(nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_MEM),
            "gpu_temp_c": _nvml(nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU),
            "gpu_power_w": power / 1000 if power is not None else None,
            "gpu_throttle_bits": _nvml(reasons, handle) if reasons else None,
        }, "nvml"
    readings = {}
    for key, query in (("gpu_sm_mhz", "clock_rate"), ("gpu_temp_c", "temperature"), ("gpu_power_w", "power_draw")):
        try:
            readings[key] = getattr(torch.cuda, query)()
        except Exception:  # these queries need pynvml (or amdsmi) themselves
            readings[key] = None
    if readings.get("gpu_power_w") is not None:
        readings["gpu_power_w"] /= 1000  # mW
    source = "torch.cuda" if any(v is not None for v in readings.values()) else None
    return {"gpu_mem_mhz": None, "gpu_throttle_bits": None, **readings}, source


def snapshot(device: str) -> dict:
    """The machine's state now: the CPU's always, the GPU's on CUDA rows (with `source`)."""
    state = {**cpu_state(), **dict.fromkeys(GPU_FIELDS), "source": "os"}
    if device == "cuda":
        gpu, source = gpu_state()
        state.update(gpu, source=source or "os")
    return state


def throttle_names(bits: int | None) -> list[str]:
    return [name for bit, name in THROTTLE_BITS.items() if bits and bits & bit]


def state_fields(device: str, before: dict, after: dict) -> dict:
    """A row's machine-state columns from the snapshots before and after its rounds. `throttled`: a throttle reason
    before or after (CUDA), or the CPU's thermal-throttle count rising; None where nothing could tell."""
    reasons = sorted(set(throttle_names(before["gpu_throttle_bits"])) | set(throttle_names(after["gpu_throttle_bits"])))
    cpu_counts = before["cpu_throttle_count"], after["cpu_throttle_count"]
    cpu_throttled = None if None in cpu_counts else cpu_counts[1] > cpu_counts[0]
    if cpu_throttled:
        reasons.append("cpu_thermal_throttle")
    gpu_known = device == "cuda" and before["gpu_throttle_bits"] is not None
    throttled = bool(reasons) if (gpu_known or cpu_throttled is not None) else None
    fields = {"clock_source": after["source"], "cpu_governor": after["cpu_governor"]}
    for key in READINGS:
        fields[f"{key}_before"], fields[f"{key}_after"] = before[key], after[key]
    return {**fields, "throttle_reasons": reasons, "throttled": throttled}


def energy_counter_mj() -> tuple[float | None, str | None]:
    """(the GPU's energy counter in mJ, None) or (None, why it cannot be read)."""
    nvml, handle = nvml_handle()
    if nvml is None:
        return None, handle
    try:
        return float(nvml.nvmlDeviceGetTotalEnergyConsumption(handle)), None
    except Exception as e:
        return None, f"this GPU's energy counter cannot be read (NVML: {e})"


def energy_per_call(call, device: str, window_s: float = ENERGY_WINDOW_S, counter=None, clock=time.perf_counter):
    """(joules per call, None) measured over `window_s` of back-to-back calls, or (None, the reason it is not)."""
    if device != "cuda":
        return None, "energy is read from the GPU's counter (NVML): not measured on the CPU"
    if window_s <= 0:
        return None, "energy not measured (--energy-window 0)"
    counter = counter or energy_counter_mj
    torch.cuda.synchronize()
    first, why = counter()
    if first is None:
        return None, why
    calls, start = 0, clock()
    while clock() - start < window_s:
        for _ in range(max(1, calls)):  # double the calls between syncs: few host syncs in the window
            call()
        calls += max(1, calls)
        torch.cuda.synchronize()
    last, why = counter()
    if last is None or last <= first:
        return None, why or "the energy counter did not advance during the window"
    return (last - first) / 1e3 / calls, None
