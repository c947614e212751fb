"""Entry point: `python -m inference`."""

from __future__ import annotations

from inference.app import module

if __name__ == "__main__":
    module.main()
