"""Manifest → process specs: which modules run, with which policy, order and environment."""

from __future__ import annotations

from typing import Any

import pytest

from edgeloop_dev.supervisor.errors import ManifestError
from edgeloop_dev.supervisor.spec import (
    DEFAULT_STARTUP_ORDER,
    DesiredStatus,
    RestartPolicy,
    plan,
    startup_groups,
)


def manifest(modules: dict[str, Any]) -> dict[str, Any]:
    return {
        "modulesContent": {
            "$edgeAgent": {"properties.desired": {"schemaVersion": "1.1", "modules": modules}},
            "$edgeHub": {"properties.desired": {"schemaVersion": "1.1", "routes": {}}},
        }
    }


def module(image: str, **extra: Any) -> dict[str, Any]:
    return {"version": "1.0", "type": "docker", "settings": {"image": image}, **extra}


def test_repo_modules_are_found_by_image_placeholder_or_package_folder() -> None:
    result = plan(
        manifest(
            {
                "ingest": module("${MODULES.opcua_ingest}"),
                "inference": module("myregistry.azurecr.io/edgeloop/inference:0.1.0-amd64"),
                "filter": module("${MODULES.anomaly_filter.debug}"),
                "SimulatedTemperatureSensor": module(
                    "mcr.microsoft.com/azureiotedge-simulated-temperature-sensor:1.5"
                ),
            }
        ),
        local_packages=["inference", "anomaly_filter", "opcua_ingest"],
    )
    assert [(spec.name, spec.package) for spec in result.modules] == [
        ("ingest", "opcua_ingest"),
        ("inference", "inference"),
        ("filter", "anomaly_filter"),
    ]
    assert [skip.name for skip in result.skipped] == ["SimulatedTemperatureSensor"]
    assert "not a module of this repo" in result.skipped[0].reason


def test_policy_status_and_order_are_read_with_edge_agent_defaults() -> None:
    result = plan(
        manifest(
            {
                "a": module("${MODULES.a}", status="stopped", restartPolicy="on-unhealthy", startupOrder=3),
                "b": module("${MODULES.b}"),
            }
        ),
        local_packages=[],
    )
    a, b = result.modules
    assert (a.status, a.restart_policy, a.startup_order) == (
        DesiredStatus.STOPPED,
        RestartPolicy.ON_UNHEALTHY,
        3,
    )
    assert (b.status, b.restart_policy, b.startup_order) == (
        DesiredStatus.RUNNING,
        RestartPolicy.ALWAYS,
        DEFAULT_STARTUP_ORDER,
    )


def test_env_values_are_strings_with_env_file_variables_expanded() -> None:
    env = {
        "GAIN": {"value": 2.5},
        "ENABLED": {"value": True},
        "TAGS": {"value": ["x", "y"]},
        "ENDPOINT": {"value": "opc.tcp://${PLANT_HOST}:4840"},
        "UNKNOWN": {"value": "$NOT_SET"},
    }
    (spec,) = plan(
        manifest({"a": module("${MODULES.a}", env=env)}),
        local_packages=[],
        variables={"PLANT_HOST": "127.0.0.1"},
    ).modules
    assert dict(spec.env) == {
        "GAIN": "2.5",
        "ENABLED": "true",
        "TAGS": '["x","y"]',
        "ENDPOINT": "opc.tcp://127.0.0.1:4840",
        "UNKNOWN": "$NOT_SET",
    }


def test_startup_groups_are_lowest_first_and_keep_manifest_order_inside_a_group() -> None:
    result = plan(
        manifest(
            {
                "late": module("${MODULES.late}"),
                "b1": module("${MODULES.b1}", startupOrder=1),
                "first": module("${MODULES.first}", startupOrder=0),
                "b2": module("${MODULES.b2}", startupOrder=1),
            }
        ),
        local_packages=[],
    )
    assert [[spec.name for spec in group] for group in startup_groups(result.modules)] == [
        ["first"],
        ["b1", "b2"],
        ["late"],
    ]


def test_selection_runs_only_the_named_modules() -> None:
    result = plan(
        manifest({"a": module("${MODULES.a}"), "b": module("${MODULES.b}")}),
        local_packages=[],
        selected=["b"],
    )
    assert [spec.name for spec in result.modules] == ["b"]
    assert [(skip.name, skip.reason) for skip in result.skipped] == [("a", "not selected with --modules")]


@pytest.mark.parametrize(
    ("modules", "selected", "message"),
    [
        pytest.param(
            {"a": module("${MODULES.a}", restartPolicy="sometimes")},
            None,
            "modules.a.restartPolicy",
            id="bad-policy",
        ),
        pytest.param(
            {"a": module("${MODULES.a}", status="paused")}, None, "modules.a.status", id="bad-status"
        ),
        pytest.param(
            {"a": module("${MODULES.a}", startupOrder=-1)}, None, "modules.a.startupOrder", id="bad-order"
        ),
        pytest.param({"a": module("${MODULES.a}", env={"X": "1"})}, None, "modules.a.env.X", id="bad-env"),
        pytest.param({"a": module("${MODULES.a}")}, ["zz"], "zz", id="unknown-selection"),
    ],
)
def test_bad_manifest_entries_are_named_in_the_error(
    modules: dict[str, Any], selected: list[str] | None, message: str
) -> None:
    with pytest.raises(ManifestError, match=message.replace(".", r"\.")):
        plan(manifest(modules), local_packages=[], selected=selected)


def test_a_manifest_without_edge_agent_is_refused() -> None:
    with pytest.raises(ManifestError, match=r"\$edgeAgent"):
        plan({"modulesContent": {}}, local_packages=[])
