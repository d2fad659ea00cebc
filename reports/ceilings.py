"""The ceilings measured by the calibration benchmarks, looked up per machine and device."""

from __future__ import annotations

import pandas as pd


def measured_roof(ceilings: pd.DataFrame, machine: str, device: str, dtype: str) -> tuple[float | None, float | None]:
    """(copy GB/s, matmul GFLOP/s for dtype) measured on this machine and device; None where not measured."""
    c = ceilings[(ceilings["machine"] == machine) & (ceilings["device"] == device)]
    copy = c[c["ceiling"] == "copy"]["gbps"]
    peak = c[(c["ceiling"] == "matmul") & (c["dtype"] == dtype)]["gflops"]
    return (copy.max() if not copy.empty else None), (peak.max() if not peak.empty else None)


def attainable(ceilings: pd.DataFrame, machine: str, device: str, dtype: str, intensity: float) -> float | None:
    """The roofline bound min(peak, intensity x bandwidth) in GFLOP/s; None without a measured bandwidth."""
    bw, peak = measured_roof(ceilings, machine, device, dtype)
    if bw is None:
        return None
    return min(peak, intensity * bw) if peak else intensity * bw
