"""Each module's env and desired properties in both templates are exactly what its settings class reads."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from deploy_helpers import PIPELINE

from edgeloop_runtime import Module
from edgeloop_runtime.settings import ModuleSettings, build_settings, desired_overrides, env_overrides


def settings_class(name: str) -> type[ModuleSettings]:
    """The settings class of `<name>.app.module` (the runtime's convention)."""
    app = importlib.import_module(f"{name}.app")
    module = getattr(app, "module", None)
    assert isinstance(module, Module), f"{name}.app has no `module = Module(...)`"
    cls: type[ModuleSettings] = module.settings_cls
    return cls


CASES = [
    pytest.param(kind, name, id=f"{kind}-{name}") for kind in ("production", "debug") for name in PIPELINE
]


@pytest.mark.parametrize(("kind", "name"), CASES)
def test_env_and_desired_properties_validate_against_the_settings(kind: str, name: str, render: Any) -> None:
    doc = render(kind, "amd64")
    module = doc["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"][name]
    env = {key: str(entry["value"]) for key, entry in module.get("env", {}).items()}
    desired = doc["modulesContent"].get(name, {}).get("properties.desired", {})
    cls = settings_class(name)
    known = {cls.env_name(field) for field in cls.model_fields}
    assert sorted(set(env) - known) == [], f"{name}: env names its settings do not read"
    # unknown desired properties and invalid values raise ConfigError naming the field
    build_settings(cls, env_overrides(cls, env), desired_overrides(cls, desired))


def test_a_misspelt_env_name_would_be_caught() -> None:
    """The check above can fail: an env name no field reads is reported."""
    cls = settings_class("upstream_router")
    known = {cls.env_name(field) for field in cls.model_fields}
    assert "STORE_PATHS" not in known and "STORE_PATH" in known
