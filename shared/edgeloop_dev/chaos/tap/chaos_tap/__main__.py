"""Entry point: `python -m chaos_tap`."""

from __future__ import annotations

from .app import module

if __name__ == "__main__":
    module.main()
