"""Configuration: defaults, then env, then the twin's desired properties, validated the same way."""

from __future__ import annotations

import pytest
from pydantic import Field

from edgeloop_runtime import ConfigError, ModuleSettings
from edgeloop_runtime.settings import (
    build_settings,
    desired_overrides,
    env_overrides,
    load_env_settings,
    merge_patch,
)


class Sample(ModuleSettings):
    threshold: float = 1.0
    fields_list: list[str] = Field(default_factory=list)
    targets: dict[str, int] = Field(default_factory=dict)
    model_path: str = "/models"
    env_names = {"model_path": "MODEL_PATH"}


def test_defaults_apply_when_nothing_is_set() -> None:
    settings = load_env_settings(Sample, {})
    assert settings.threshold == 1.0
    assert settings.metrics_port == 9600


def test_env_uses_upper_snake_names_and_json_for_collections() -> None:
    env = {"THRESHOLD": "2.5", "FIELDS_LIST": '["a", "b"]', "TARGETS": '{"x": 1}', "MODEL_PATH": "/m"}
    settings = load_env_settings(Sample, env)
    assert (settings.threshold, settings.fields_list, settings.targets, settings.model_path) == (
        2.5,
        ["a", "b"],
        {"x": 1},
        "/m",
    )


def test_invalid_env_names_the_variable() -> None:
    with pytest.raises(ConfigError) as err:
        load_env_settings(Sample, {"THRESHOLD": "high"})
    assert err.value.field == "THRESHOLD"
    assert err.value.origin == "env"
    assert "THRESHOLD" in str(err.value)


def test_twin_uses_camel_case_and_overrides_env() -> None:
    desired = desired_overrides(Sample, {"threshold": 3, "fieldsList": ["z"], "$version": 4})
    settings = build_settings(Sample, env_overrides(Sample, {"THRESHOLD": "2"}), desired)
    assert settings.threshold == 3
    assert settings.fields_list == ["z"]


@pytest.mark.parametrize(
    ("desired", "field"),
    [
        pytest.param({"thresold": 1}, "thresold", id="unknown-property"),
        pytest.param({"threshold": "very"}, "threshold", id="wrong-type"),
        pytest.param({"targets": {"x": "one"}}, "targets.x", id="nested-wrong-type"),
    ],
)
def test_invalid_desired_names_the_property(desired: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_settings(Sample, {}, desired_overrides(Sample, desired))
    assert err.value.field == field
    assert err.value.origin == "twin"


def test_settings_are_frozen() -> None:
    settings = load_env_settings(Sample, {})
    with pytest.raises(ValueError, match="frozen"):
        settings.threshold = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        pytest.param({"a": 1}, {"b": 2}, {"a": 1, "b": 2}, id="adds"),
        pytest.param({"a": 1, "b": 2}, {"b": None}, {"a": 1}, id="null-deletes"),
        pytest.param({"r": {"x": 1, "y": 2}}, {"r": {"y": 3}}, {"r": {"x": 1, "y": 3}}, id="merges-objects"),
        pytest.param({"r": [1, 2]}, {"r": [3]}, {"r": [3]}, id="replaces-lists"),
        pytest.param({"a": 1}, {"$version": 7}, {"a": 1}, id="ignores-version"),
    ],
)
def test_merge_patch_follows_iot_hub_semantics(
    target: dict[str, object], patch: dict[str, object], expected: dict[str, object]
) -> None:
    assert merge_patch(target, patch) == expected
