"""The supervisor with the real hub: credentials, graceful stop order, and messages between real modules."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sup_helpers import probe_module, read_records, write_manifest

from edgeloop_dev.hub.client import hub_status
from edgeloop_dev.hub.harness import SdkModule
from edgeloop_dev.hub.identity import module_environment
from edgeloop_dev.hub.upstream import read_events
from edgeloop_dev.supervisor.errors import HubStartError
from edgeloop_dev.supervisor.policy import HealthConfig, ModuleState
from edgeloop_dev.supervisor.status import Event
from edgeloop_dev.supervisor.supervisor import HUB, Supervisor, SupervisorConfig

MakeConfig = Callable[..., SupervisorConfig]


def example(gain: float, **extra: Any) -> dict[str, Any]:
    """The runtime's example module (modules/example_module) under any manifest name."""
    return {
        "version": "1.0",
        "type": "docker",
        "status": "running",
        "restartPolicy": "always",
        "settings": {"image": "${MODULES.example_module}", "createOptions": "{}"},
        "env": {"GAIN": {"value": gain}, "SHUTDOWN_GRACE_SECONDS": {"value": "1"}},
        **extra,
    }


def route(source: str, output: str, target: str, input_name: str) -> str:
    endpoint = f'BrokeredEndpoint("/modules/{target}/inputs/{input_name}")'
    return f"FROM /messages/modules/{source}/outputs/{output} INTO {endpoint}"


async def test_modules_get_hub_credentials_and_are_stopped_while_the_hub_still_runs(
    tmp_path: Path, record: Path, make_config: MakeConfig, hub_host: str
) -> None:
    events: list[Event] = []
    manifest = write_manifest(
        tmp_path / "m.json",
        {
            "one": probe_module(record=record, startupOrder=0, env={"PROBE_HUB_HOST": hub_host}),
            "two": probe_module(record=record, startupOrder=1, env={"PROBE_HUB_HOST": hub_host}),
        },
    )
    sup = Supervisor(make_config(manifest, host=hub_host), on_event=events.append)
    await sup.start()
    try:
        assert sup.status().hub.state is ModuleState.RUNNING
        assert sup.status().hub.pid is not None
    finally:
        await sup.stop()
    starts = [r for r in read_records(record) if r["kind"] == "start"]
    assert all(r["env"]["EdgeHubConnectionString"] for r in starts)
    terms = [r for r in read_records(record) if r["kind"] == "term"]
    assert [(r["name"], r["hub_up"]) for r in terms] == [("two", True), ("one", True)]  # reverse order
    order = [(e.module, e.state) for e in events if e.state is ModuleState.STOPPED]
    assert order[-1] == (HUB, ModuleState.STOPPED)
    assert sup.status().hub.pid is None


async def test_a_hub_that_cannot_start_is_reported_with_its_log(
    tmp_path: Path, record: Path, make_config: MakeConfig, hub_host: str
) -> None:
    manifest = write_manifest(
        tmp_path / "m.json", {"one": probe_module(record=record)}, routes={"bad": "FROM nowhere"}
    )
    sup = Supervisor(make_config(manifest, host=hub_host))
    with pytest.raises(HubStartError, match="exited with code 2"):
        await sup.start()
    assert sup.status().hub.state is ModuleState.FAILED
    assert read_records(record) == []  # no module starts without a hub


async def test_messages_flow_between_two_real_modules_through_the_hub(
    tmp_path: Path,
    make_config: MakeConfig,
    hub_host: str,
    sdk_module: Callable[..., SdkModule],
) -> None:
    modules = {
        "feeder": {
            "type": "docker",
            "status": "running",
            "settings": {"image": "mcr.microsoft.com/feeder:1"},
        },
        "doubler": example(2.0, startupOrder=1),
        "tripler": example(3.0, startupOrder=2),
    }
    # example_module reads the envelopes it emits, so the chain is feeder -> doubler -> tripler,
    # and both hops are visible upstream.
    routes = {
        "feed": route("feeder", "values", "doubler", "values"),
        "chain": route("doubler", "scaled", "tripler", "values"),
        "up": "FROM /messages/modules/doubler/outputs/scaled INTO $upstream",
        "up3": "FROM /messages/modules/tripler/outputs/scaled INTO $upstream",
    }
    manifest_path = tmp_path / "m.json"
    manifest_path.write_text(
        json.dumps(
            {
                "modulesContent": {
                    "$edgeAgent": {"properties.desired": {"schemaVersion": "1.1", "modules": modules}},
                    "$edgeHub": {"properties.desired": {"schemaVersion": "1.1", "routes": routes}},
                }
            }
        )
    )
    # real modules take a second or two to import the SDK and connect: give /healthz time to come up
    health = HealthConfig(interval_s=0.5, timeout_s=1.0, threshold=3, grace_s=15.0)
    config = make_config(manifest_path, host=hub_host, stop_grace_s=5.0, health=health)
    async with Supervisor(config) as sup:
        assert [s.name for s in sup.plan.skipped] == ["feeder"]
        env = module_environment(config.state_dir, "feeder", host=hub_host)
        feeder = await asyncio.to_thread(sdk_module, env, inputs=False)
        for value in (1, 2, 3):
            await asyncio.to_thread(feeder.send_json, "values", {"value": value})
        for _ in range(200):
            if len(read_events(config.state_dir)) >= 6:
                break
            await asyncio.sleep(0.1)
        events = [event["event"] for event in read_events(config.state_dir)]
        scaled = [e["payload"]["data"]["value"] for e in events if e["module"] == "doubler"]
        assert scaled == [2.0, 4.0, 6.0]
        tripled = [e["payload"]["data"]["value"] for e in events if e["module"] == "tripler"]
        assert tripled == [6.0, 12.0, 18.0]
        doubler = await sup.wait_for("doubler", lambda s: (s.messages_in, s.messages_out) == (3, 3))
        tripler = await sup.wait_for("tripler", lambda s: (s.messages_in, s.messages_out) == (3, 3))
        assert (doubler.restarts, tripler.restarts) == (0, 0)
    log = (config.state_dir / "logs" / "doubler.log").read_text()
    assert log.strip(), "the module's own log lines land in DIR/logs/<module>.log"


async def test_a_crashed_hub_is_restarted_like_edge_agent_restarts_edge_hub(
    tmp_path: Path, record: Path, make_config: MakeConfig, hub_host: str
) -> None:
    events: list[Event] = []
    manifest = write_manifest(tmp_path / "m.json", {"one": probe_module(record=record)})
    async with Supervisor(make_config(manifest, host=hub_host), on_event=events.append) as sup:
        first = sup.status().hub.pid
        module_pid = sup.status().module("one").pid
        sup.kill(HUB, signal.SIGKILL)
        hub = await sup.wait_for(
            HUB, lambda s: s.state is ModuleState.RUNNING and s.pid not in (None, first), 30
        )
        assert hub.restarts == 1
        assert "killed by signal 9" in hub.last_error
        assert sup.status().module("one").pid == module_pid  # modules ride it out (the SDK reconnects)
    assert [e.state for e in events if e.module == HUB][:5] == [
        ModuleState.STARTING,
        ModuleState.RUNNING,
        ModuleState.BACKOFF,
        ModuleState.STARTING,
        ModuleState.RUNNING,
    ]


async def test_workload_credentials_let_a_real_module_connect(
    tmp_path: Path, make_config: MakeConfig, hub_host: str
) -> None:
    manifest = write_manifest(tmp_path / "m.json", {"scaler": example(2.0)})
    health = HealthConfig(interval_s=0.5, timeout_s=1.0, threshold=3, grace_s=15.0)
    config = make_config(manifest, host=hub_host, credentials="workload", health=health)
    async with Supervisor(config) as sup:
        for _ in range(100):
            if "scaler" in hub_status(config.state_dir)["connected"]:
                break
            await asyncio.sleep(0.1)
        assert "scaler" in hub_status(config.state_dir)["connected"]
        assert sup.status().module("scaler").state is ModuleState.RUNNING
    log = (config.state_dir / "logs" / "scaler.log").read_text()
    assert "connected to edgeHub" in log
