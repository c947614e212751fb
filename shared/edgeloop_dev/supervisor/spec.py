"""Manifest → process specs: which `$edgeAgent` modules run locally, with which policy, order and env."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from edgeloop_dev.supervisor.envfile import expand
from edgeloop_dev.supervisor.errors import ManifestError

# edgeAgent gives a module without `startupOrder` the largest value: it starts last.
DEFAULT_STARTUP_ORDER = 4294967295
_IMAGE_PLACEHOLDER = re.compile(r"^\$\{MODULES\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\.[^}]*)?\}$")
_PACKAGE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_E = TypeVar("_E", bound=enum.StrEnum)


class RestartPolicy(enum.StrEnum):
    """edgeAgent's restart policies, spelled as in the manifest."""

    NEVER = "never"
    ON_FAILURE = "on-failure"
    ON_UNHEALTHY = "on-unhealthy"
    ALWAYS = "always"


class DesiredStatus(enum.StrEnum):
    """The manifest's `status` of a module."""

    RUNNING = "running"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ModuleSpec:
    """One manifest module that runs here as `python -m <package>`."""

    name: str
    package: str
    status: DesiredStatus = DesiredStatus.RUNNING
    restart_policy: RestartPolicy = RestartPolicy.ALWAYS
    startup_order: int = DEFAULT_STARTUP_ORDER
    env: Mapping[str, str] = field(default_factory=dict)
    image: str = ""


@dataclass(frozen=True)
class SkippedModule:
    """A manifest module that is not a module of this repository (e.g. an image from a registry)."""

    name: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """What the supervisor will run, and what it leaves out and why."""

    modules: tuple[ModuleSpec, ...]
    skipped: tuple[SkippedModule, ...] = ()


def desired_modules(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return `modulesContent.$edgeAgent.properties.desired.modules`, or raise naming what is missing."""
    path = ("modulesContent", "$edgeAgent", "properties.desired")
    node: Any = manifest
    walked: list[str] = []
    for key in path:
        walked.append(key)
        if not isinstance(node, Mapping) or key not in node:
            raise ManifestError(f"manifest has no {'.'.join(walked)}")
        node = node[key]
    if not isinstance(node, Mapping):
        raise ManifestError("manifest's $edgeAgent desired properties are not an object")
    modules = node.get("modules", {})
    if not isinstance(modules, Mapping):
        raise ManifestError("manifest's $edgeAgent desired modules is not an object")
    return modules


def env_value(value: object) -> str:
    """Render a manifest `env` value as the string a process sees."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _env(name: str, raw: object, variables: Mapping[str, str]) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ManifestError(f"modules.{name}.env: expected an object of {{NAME: {{value}}}}")
    env: dict[str, str] = {}
    for key, entry in raw.items():
        if not isinstance(entry, Mapping) or "value" not in entry:
            raise ManifestError(f'modules.{name}.env.{key}: expected {{"value": ...}}')
        env[str(key)] = expand(env_value(entry["value"]), variables)
    return env


def _choice(kind: type[_E], name: str, key: str, raw: object, default: _E) -> _E:
    if raw is None:
        return default
    try:
        return kind(str(raw))
    except ValueError as exc:
        allowed = ", ".join(member.value for member in kind)
        raise ManifestError(f"modules.{name}.{key}: {raw!r} is not one of {allowed}") from exc


def _startup_order(name: str, raw: object) -> int:
    if raw is None:
        return DEFAULT_STARTUP_ORDER
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= DEFAULT_STARTUP_ORDER:
        raise ManifestError(f"modules.{name}.startupOrder: {raw!r} is not an integer in 0..4294967295")
    return raw


def package_for(name: str, image: str, local_packages: Iterable[str]) -> str | None:
    """The package to run for a manifest module, or None when it is not a module of this repo."""
    match = _IMAGE_PLACEHOLDER.match(image)
    if match:
        return match.group("name")
    if name in set(local_packages):
        return name
    return None


def plan(
    manifest: Mapping[str, Any],
    local_packages: Iterable[str],
    variables: Mapping[str, str] | None = None,
    selected: Sequence[str] | None = None,
) -> Plan:
    """Turn the manifest's `$edgeAgent` modules into process specs (pure: no file or process access)."""
    variables = variables or {}
    packages = set(local_packages)
    modules = desired_modules(manifest)
    if selected:
        unknown = sorted(set(selected) - set(modules))
        if unknown:
            raise ManifestError(f"--modules names modules not in the manifest: {', '.join(unknown)}")
    specs: list[ModuleSpec] = []
    skipped: list[SkippedModule] = []
    for name, body in modules.items():
        if not isinstance(body, Mapping):
            raise ManifestError(f"modules.{name}: expected an object")
        settings = body.get("settings") or {}
        image = expand(str(settings.get("image", "")) if isinstance(settings, Mapping) else "", variables)
        if selected and name not in selected:
            skipped.append(SkippedModule(name, "not selected with --modules"))
            continue
        package = package_for(name, image, packages)
        if package is None:
            skipped.append(SkippedModule(name, f"not a module of this repo (image {image or '?'})"))
            continue
        if not _PACKAGE_NAME.match(package):
            raise ManifestError(f"modules.{name}: {package!r} is not a Python package name")
        specs.append(
            ModuleSpec(
                name=name,
                package=package,
                status=_choice(DesiredStatus, name, "status", body.get("status"), DesiredStatus.RUNNING),
                restart_policy=_choice(
                    RestartPolicy, name, "restartPolicy", body.get("restartPolicy"), RestartPolicy.ALWAYS
                ),
                startup_order=_startup_order(name, body.get("startupOrder")),
                env=_env(name, body.get("env"), variables),
                image=image,
            )
        )
    return Plan(tuple(specs), tuple(skipped))


def startup_groups(specs: Iterable[ModuleSpec]) -> list[list[ModuleSpec]]:
    """Group modules by `startupOrder`, lowest first; the manifest's order is kept inside a group."""
    groups: dict[int, list[ModuleSpec]] = {}
    for spec in specs:
        groups.setdefault(spec.startup_order, []).append(spec)
    return [groups[order] for order in sorted(groups)]


def local_packages(modules_dir: Path) -> list[str]:
    """The package folders under `modules/` (a folder with `__main__.py` or `__init__.py`)."""
    if not modules_dir.is_dir():
        return []
    return sorted(
        entry.name
        for entry in modules_dir.iterdir()
        if entry.is_dir() and ((entry / "__main__.py").exists() or (entry / "__init__.py").exists())
    )
