"""The machine's state on every row (bench/clocks.py): the CPU's clocks, governor and throttle counters from a
stand-in sysfs, the GPU's from a stand-in NVML (the real one in tests/test_timing.py's CUDA tests), the throttled
flag, and the energy of a call from a counter."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from bench import clocks


def sysfs(tmp_path, khz=(2_400_000, 3_000_000), governor="performance", throttles=(0, 0)):
    root = tmp_path / "cpu"
    for i, (f, t) in enumerate(zip(khz, throttles, strict=True)):
        (root / f"cpu{i}/cpufreq").mkdir(parents=True)
        (root / f"cpu{i}/cpufreq/scaling_cur_freq").write_text(f"{f}\n")
        (root / f"cpu{i}/thermal_throttle").mkdir()
        (root / f"cpu{i}/thermal_throttle/core_throttle_count").write_text(f"{t}\n")
    (root / "cpu0/cpufreq/scaling_governor").write_text(f"{governor}\n")
    return root


def test_the_cpu_clock_governor_and_throttle_count_come_from_sysfs(tmp_path):
    state = clocks.cpu_state(sysfs(tmp_path), tmp_path / "no-cpuinfo")
    assert state == {"cpu_mhz": 2700.0, "cpu_governor": "performance", "cpu_throttle_count": 0}


def test_without_cpufreq_the_clock_comes_from_cpuinfo_and_the_rest_is_unknown(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\ncpu MHz\t\t: 2000.0\nprocessor\t: 1\ncpu MHz\t\t: 2600.0\n")
    state = clocks.cpu_state(tmp_path / "empty", info)
    assert state == {"cpu_mhz": 2300.0, "cpu_governor": None, "cpu_throttle_count": None}


def snap(**over) -> dict:
    base = dict.fromkeys(clocks.STATE_FIELDS)
    return {**base, "source": "os", **over}


def test_a_throttle_reason_or_a_rising_throttle_count_flags_the_row():
    cpu = "cpu"
    calm = clocks.state_fields(cpu, snap(cpu_throttle_count=3), snap(cpu_throttle_count=3))
    assert calm["throttled"] is False and calm["throttle_reasons"] == []
    hot = clocks.state_fields(cpu, snap(cpu_throttle_count=3), snap(cpu_throttle_count=5))
    assert hot["throttled"] is True and hot["throttle_reasons"] == ["cpu_thermal_throttle"]
    unknown = clocks.state_fields(cpu, snap(), snap())
    assert unknown["throttled"] is None  # nothing could tell
    idle = clocks.state_fields("cuda", snap(gpu_throttle_bits=0x1), snap(gpu_throttle_bits=0x1 | 0x2))
    assert idle["throttled"] is False  # GPU idle and the application clocks setting are not throttling
    capped = clocks.state_fields("cuda", snap(gpu_throttle_bits=0x1), snap(gpu_throttle_bits=0x4 | 0x40))
    assert capped["throttled"] is True
    assert capped["throttle_reasons"] == ["hw_thermal_slowdown", "sw_power_cap"]


def test_each_reading_is_recorded_before_and_after_under_a_name_with_its_unit():
    fields = clocks.state_fields(
        "cuda", snap(gpu_sm_mhz=345, gpu_power_w=70.0), snap(gpu_sm_mhz=1980, gpu_power_w=690.5)
    )
    assert fields["gpu_sm_mhz_before"] == 345 and fields["gpu_sm_mhz_after"] == 1980
    assert fields["gpu_power_w_before"] == 70.0 and fields["gpu_power_w_after"] == 690.5
    from reports import schema

    recorded = {k for k in fields} | {"energy_j_per_call", "energy_skip"}
    assert recorded == set(schema.MACHINE_STATE)


@pytest.fixture
def fake_nvml(monkeypatch):
    """A stand-in pynvml: SM 1980 MHz, memory 2619 MHz, 61 C, 412.5 W, power-capped, an energy counter that
    advances 50 J per read."""
    nvml = types.ModuleType("pynvml")
    nvml.NVML_CLOCK_SM, nvml.NVML_CLOCK_MEM, nvml.NVML_TEMPERATURE_GPU = 1, 2, 0
    energy = [1_000_000.0]

    def total_energy(handle):
        energy[0] += 50_000.0
        return energy[0]

    nvml.nvmlInit = lambda: None
    nvml.nvmlDeviceGetHandleByUUID = lambda uuid: ("handle", uuid)
    nvml.nvmlDeviceGetHandleByIndex = lambda i: ("handle", i)
    nvml.nvmlDeviceGetClockInfo = lambda h, which: {1: 1980, 2: 2619}[which]
    nvml.nvmlDeviceGetTemperature = lambda h, which: 61
    nvml.nvmlDeviceGetPowerUsage = lambda h: 412_500
    nvml.nvmlDeviceGetCurrentClocksEventReasons = lambda h: 0x4
    nvml.nvmlDeviceGetTotalEnergyConsumption = total_energy
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: types.SimpleNamespace(uuid="1234"))
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    clocks.nvml_handle.cache_clear()
    yield nvml
    clocks.nvml_handle.cache_clear()


def test_the_gpu_is_read_through_nvml_by_its_uuid(fake_nvml):
    _, handle = clocks.nvml_handle()
    assert handle == ("handle", "GPU-1234")  # cuda:0 by UUID: honours CUDA_VISIBLE_DEVICES
    state, source = clocks.gpu_state()
    assert source == "nvml"
    assert state == {
        "gpu_sm_mhz": 1980,
        "gpu_mem_mhz": 2619,
        "gpu_temp_c": 61,
        "gpu_power_w": 412.5,
        "gpu_throttle_bits": 0x4,
    }
    fields = clocks.state_fields("cuda", clocks.snapshot("cuda"), clocks.snapshot("cuda"))
    assert fields["clock_source"] == "nvml" and fields["throttled"] is True


def test_energy_per_call_is_the_counters_advance_over_the_calls(fake_nvml):
    calls = []
    joules, why = clocks.energy_per_call(lambda: calls.append(1), "cuda", window_s=0.01)
    assert why is None
    assert joules == pytest.approx(50.0 / len(calls))  # the counter advanced 50 J (50,000 mJ) over the window


def test_energy_is_a_stated_skip_where_it_cannot_be_read(monkeypatch):
    assert clocks.energy_per_call(lambda: None, "cpu")[1].endswith("not measured on the CPU")
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    joules, why = clocks.energy_per_call(lambda: None, "cuda", counter=lambda: (None, "nvidia-ml-py is not installed"))
    assert joules is None and why == "nvidia-ml-py is not installed"
    joules, why = clocks.energy_per_call(lambda: None, "cuda", window_s=0)
    assert joules is None and "--energy-window 0" in why
    still = clocks.energy_per_call(lambda: None, "cuda", window_s=0.001, counter=lambda: (5.0, None))
    assert still == (None, "the energy counter did not advance during the window")


def test_without_nvidia_ml_py_the_reason_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    clocks.nvml_handle.cache_clear()
    try:
        nvml, why = clocks.nvml_handle()
        assert nvml is None and "nvidia-ml-py" in why
    finally:
        clocks.nvml_handle.cache_clear()
