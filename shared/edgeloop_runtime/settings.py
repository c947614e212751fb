"""Typed module configuration: defaults, then environment variables, then the twin's desired properties."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from .errors import ConfigError

S = TypeVar("S", bound="ModuleSettings")

# Keys IoT Hub puts into desired properties that are not configuration.
_TWIN_METADATA = ("$version", "$metadata")


class ModuleSettings(BaseModel):
    """Base class of every module's settings.

    A field `foo_bar` is read from the environment variable `FOO_BAR` (JSON for lists and objects)
    and from the desired property `fooBar`. Subclasses may rename environment variables in
    `env_names` (for instance to honour a name other tools use, such as `MODEL_PATH`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    env_names: ClassVar[dict[str, str]] = {}
    # Fields only the environment (the deployment) may set: a twin patch naming one is refused.
    env_only: ClassVar[frozenset[str]] = frozenset({"state_dir"})
    log_level: str = "INFO"
    metrics_port: int = 9600
    metrics_host: str = "0.0.0.0"
    shutdown_grace_seconds: float = 5.0
    # Where the module keeps what must survive a restart (last valid configuration, its own durable
    # state): the module's volume. Empty means `state/<module name>` under the working directory.
    state_dir: str = ""

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets a field."""
        return cls.env_names.get(field, field.upper())

    @classmethod
    def twin_name(cls, field: str) -> str:
        """The desired property that sets a field."""
        alias = cls.model_fields[field].alias
        return alias or field


def _env_value(raw: str) -> Any:
    """Decode an environment value: JSON for objects and lists, the plain string otherwise."""
    text = raw.strip()
    if text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return raw
    return raw


def env_overrides(cls: type[ModuleSettings], env: Mapping[str, str]) -> dict[str, Any]:
    """The fields that the environment sets, by field name."""
    values: dict[str, Any] = {}
    for field in cls.model_fields:
        name = cls.env_name(field)
        if name in env and env[name] != "":
            values[field] = _env_value(env[name])
    return values


def desired_overrides(cls: type[ModuleSettings], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that desired properties set, by field name; unknown properties are an error."""
    by_alias = {cls.twin_name(f): f for f in cls.model_fields}
    values: dict[str, Any] = {}
    for key, value in desired.items():
        if key in _TWIN_METADATA:
            continue
        field = by_alias.get(key) or (key if key in cls.model_fields else None)
        if field is None:
            raise ConfigError("unknown desired property", field=key, origin="twin")
        if field in cls.env_only:
            raise ConfigError("can be set only in the environment, not by the twin", field=key, origin="twin")
        if value is not None:
            values[field] = value
    return values


def build_settings(
    cls: type[S], env_values: Mapping[str, Any], desired_values: Mapping[str, Any] | None = None
) -> S:
    """Validate defaults + env + desired into a frozen settings object, or raise ConfigError."""
    merged = dict(env_values)
    merged.update(desired_values or {})
    try:
        return cls.model_validate(merged)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "settings"
        top = str(error["loc"][0]) if error["loc"] else ""
        if desired_values and top in desired_values:
            origin, shown = (
                "twin",
                cls.twin_name(top) + field[len(top) :] if top in cls.model_fields else field,
            )
        elif top in env_values:
            origin, shown = "env", cls.env_name(top) + field[len(top) :]
        else:
            origin, shown = "settings", field
        raise ConfigError(error["msg"], field=shown, origin=origin) from exc


def load_env_settings(cls: type[S], env: Mapping[str, str]) -> S:
    """Settings from defaults and the environment only (the start-up check)."""
    return build_settings(cls, env_overrides(cls, env))


def state_path(settings: ModuleSettings, module: str) -> Path:
    """The module's state directory: STATE_DIR, or `state/<module>` under the working directory."""
    return Path(settings.state_dir) if settings.state_dir else Path("state") / module


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a JSON merge patch (RFC 7386, as IoT Hub applies desired patches): null deletes."""
    result = copy.deepcopy(dict(target))
    for key, value in patch.items():
        if key in _TWIN_METADATA:
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merge_patch(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result
