"""The chaos checker's definitions, on hand-made evidence: delivered, lost, duplicates, recovery, order."""

from __future__ import annotations

from typing import Any

from edgeloop_dev.chaos.checker import Window, bad_gap, check, drain_order, fault_delivered
from edgeloop_dev.chaos.evidence import Evidence, PlantWrite, UpstreamEvent, parse_upstream
from edgeloop_dev.chaos.truth import InjectedFault, PlantRun, injected_faults
from edgeloop_dev.plant import Fault, fault_schedule

T = 1_800_000_000.0


def _iso(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


def up(
    t: float, id_: str, kind: str = "anomaly", mid: str | None = None, cls: str = "anomaly", **data: Any
) -> UpstreamEvent:
    return UpstreamEvent(
        t=t, message_id=mid or id_, cls=cls, id=id_, kind=kind, ts=data.pop("ts", t), data=data
    )


def fault(
    kind: str = "cavitation", asset: str = "pump", start: float = T + 10, end: float = T + 20
) -> InjectedFault:
    return InjectedFault(Fault("F0001", kind, asset, ("Pump.Flow",), start - T, end - T), start, end)  # type: ignore[arg-type]


def delivered_evidence() -> Evidence:
    ev = Evidence()
    ev.upstream = [up(T + 16, "a1", asset="pump", state="open", sourceTimestamp=_iso(T + 15))]
    ev.writes = [PlantWrite(T + 16, "AI.Pump.AnomalyFlag", True, "Good")]
    return ev


def test_a_fault_is_delivered_with_an_anomaly_upstream_and_a_plant_write() -> None:
    ev = delivered_evidence()
    assert fault_delivered(fault(), ev.upstream, ev) is None


def test_a_fault_without_write_back_or_on_another_asset_is_not_delivered() -> None:
    ev = delivered_evidence()
    ev.writes = []
    assert fault_delivered(fault(), ev.upstream, ev) == "no write-back in the plant"
    ev = delivered_evidence()
    assert (
        fault_delivered(fault(asset="crusher"), ev.upstream, ev)
        == "no anomaly upstream; no write-back in the plant"
    )


def test_bad_status_needs_no_write_back() -> None:
    ev = delivered_evidence()
    ev.writes = []
    assert fault_delivered(fault("bad_status"), ev.upstream, ev) is None


def test_events_the_tap_saw_that_never_reached_upstream_are_lost() -> None:
    ev = delivered_evidence()
    ev.tap = [
        {"t": T + 15, "in": "anomalies", "kind": "anomaly", "id": "a1"},
        {"t": T + 17, "in": "audit", "kind": "audit", "id": "x9"},
        {"t": T + 17, "in": "actions", "kind": "writeRequest", "id": "w1", "requestId": "r1"},
    ]
    ev.upstream.append(up(T + 18, "au1", "audit", cls="audit", requestId="r1", result="applied",
                          nodeId="ns=2;s=AI.Pump.AnomalyFlag", value=True, appliedAt=_iso(T + 16)))  # fmt: skip
    res = check(ev, Window("w", T, T + 5, T + 60), [fault()], {})
    assert res.lost == 1 and "x9" in res.lost_detail[0]
    assert res.faults_injected == res.faults_delivered == 1


def test_plant_writes_without_audit_and_router_drops_of_high_classes_are_lost() -> None:
    ev = delivered_evidence()
    res = check(ev, Window("w", T, T + 5, T + 60), [], {"summary/store_full": 4, "anomaly/store_full": 1})
    assert res.lost == 2
    assert any("plant write AI.Pump.AnomalyFlag" in d for d in res.lost_detail)
    assert any("anomaly/store_full" in d for d in res.lost_detail)


def test_a_plant_write_audited_indeterminate_after_a_kill_is_not_lost() -> None:
    # kill -9 between the write and its recorded outcome: at restart the writer audits it indeterminate
    ev = delivered_evidence()
    ev.upstream.append(up(T + 19, "au1", "audit", cls="audit", requestId="r1", result="indeterminate",
                          nodeId="ns=2;s=AI.Pump.AnomalyFlag", value=True, appliedAt=None))  # fmt: skip
    assert check(ev, Window("w", T, T + 5, T + 60), [], {}).lost == 0


def test_a_plant_write_whose_only_audit_says_refused_is_lost() -> None:
    ev = delivered_evidence()
    ev.upstream.append(up(T + 19, "au1", "audit", cls="audit", requestId="r1", result="refused",
                          nodeId="ns=2;s=AI.Pump.AnomalyFlag", value=True, appliedAt=None))  # fmt: skip
    res = check(ev, Window("w", T, T + 5, T + 60), [], {})
    assert res.lost_detail == [
        "plant write AI.Pump.AnomalyFlag=True at 1800000016.0 has no applied/indeterminate audit upstream"
    ]


def test_duplicates_are_bad_only_under_another_message_id() -> None:
    ev = Evidence()
    ev.upstream = [up(T + 1, "e1", mid="m1"), up(T + 2, "e1", mid="m1"), up(T + 3, "e1", mid="m2")]
    res = check(ev, Window("w", T, T, T + 10), [], {})
    assert (res.duplicates, res.bad_duplicates) == (2, 1)


def test_recovery_is_the_slowest_of_telemetry_scores_and_upstream() -> None:
    ev = Evidence()
    ev.tap = [
        {"t": T + 11, "in": "telemetry", "bad": ["pump/Flow:BadNoCommunication"]},
        {"t": T + 12, "in": "telemetry"},
        {"t": T + 13, "in": "scores"},
    ]
    ev.upstream_times = [T + 9, T + 17]
    res = check(ev, Window("w", T, T + 10, T + 60), [], {})
    assert (res.telemetry_s, res.scores_s, res.upstream_s, res.recovery_s) == (2.0, 3.0, 7.0, 7.0)
    assert bad_gap(ev, T, T + 20) == ["pump/Flow:BadNoCommunication"]


def test_drain_order_follows_class_priority() -> None:
    ev = Evidence()
    ev.upstream = [
        up(T + 11, "s1", cls="safety", ts=T + 2),
        up(T + 12, "a1", cls="anomaly", ts=T + 3),
        up(T + 13, "n1", "summary", cls="summary", ts=T + 4),
        up(T + 14, "s2", cls="safety", ts=T + 13),  # new after the link came back: not backlog
    ]
    assert drain_order(ev, T + 10, T + 60) == (True, ["safety", "anomaly", "summary"])
    ev.upstream.append(up(T + 15, "a2", cls="audit", ts=T + 5))
    assert drain_order(ev, T + 10, T + 60)[0] is False


def test_an_event_made_as_the_link_came_back_is_not_backlog() -> None:
    ev = Evidence()
    ev.upstream = [
        up(T + 11, "a1", cls="anomaly", ts=T + 3),
        up(T + 12, "s1", cls="safety", ts=T + 9.8),  # still on its way to the router's store at T + 10
    ]
    assert drain_order(ev, T + 10, T + 60) == (True, ["anomaly"])


def test_ground_truth_restarts_with_each_plant_run_and_drops_cut_faults() -> None:
    first = fault_schedule(35, "demo").faults[0]
    runs = [PlantRun(T, T + first.start_s + 1), PlantRun(T + 100)]
    faults = injected_faults(35, runs, T + 100 + first.end_s + 1)
    assert [f.start for f in faults] == [T + 100 + first.start_s]


def test_an_upstream_line_is_parsed_with_its_message_id_and_class() -> None:
    line = {
        "event": {
            "payload": {"v": 1, "kind": "audit", "id": "e1", "ts": _iso(T), "data": {"requestId": "r"}},
            "properties": {"system": {"message_id": "e1"}, "application": {"class": "audit"}},
            "annotations": {"iothub-enqueuedtime": int((T + 1) * 1000)},
        }
    }
    t, events = parse_upstream(line)
    assert t == T + 1 and events[0].cls == "audit" and events[0].ts == T and events[0].message_id == "e1"


def episode(
    t: float, mid: str, event: str, state: str, start: float, end: float | None = None
) -> UpstreamEvent:
    data = {"asset": "pump", "anomalyKind": "vib", "eventId": event, "state": state, "severity": "warning"}
    return up(t, mid, **data, start=_iso(start), end=_iso(end) if end is not None else None)


def test_an_episode_opened_while_another_never_closed_is_a_decision_made_twice() -> None:
    from edgeloop_dev.chaos.scenarios import reopened_episodes

    ev = Evidence()
    ev.upstream = [episode(T + 1, "m1", "e1", "open", T), episode(T + 5, "m2", "e2", "open", T + 4)]
    assert reopened_episodes(ev) == ["pump/vib: e2 opened while e1 was open"]


def test_a_close_that_overtakes_its_open_upstream_is_not_a_reopen() -> None:
    from edgeloop_dev.chaos.scenarios import reopened_episodes

    ev = Evidence()  # the open waited for its evidence upload; the close did not
    ev.upstream = [
        episode(T + 3, "m2", "e1", "close", T, T + 2),
        episode(T + 9, "m1", "e1", "open", T),
        episode(T + 10, "m3", "e2", "open", T + 5),
    ]
    assert reopened_episodes(ev) == []


def test_the_same_event_resent_under_its_own_envelope_id_is_fine_but_not_under_another() -> None:
    from edgeloop_dev.chaos.scenarios import reopened_episodes

    ok, bad = Evidence(), Evidence()
    ok.upstream = [episode(T + 1, "m1", "e1", "open", T), episode(T + 2, "m1", "e1", "open", T)]
    bad.upstream = [episode(T + 1, "m1", "e1", "open", T), episode(T + 2, "m9", "e1", "open", T)]
    assert reopened_episodes(ok) == []
    assert reopened_episodes(bad) == ["event e1 open sent under two envelope ids"]
