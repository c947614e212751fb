"""The runtime for real: example_module as a process, the real SDK, the local hub, routes from a manifest."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.plant.testing import ModuleProcess

ROUTES = {
    "toExample": "FROM /messages/modules/feeder/outputs/values INTO BrokeredEndpoint('/modules/example_module/inputs/values')",
    "scaledToFeeder": "FROM /messages/modules/example_module/outputs/scaled INTO BrokeredEndpoint('/modules/feeder/inputs/scaled')",
    "deadToFeeder": "FROM /messages/modules/example_module/outputs/deadletter INTO BrokeredEndpoint('/modules/feeder/inputs/dead')",
}


def ExampleProcess(hub: HubProcess, env: dict[str, str], log: Path) -> ModuleProcess:
    """`python -m example_module` with the hub's credentials and the manifest's env."""
    state = {"STATE_DIR": str(log.parent / "example_module-state")}  # its volume, kept across restarts
    return ModuleProcess("example_module", {**hub.env("example_module"), **state, **env}, log)


@pytest.fixture
def example(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> Iterator[tuple[HubProcess, ModuleProcess, SdkModule]]:
    manifest = make_manifest(ROUTES, {"example_module": {"gain": 3}, "feeder": {}})
    hub = hub_factory(manifest)
    feeder = sdk_module(hub.env("feeder"))
    module = ExampleProcess(
        hub, {"GAIN": "2", "METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1"}, tmp_path / "ex.log"
    )
    try:
        wait_for(lambda: hub.twin("example_module").get("reported", {}).get("status") == "running", 30)
        yield hub, module, feeder
    finally:
        if module.proc.poll() is None:
            module.proc.kill()
            module.proc.wait()


def _reported(hub: HubProcess) -> dict[str, Any]:
    twin: dict[str, Any] = hub.twin("example_module")
    return dict(twin.get("reported", {}))


def test_twin_overrides_env_and_messages_flow_through_routes(
    example: tuple[HubProcess, ModuleProcess, SdkModule],
) -> None:
    hub, _module, feeder = example
    reported = _reported(hub)
    assert reported["module"] == {"name": "example_module", "version": "0.1.0"}
    assert reported["config"]["status"] == "applied"
    feeder.send_json("values", {"value": 5}, message_id="v-1")
    got = feeder.next_input(15)
    assert got.input_name == "scaled"
    assert got.content_type == "application/json"
    body = json.loads(got.data)
    assert body["data"] == {"value": 15.0, "gain": 3.0}  # twin gain 3 beats env gain 2
    assert body["correlationId"] == "v-1"


def test_patch_applies_and_bad_input_is_dead_lettered(
    example: tuple[HubProcess, ModuleProcess, SdkModule],
) -> None:
    hub, _module, feeder = example
    hub.push_desired("example_module", {"gain": 10})
    wait_for(
        lambda: (
            _reported(hub)["config"]["status"] == "applied"
            and _reported(hub)["config"]["desiredVersion"] >= 2
        ),
        15,
    )
    hub.push_desired("example_module", {"gain": "loud"})
    wait_for(lambda: _reported(hub)["config"]["status"] == "refused", 15)
    feeder.send_json("values", {"value": "not a number"}, message_id="bad-1")
    feeder.send_json("values", {"value": 1}, message_id="ok-1")
    inputs = feeder.collect(2, 15)
    by_input = {m.input_name: m for m in inputs}
    assert json.loads(by_input["scaled"].data)["data"]["value"] == 10.0  # refused patch left gain 10
    assert by_input["dead"].custom_properties["edgeloopOriginalMessageId"] == "bad-1"


def test_methods_metrics_and_graceful_shutdown(
    example: tuple[HubProcess, ModuleProcess, SdkModule],
) -> None:
    hub, module, feeder = example
    assert hub.invoke("example_module", "ping") == {
        "status": 200,
        "payload": {"pong": True, "module": "example_module", "version": "0.1.0"},
    }
    assert hub.invoke("example_module", "scale", {"value": 2})["payload"] == {"value": 6.0}
    assert hub.invoke("example_module", "nope")["status"] == 404
    status = hub.invoke("example_module", "getStatus")["payload"]
    assert status["status"] == "running" and status["inputs"]["values"]["capacity"] == 100

    import urllib.request

    with urllib.request.urlopen(_reported(hub)["endpoints"]["metrics"], timeout=5) as resp:
        text = resp.read().decode()
    assert 'edgeloop_method_calls_total{method="ping",module="example_module",status="200"} 1.0' in text

    assert module.stop() == 0
    events = [line["event"] for line in module.log_lines()]
    assert "stopping" in events and "drained" in events
    assert _reported(hub)["status"] == "stopped"
    # intake was closed: a message sent now waits in the hub for the next start
    feeder.send_json("values", {"value": 1}, message_id="while-down")
    wait_for(lambda: hub.metric("edgehub_queue_length") >= 1, 10)


def test_messages_stored_while_killed_are_all_handled_after_restart(
    example: tuple[HubProcess, ModuleProcess, SdkModule],
) -> None:
    hub, module, feeder = example
    module.proc.kill()  # kill -9: no unsubscribe, the hub's session keeps the input subscription
    module.proc.wait()
    for i in range(20):
        feeder.send_json("values", {"value": i}, message_id=f"while-down-{i}")
    wait_for(lambda: hub.metric("edgehub_queue_length") >= 20, 10)
    # Nothing the hub stored for the module while it was dead is lost when it comes back.
    again = ExampleProcess(hub, {"METRICS_PORT": "-1"}, module.log.with_name("again.log"))
    try:
        got = feeder.collect(20, 30)
    finally:
        again.stop()
    ids = sorted(json.loads(m.data)["correlationId"] for m in got)
    assert ids == sorted(f"while-down-{i}" for i in range(20))
