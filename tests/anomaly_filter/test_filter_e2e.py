"""anomaly_filter through the local hub with the real SDK: events, actions, bad input, refused rule sets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from af_factories import T0, score, telemetry
from af_process import FilterProcess

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for

F = "anomaly_filter"
RULES = {
    "rules": [
        {
            "name": "vib",
            "raise": 1.0,
            "clear": 0.8,
            "actions": [{"on": ["open"], "target": "{asset}AnomalyFlag", "value": True}],
        }
    ],
    "knownAssets": ["pump"],
}


def manifest(rules: dict[str, Any] = RULES) -> dict[str, Any]:
    routes = {
        "scores": f'FROM /messages/modules/src/outputs/scores INTO BrokeredEndpoint("/modules/{F}/inputs/scores")',
        "tele": f'FROM /messages/modules/src/outputs/telemetry INTO BrokeredEndpoint("/modules/{F}/inputs/telemetry")',
        "out": f'FROM /messages/modules/{F}/outputs/* INTO BrokeredEndpoint("/modules/sink/inputs/all")',
    }
    return make_manifest(routes, {"src": {}, "sink": {}, F: {"rules": rules}})


def test_scores_become_anomalies_actions_and_bad_input_is_deadlettered(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    filter_process: Callable[[dict[str, str]], FilterProcess],
) -> None:
    hub = hub_factory(manifest())
    sink = sdk_module(hub.env("sink"))
    src = sdk_module(hub.env("src"), inputs=False)
    filter_process(hub.env(F))
    wait_for(lambda: hub.twin(F)["reported"].get("config", {}).get("status") == "applied", timeout=60)
    for i in range(20):
        src.send_json("telemetry", telemetry("pump", T0 - 20 + i, {"Vibration": 3.0, "Speed": 1000.0}))
    src.send("scores", b"{not json", content_type="application/json", content_encoding="utf-8")
    src.send_json("scores", score("boiler", T0, 5.0))  # unknown asset
    hot = score("pump", T0, 2.0)
    src.send_json("scores", hot, message_id=hot["id"])
    msgs = sink.collect(5, timeout=60)
    outs = [json.loads(m.data) for m in msgs if "edgeloopError" not in m.custom_properties]
    anomaly = next(b for b in outs if b.get("kind") == "anomaly")
    action = next(b for b in outs if b.get("kind") == "writeRequest")
    dead = [m for m in msgs if "edgeloopError" in m.custom_properties]
    assert anomaly["correlationId"] == hot["id"] and anomaly["data"]["state"] == "open"
    assert anomaly["data"]["window"]["fields"]["Vibration"][0] == 3.0
    assert (
        action["correlationId"] == anomaly["data"]["eventId"]
        and action["data"]["target"] == "pumpAnomalyFlag"
    )
    assert len(dead) == 2
    assert any("unknown asset" in m.custom_properties["edgeloopError"] for m in dead)


def test_an_invalid_rule_set_is_refused_and_the_old_rules_stay(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    filter_process: Callable[[dict[str, str]], FilterProcess],
) -> None:
    hub = hub_factory(manifest())
    sink = sdk_module(hub.env("sink"))
    src = sdk_module(hub.env("src"), inputs=False)
    filter_process(hub.env(F))
    wait_for(lambda: hub.twin(F)["reported"].get("config", {}).get("status") == "applied", timeout=60)
    hub.push_desired(F, {"rules": {"rules": [{"name": "x", "raise": 0.5, "clear": 0.9}]}})
    config = wait_for(
        lambda: (c := hub.twin(F)["reported"].get("config", {})).get("status") == "refused" and c,
        timeout=60,
    )
    assert "clear" in config["error"]
    src.send_json("scores", score("pump", T0, 1.2))  # the old rule (raise 1.0) still applies
    assert _first_anomaly(sink)["data"]["anomalyKind"] == "vib"


def test_a_refused_rule_set_then_a_restart_keeps_the_last_valid_rules(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    filter_process: Callable[[dict[str, str]], FilterProcess],
) -> None:
    hub = hub_factory(manifest())
    sink = sdk_module(hub.env("sink"))
    src = sdk_module(hub.env("src"), inputs=False)
    first = filter_process(hub.env(F))
    wait_for(lambda: hub.twin(F)["reported"].get("config", {}).get("status") == "applied", timeout=60)
    hub.push_desired(F, {"rules": {"rules": [{"name": "x", "raise": 0.5, "clear": 0.9}]}})
    wait_for(lambda: hub.twin(F)["reported"].get("config", {}).get("status") == "refused", timeout=60)
    first.kill()
    filter_process(hub.env(F))  # the twin still holds the refused rule set
    config = wait_for(
        lambda: (
            (c := hub.twin(F)["reported"].get("config", {})).get("status") == "refused-using-last-valid" and c
        ),
        timeout=60,
    )
    assert "clear" in config["error"]
    src.send_json("scores", score("pump", T0, 1.2))  # the last valid rule (raise 1.0), not no rules
    assert _first_anomaly(sink)["data"]["anomalyKind"] == "vib"


def _first_anomaly(sink: SdkModule) -> Any:
    """The next anomaly event (a decision's write requests go out before it)."""
    while (body := json.loads(sink.next_input(timeout=60).data))["kind"] != "anomaly":
        pass
    return body


def _collect_until_deadletter(sink: SdkModule, sentinel: str) -> list[Any]:
    """Everything the filter sent, up to the dead letter of the sentinel message (outputs keep order)."""
    got: list[Any] = []
    while not got or got[-1].custom_properties.get("edgeloopOriginalMessageId") != sentinel:
        got.append(sink.next_input(timeout=60))
    return got


def test_kill_9_mid_episode_one_open_one_close_one_request_per_action(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    filter_process: Callable[[dict[str, str]], FilterProcess],
) -> None:
    rules = {
        "rules": [
            {
                "name": "vib",
                "raise": 1.0,
                "clear": 0.8,
                "actions": [
                    {"on": ["open"], "target": "{asset}AnomalyFlag", "value": True},
                    {"on": ["close"], "target": "{asset}AnomalyFlag", "value": False},
                ],
            }
        ],
        "knownAssets": ["pump"],
    }
    hub = hub_factory(manifest(rules))
    sink = sdk_module(hub.env("sink"))
    src = sdk_module(hub.env("src"), inputs=False)
    first = filter_process(hub.env(F))
    wait_for(lambda: hub.twin(F)["reported"].get("config", {}).get("status") == "applied", timeout=60)
    hot = score("pump", T0, 1.5)
    src.send_json("scores", hot, message_id=hot["id"])
    src.send_json("scores", score("boiler", T0, 0.0), message_id="sentinel-1")  # dead-lettered
    before = _collect_until_deadletter(sink, "sentinel-1")
    first.kill()  # kill -9 with the episode open
    src.send_json("scores", hot, message_id=hot["id"])  # redelivered while the filter is down
    for i in range(1, 4):
        src.send_json("scores", score("pump", T0 + 10 * i, 1.4))  # still open
    src.send_json("scores", score("pump", T0 + 40, 0.5))  # closes it
    src.send_json("scores", score("boiler", T0, 0.0), message_id="sentinel-2")
    filter_process(hub.env(F))
    after = _collect_until_deadletter(sink, "sentinel-2")
    bodies = [json.loads(m.data) for m in before + after if "edgeloopError" not in m.custom_properties]
    anomalies = [(b["data"]["eventId"], b["data"]["state"]) for b in bodies if b["kind"] == "anomaly"]
    requests = [b["data"]["requestId"] for b in bodies if b["kind"] == "writeRequest"]
    (event,) = {e for e, _s in anomalies}
    assert anomalies == [(event, "open"), (event, "close")]
    assert len(requests) == 2 and len(set(requests)) == 2
