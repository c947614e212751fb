"""Entry point: `python -m upstream_router`."""

from __future__ import annotations

from upstream_router.app import module

if __name__ == "__main__":
    module.main()
