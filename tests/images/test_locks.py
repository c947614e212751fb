"""The lock files in requirements/ cover pyproject.toml: every extra has one, pinning what it asks for."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# `tools` is no image of its own: the dev lock (everything) covers it.
EXTRAS = sorted(e for e in PROJECT["optional-dependencies"] if e != "tools")


def _pins(extra: str) -> dict[str, str]:
    """Package name -> pinned version in the extra's lock file."""
    lock = ROOT / "requirements" / f"{canonicalize_name(extra)}.txt"
    assert lock.exists(), f"no lock file {lock.relative_to(ROOT)} for extra {extra!r}; run scripts/lock"
    pins: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        spec = line.split(";")[0].strip()
        if spec and not spec.startswith("#") and "==" in spec:
            name, version = spec.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _wanted(extra: str) -> list[Requirement]:
    """What the extra asks for: the base dependencies, its own, and the extras it names (dev: all)."""
    own = [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    base = [Requirement(r) for r in PROJECT["dependencies"]]
    named = [r for r in own if canonicalize_name(r.name) == "edgeloop"]
    nested = [req for r in named for e in r.extras for req in _wanted(e)]
    return [*base, *[r for r in own if r not in named], *nested]


@pytest.mark.parametrize("extra", EXTRAS)
def test_each_extra_lock_pins_what_pyproject_asks_within_its_bounds(extra: str) -> None:
    pins = _pins(extra)
    off = [
        f"{r.name}: locked {pins.get(canonicalize_name(r.name))}, pyproject wants {r.specifier or 'any'}"
        for r in _wanted(extra)
        if r.marker is None or r.marker.evaluate({"extra": extra})
        if canonicalize_name(r.name) not in pins
        or not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)
    ]
    assert off == [], f"requirements/{canonicalize_name(extra)}.txt is stale (run scripts/lock): {off}"


def test_dev_lock_exists_for_bootstrap() -> None:
    assert "pytest" in _pins("dev")
