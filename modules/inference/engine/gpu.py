"""GPU utilisation, memory and temperature through NVML, when pynvml and a GPU are there (optional)."""

from __future__ import annotations

from typing import Any


def gpu_samples() -> list[dict[str, float]]:
    """One sample per GPU; an empty list when NVML is not available (no pynvml, no driver, no GPU)."""
    try:
        import pynvml  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return []
    nv: Any = pynvml
    try:
        nv.nvmlInit()
    except Exception:
        return []
    try:
        out = []
        for i in range(nv.nvmlDeviceGetCount()):
            h = nv.nvmlDeviceGetHandleByIndex(i)
            util = nv.nvmlDeviceGetUtilizationRates(h)
            mem = nv.nvmlDeviceGetMemoryInfo(h)
            temp = nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)
            out.append(
                {"index": float(i), "util": float(util.gpu), "memory": float(mem.used), "temp": float(temp)}
            )
        return out
    except Exception:
        return []
    finally:
        try:
            nv.nvmlShutdown()
        except Exception:
            pass
