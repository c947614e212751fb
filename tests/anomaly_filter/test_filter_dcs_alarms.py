"""An asset's active DCS alarm as context: anomalies annotated with it, or their write-backs held; the alarms
are state that survives a restart; event messages are never read as signal values."""

from __future__ import annotations

from typing import Any

import pytest
from af_factories import T0, iso, score, telemetry

from anomaly_filter.emits import Emit
from anomaly_filter.engine import FilterEngine
from anomaly_filter.rules import parse_rules
from edgeloop_runtime.errors import ConfigError

ACTIONS = [
    {"on": ["open"], "target": "{asset}AnomalyFlag", "value": True},
    {"on": ["close"], "target": "{asset}AnomalyFlag", "value": False},
]


def engine(**rule: Any) -> FilterEngine:
    base = {"name": "vib", "raise": 1.0, "clear": 0.8, "actions": ACTIONS}
    return FilterEngine(parse_rules({"rules": [{**base, **rule}], "summaryPeriodS": 3600}))


def alarm(asset: str, *, active: bool, severity: int = 800, condition: str = "HiVib") -> dict[str, Any]:
    """opcua_ingest's network message for one condition event (simple EventFilter field names)."""
    payload = {"SourceName": "Vibration", "ConditionName": condition, "ActiveState/Id": active,
               "Severity": severity, "Message": f"{condition} {'active' if active else 'normal'}",
               "Time": iso(T0)}  # fmt: skip
    return {"MessageId": "e1", "MessageType": "ua-data", "PublisherId": "edge",
            "Messages": [{"DataSetWriterId": asset, "MessageType": "ua-event",
                          "Payload": {k: {"Value": v} for k, v in payload.items()}}]}  # fmt: skip


def feed(eng: FilterEngine, values: list[float], start: int = 0) -> list[Emit]:
    out: list[Emit] = []
    for i, v in enumerate(values, start):
        out += eng.on_score(score("pump", T0 + i * 10.0, v))
    return out


def by_output(out: list[Emit], output: str) -> list[dict[str, Any]]:
    return [e.data for e in out if e.output == output]


def test_by_default_an_anomaly_is_annotated_with_the_active_alarm_and_still_writes_back() -> None:
    eng = engine()
    eng.on_telemetry(alarm("pump", active=True, severity=700))
    eng.on_telemetry(alarm("pump", active=True, severity=900, condition="HiHiVib"))
    out = feed(eng, [1.5])
    [event] = by_output(out, "anomalies")
    assert [(a["condition"], a["severity"]) for a in event["dcsAlarms"]] == [("HiHiVib", 900), ("HiVib", 700)]
    assert "suppressedBy" not in event
    assert [a["value"] for a in by_output(out, "actions")] == [True]


def test_suppress_holds_the_write_back_of_the_whole_episode_but_the_event_is_sent_and_counted() -> None:
    eng = engine(dcsAlarm="suppress")
    eng.on_telemetry(alarm("pump", active=True))
    opened = feed(eng, [1.5])
    eng.on_telemetry(alarm("pump", active=False))  # the DCS alarm clears before the anomaly does
    closed = feed(eng, [0.1], start=1)
    assert [e["state"] for e in by_output(opened + closed, "anomalies")] == ["open", "close"]
    assert all(e["suppressedBy"] == "dcsAlarm" for e in by_output(opened + closed, "anomalies"))
    assert by_output(opened + closed, "actions") == [], "no close write-back for an open that wrote nothing"
    assert eng.counts["dcs_suppressed_transitions"] == 2 and eng.counts["anomaly_open"] == 1
    assert eng.summarizer.flush()[0].anomalies == 1, "summarised like any other anomaly"


def test_suppress_without_an_alarm_on_that_asset_writes_back_as_usual() -> None:
    eng = engine(dcsAlarm="suppress")
    eng.on_telemetry(alarm("crusher", active=True))
    eng.on_telemetry(alarm("pump", active=True))
    eng.on_telemetry(alarm("pump", active=False))
    out = feed(eng, [1.5])
    assert "dcsAlarms" not in by_output(out, "anomalies")[0]
    assert [a["value"] for a in by_output(out, "actions")] == [True]


def test_ignore_neither_annotates_nor_holds() -> None:
    eng = engine(dcsAlarm="ignore")
    eng.on_telemetry(alarm("pump", active=True))
    out = feed(eng, [1.5])
    assert "dcsAlarms" not in by_output(out, "anomalies")[0] and len(by_output(out, "actions")) == 1


def test_active_alarms_and_held_episodes_survive_a_restart() -> None:
    eng = engine(dcsAlarm="suppress")
    eng.on_telemetry(alarm("pump", active=True))
    feed(eng, [1.5])
    saved = eng.snapshot()
    again = engine(dcsAlarm="suppress")
    again.restore(saved)
    later = engine(dcsAlarm="suppress")
    later.restore(saved)
    assert by_output(feed(again, [0.1], start=1), "actions") == [], "the held episode closes without writing"
    out = feed(later, [1.6, 0.1, 1.7], start=1)
    [reopened] = [e for e in by_output(out, "anomalies") if e["state"] == "open"]
    assert reopened["suppressedBy"] == "dcsAlarm", "the alarm still active after the restart holds a new one"


def test_event_messages_are_not_signal_values_or_data_quality() -> None:
    eng = engine()
    assert eng.on_telemetry(alarm("pump", active=True)) == []
    assert eng.counts["samples"] == 0 and eng.counts["dcs_alarm_events"] == 1 and not eng.dq
    eng.on_telemetry(telemetry("pump", T0, {"Vibration": 1.0}))
    assert eng.counts["samples"] == 1


def test_an_unknown_mode_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match="dcsAlarm"):
        parse_rules({"rules": [{"name": "vib", "dcsAlarm": "mute"}]})


def test_a_rule_can_acknowledge_the_dcs_alarm_with_its_latest_event_id() -> None:
    ack = {"on": ["open"], "target": "pumpHiVibAck", "ackCondition": "HiVib", "reason": "AI agrees: {rule}"}
    eng = engine(actions=[ack])
    first = alarm("pump", active=True)
    first["Messages"][0]["Payload"]["EventId"] = {"Value": "AAEC"}
    latest = alarm("pump", active=True, severity=900)  # the same condition's newer event
    latest["Messages"][0]["Payload"]["EventId"] = {"Value": "AAED"}
    eng.on_telemetry(first)
    eng.on_telemetry(latest)
    [request] = by_output(feed(eng, [1.5]), "actions")
    assert request["target"] == "pumpHiVibAck"
    assert request["value"] == {"eventId": "AAED", "comment": "AI agrees: vib"}


def test_no_active_alarm_of_that_condition_no_acknowledge_request_counted() -> None:
    eng = engine(actions=[{"on": ["open"], "target": "ack", "ackCondition": "LoFlow"}])
    eng.on_telemetry(alarm("pump", active=True))  # HiVib, not LoFlow
    assert by_output(feed(eng, [1.5]), "actions") == [] and eng.counts["action_no_dcs_alarm"] == 1


def test_an_action_takes_exactly_one_of_value_field_or_condition() -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        parse_rules(
            {"rules": [{"name": "v", "actions": [{"target": "t", "value": 1, "ackCondition": "Hi"}]}]}
        )
