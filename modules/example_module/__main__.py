"""Entry point: `python -m example_module`."""

from __future__ import annotations

from example_module.app import module

if __name__ == "__main__":
    module.main()
