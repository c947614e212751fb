"""Entry point: `python -m opcua_ingest`."""

from __future__ import annotations

from opcua_ingest.app import module

if __name__ == "__main__":
    module.main()
