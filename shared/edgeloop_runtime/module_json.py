"""Where a module's `module.json` is and the version it declares, found from the module's package."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path


def package_dir(package: str) -> Path | None:
    """The folder of the top-level package `package` (a module's name is its package), if there is one."""
    if not package.isidentifier():
        return None
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]).resolve() if locations else None


def module_version(package_dir: Path) -> str:
    """The version in module.json (image.tag.version), or 0.0.0 if there is none."""
    try:
        meta = json.loads((package_dir / "module.json").read_text())
        return str(meta["image"]["tag"]["version"])
    except (OSError, KeyError, TypeError, json.JSONDecodeError):
        return "0.0.0"
