"""Entry point: `python -m camera_ingest`."""

from __future__ import annotations

from camera_ingest.app import module

if __name__ == "__main__":
    module.main()
