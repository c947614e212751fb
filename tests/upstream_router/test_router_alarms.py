"""Plant alarms through the router: one event per alarm, an active severe alarm right after `safety` and never
held by the budget, returns to normal and minor events lower, redelivery deduplicated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ur_factories import anomaly, envelope, summary

from edgeloop_runtime.errors import ContractError
from upstream_router.alarms import alarm_envelopes
from upstream_router.batching import decode
from upstream_router.budget import Budget
from upstream_router.router import Policy, Router
from upstream_router.store import Store

SRC = {"module": "upstream_router", "version": "0"}


def ua_event(
    asset: str = "pump", *, active: bool | None = True, severity: int = 800, **fields: Any
) -> dict[str, Any]:
    """One `ua-event` data set message as opcua_ingest emits it (simple EventFilter field names)."""
    payload: dict[str, Any] = {"SourceName": "Level", "ConditionName": "LevelAlarm", "Severity": severity,
                               "Time": "2027-01-15T08:00:00.000Z", **fields}  # fmt: skip
    if active is not None:
        payload["ActiveState/Id"] = active
    return {
        "DataSetWriterId": asset,
        "MessageType": "ua-event",
        "Payload": {k: {"Value": v} for k, v in payload.items()},
    }


def network(*datasets: dict[str, Any], mid: str = "m1") -> dict[str, Any]:
    return {
        "MessageId": mid,
        "MessageType": "ua-data",
        "PublisherId": "edge1_opcua_ingest",
        "Messages": list(datasets),
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "q.db") as s:
        yield s


def router(store: Store, **policy: Any) -> Router:
    return Router(store, Budget(None), Policy(**policy), source=SRC)


def accept_alarms(r: Router, message: dict[str, Any], now: float = 1.0) -> list[str]:
    return [r.accept("alarms", env, now).cls for env in alarm_envelopes(message, source=SRC, now=now)]


@pytest.mark.parametrize(
    ("dataset", "cls"),
    [
        pytest.param(ua_event(active=True, severity=800), "alarm", id="active-severe"),
        pytest.param(ua_event(active=True, severity=500), "alarm", id="active-at-threshold"),
        pytest.param(ua_event(active=True, severity=300), "event", id="active-minor"),
        pytest.param(ua_event(active=False, severity=800), "event", id="return-to-normal"),
        pytest.param(ua_event(active=None, severity=900), "event", id="plain-event"),
    ],
)
def test_alarm_class_follows_active_state_and_severity(
    store: Store, dataset: dict[str, Any], cls: str
) -> None:
    assert accept_alarms(router(store), network(dataset)) == [cls]


def test_the_severity_threshold_is_a_setting(store: Store) -> None:
    assert accept_alarms(router(store, alarm_min_severity=900), network(ua_event(severity=800))) == ["event"]


def test_alarms_drain_right_after_safety_and_events_after_anomalies(store: Store) -> None:
    r = router(store, upload_blobs=False)
    r.accept("summaries", summary(), 1)
    r.accept("drift", envelope("drift", {"drifted": ["Flow"]}), 1)
    accept_alarms(r, network(ua_event("crusher", active=False), mid="rtn"))
    r.accept("anomalies", anomaly(window=False), 1)
    r.accept("audit", envelope("audit", {"result": "applied"}), 1)
    accept_alarms(r, network(ua_event("pump", severity=900), mid="hi"))
    r.accept("anomalies", anomaly(severity="critical", window=False), 1)
    order = []
    while (enc := r.next_batch(2, flush=True)) is not None:
        order.append(enc.cls)
        r.sent(enc, 2)
    assert order == ["safety", "alarm", "audit", "anomaly", "event", "drift", "summary"]


def test_over_budget_an_active_alarm_goes_and_a_return_to_normal_waits(store: Store) -> None:
    r = Router(store, Budget(3600.0, burst_s=1), Policy(), source=SRC)  # 1 byte/s
    r.budget.spend(10_000, 1)  # spent: nothing budgeted fits now
    accept_alarms(r, network(ua_event("pump", active=False), ua_event("mill", severity=950)))
    enc = r.next_batch(2, flush=True)
    assert enc is not None and enc.cls == "alarm"
    [sent] = decode(enc.payload, enc.content_encoding)
    assert (sent["kind"], sent["data"]["asset"], sent["data"]["severity"]) == ("alarm", "mill", 950)
    r.sent(enc, 2)
    assert r.next_batch(2, flush=True) is None, "the return to normal waits for the budget"
    assert [it.envelope()["data"]["active"] for it in store.pending("event", now=2)] == [False]


def test_a_redelivered_message_stores_each_alarm_once(store: Store) -> None:
    r = router(store)
    message = network(ua_event("pump", EventId="AAEC"), ua_event("mill", severity=100))
    accept_alarms(r, message)
    dup = [r.accept("alarms", env, 5).result.duplicate for env in alarm_envelopes(message, source=SRC, now=5)]
    assert dup == [True, True], "ids come from the EventId, else from the content: never drawn"
    assert store.totals()[0] == 2


def test_values_in_the_same_message_are_skipped_and_a_message_without_events_is_refused() -> None:
    values = {"DataSetWriterId": "pump", "MessageType": "ua-deltaframe", "Payload": {"Flow": {"Value": 1.0}}}
    [env] = alarm_envelopes(network(values, ua_event()), source=SRC, now=1)
    assert env["data"]["fields"]["ConditionName"] == "LevelAlarm" and env["correlationId"] == "m1"
    with pytest.raises(ContractError, match="no `ua-event`"):
        alarm_envelopes(network(values), source=SRC, now=1)
    with pytest.raises(ContractError, match="Messages"):
        alarm_envelopes({"v": 1}, source=SRC, now=1)


def test_stored_messages_take_the_priorities_of_the_running_version(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db") as s:
        s.put("a", "audit", b"{}", now=1)
        s.db.execute("UPDATE messages SET prio = 1")  # audit's rank before `alarm` existed
    with Store(tmp_path / "q.db") as s:
        assert s.db.execute("SELECT prio FROM messages").fetchone()[0] == 2
