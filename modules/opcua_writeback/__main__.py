"""Entry point: `python -m opcua_writeback`."""

from __future__ import annotations

from opcua_writeback.app import module

if __name__ == "__main__":
    module.main()
