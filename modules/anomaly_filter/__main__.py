"""Entry point: `python -m anomaly_filter`."""

from __future__ import annotations

from anomaly_filter.app import module

if __name__ == "__main__":
    module.main()
