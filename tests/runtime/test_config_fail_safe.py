"""Fail safe on configuration: a refused (or unreadable) twin at start never means env defaults silently."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest
from runtime_harness import run_module, wait_for

from edgeloop_runtime import Context, HubConnectionError, Module, ModuleSettings
from edgeloop_runtime.last_valid import LAST_VALID_FILE
from edgeloop_runtime.testing import FakeHubClient
from example_module.app import module as example


class Actor(ModuleSettings):
    """A module that acts on a plant: `enabled` and a `limit` its hook checks."""

    enabled: bool = True
    limit: float = 1.0


actor = Module("actor", Actor, version="1.0.0", fail_safe={"enabled": False})


@actor.on_config
async def check_limit(ctx: Context[Actor, None], settings: Actor) -> None:
    if settings.limit <= 0:
        raise ValueError("limit must be positive")


def _twin(desired: dict[str, Any], version: int = 1) -> FakeHubClient:
    return FakeHubClient(twin={"desired": {"$version": version, **desired}, "reported": {}})


class TwinDown(FakeHubClient):
    """A hub whose twin cannot be read at start."""

    async def get_twin(self) -> dict[str, Any]:
        raise HubConnectionError("twin request timed out")


async def _gain(running: Any) -> float:
    _status, got = await running.client.call("scale", {"value": 1})
    return float(got["value"])


async def test_refused_twin_after_restart_runs_the_last_valid_configuration(tmp_path: Path) -> None:
    env = {"STATE_DIR": str(tmp_path), "GAIN": "2"}
    async with run_module(example, env=env, desired={"gain": 7}) as first:
        await first.client.patch_desired({"gain": 5})
        await wait_for(lambda: first.client.reported["config"].get("desiredVersion") == 2)
    async with run_module(example, env=env, client=_twin({"gain": "loud"}, version=3)) as second:
        config = second.client.reported["config"]
        assert config["status"] == "refused-using-last-valid"
        assert config["desiredVersion"] == 3 and config["lastValidVersion"] == 2
        assert "gain" in config["error"]
        assert await _gain(second) == 5.0  # not GAIN=2 from the environment


async def test_refused_twin_with_nothing_saved_starts_in_the_fail_safe_configuration(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        async with run_module(actor, env={"STATE_DIR": str(tmp_path)}, desired={"limit": -1}) as running:
            config = running.client.reported["config"]
            status_now = running.client.reported["status"]
            _status, got = await running.client.call("getStatus")
    assert config["status"] == "refused-using-fail-safe" and config["failSafe"] == {"enabled": False}
    assert status_now == "running"
    assert got["config"]["status"] == "refused-using-fail-safe"
    lines = [r.getMessage() for r in caplog.records if "fail-safe configuration" in r.getMessage()]
    assert len(lines) == 1


async def test_fail_safe_settings_are_the_ones_in_force(tmp_path: Path) -> None:
    seen: list[Actor] = []
    mod = Module("actor2", Actor, version="1.0.0", fail_safe={"enabled": False})

    @mod.on_config
    async def record(ctx: Context[Actor, None], settings: Actor) -> None:
        if settings.limit <= 0:
            raise ValueError("limit must be positive")
        seen.append(settings)

    async with run_module(mod, env={"STATE_DIR": str(tmp_path)}, desired={"limit": -1}):
        pass
    assert [s.enabled for s in seen] == [False]


async def test_a_saved_configuration_wins_over_the_fail_safe_one(tmp_path: Path) -> None:
    seen: list[Actor] = []
    mod = Module("actor3", Actor, version="1.0.0", fail_safe={"enabled": False})

    @mod.on_config
    async def record(ctx: Context[Actor, None], settings: Actor) -> None:
        if settings.limit <= 0:
            raise ValueError("limit must be positive")
        seen.append(settings)

    env = {"STATE_DIR": str(tmp_path)}
    async with run_module(mod, env=env, desired={"limit": 3, "enabled": True}):
        pass
    async with run_module(mod, env=env, desired={"limit": -1}) as running:
        assert running.client.reported["config"]["status"] == "refused-using-last-valid"
    assert (seen[-1].enabled, seen[-1].limit) == (True, 3.0)


async def test_refused_twin_without_saved_or_fail_safe_config_says_it_runs_on_the_environment(
    tmp_path: Path,
) -> None:
    env = {"STATE_DIR": str(tmp_path), "GAIN": "2"}
    async with run_module(example, env=env, desired={"gain": "loud"}) as running:
        assert running.client.reported["config"]["status"] == "refused-using-environment"
        assert await _gain(running) == 2.0


async def test_unreadable_twin_at_start_runs_the_last_valid_configuration(tmp_path: Path) -> None:
    env = {"STATE_DIR": str(tmp_path), "GAIN": "2"}
    async with run_module(example, env=env, desired={"gain": 7}):
        pass
    down = TwinDown(twin={"desired": {"$version": 9}, "reported": {}})
    async with run_module(example, env=env, client=down) as running:
        assert running.client.reported["config"]["status"] == "twin-unavailable-using-last-valid"
        assert await _gain(running) == 7.0


async def test_the_last_valid_document_is_saved_on_every_apply(tmp_path: Path) -> None:
    import json

    async with run_module(example, env={"STATE_DIR": str(tmp_path)}, desired={"gain": 7}) as running:
        saved_at_start = json.loads((tmp_path / LAST_VALID_FILE).read_text())
        await running.client.patch_desired({"gain": 0})  # refused by the hook: not saved
        await wait_for(lambda: running.client.reported["config"]["status"] == "refused")
        after_refusal = json.loads((tmp_path / LAST_VALID_FILE).read_text())
        await running.client.patch_desired({"gain": 4})
        await wait_for(lambda: running.client.reported["config"]["status"] == "applied")
        after_patch = json.loads((tmp_path / LAST_VALID_FILE).read_text())
    assert (saved_at_start["desired"], saved_at_start["desiredVersion"]) == ({"gain": 7}, 1)
    assert after_refusal == saved_at_start
    assert (after_patch["desired"], after_patch["desiredVersion"]) == ({"gain": 4}, 3)
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


async def test_state_dir_is_not_changeable_by_the_twin(tmp_path: Path) -> None:
    async with run_module(example, env={"STATE_DIR": str(tmp_path)}) as running:
        await running.client.patch_desired({"stateDir": "/elsewhere"})
        await wait_for(lambda: running.client.reported["config"]["status"] == "refused")
        assert "only in the environment" in running.client.reported["config"]["error"]


def test_fail_safe_must_name_settings_fields() -> None:
    with pytest.raises(ValueError, match="enabeld"):
        Module("typo", Actor, version="1.0.0", fail_safe={"enabeld": False})
