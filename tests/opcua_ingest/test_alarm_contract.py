"""The shared alarm contract reads opcua_ingest's `ua-event` data set messages, whatever the field names."""

from __future__ import annotations

from edgeloop_runtime.alarms import ActiveAlarms, alarm_from_dataset, alarms_in


def event(writer: str, **fields: object) -> dict[str, object]:
    return {
        "DataSetWriterId": writer,
        "MessageType": "ua-event",
        "Payload": {k: {"Value": v} for k, v in fields.items()},
    }


def test_simple_form_fields_and_advanced_renamings_read_the_same() -> None:
    simple = event(
        "pump", **{"SourceName": "Level", "ConditionName": "Hi", "ActiveState/Id": True, "Severity": 700}
    )
    renamed = event("pump", SourceName="Level", ConditionName="Hi", Active=True, Severity=700)
    assert alarm_from_dataset(simple) == alarm_from_dataset(renamed)
    alarm = alarm_from_dataset(simple)
    assert alarm is not None and (alarm.asset, alarm.active, alarm.severity) == ("pump", True, 700)


def test_value_messages_are_not_alarms() -> None:
    assert alarm_from_dataset({"MessageType": "ua-deltaframe", "Payload": {"Flow": {"Value": 1.0}}}) is None
    assert alarms_in({"Messages": [{"MessageType": "ua-keyframe", "Payload": {}}]}) == []


def test_active_alarms_follow_activation_and_clearing_most_severe_first() -> None:
    tracker = ActiveAlarms()
    for e in (event("pump", SourceName="A", ConditionName="Hi", Active=True, Severity=300),
              event("pump", SourceName="B", ConditionName="Hi", Active=True, Severity=900),
              event("pump", SourceName="X", Message="operator note"),
              event("crusher", SourceName="C", ConditionName="Lo", Active=True)):  # fmt: skip
        alarm = alarm_from_dataset(e)
        assert alarm is not None
        tracker.update(alarm)
    assert [a.source for a in tracker.of("pump")] == ["B", "A"], "plain events are not alarms"
    cleared = alarm_from_dataset(event("pump", SourceName="B", ConditionName="Hi", Active=False))
    assert cleared is not None
    tracker.update(cleared)
    assert [a.source for a in tracker.of("pump")] == ["A"] and len(tracker.of("crusher")) == 1


def test_events_leave_in_a_network_message_of_their_own_marked_for_routes() -> None:
    from opcua_ingest.emission import EVENT_PROPERTIES, split_events

    values = {"DataSetWriterId": "pump", "MessageType": "ua-deltaframe", "Payload": {"Flow": {"Value": 1.0}}}
    alarm = event("pump", SourceName="Level", ConditionName="Hi", Active=True, Severity=700)
    mixed = {"MessageId": "m1", "MessageType": "ua-data", "PublisherId": "p", "Messages": [values, alarm]}
    data, events = split_events(mixed)
    assert data == {**mixed, "Messages": [values]}
    assert events == {**mixed, "MessageId": "m1-events", "Messages": [alarm]}
    assert split_events({**mixed, "Messages": [values]}) == ({**mixed, "Messages": [values]}, None)
    assert split_events({**mixed, "Messages": [alarm]})[0] is None
    assert EVENT_PROPERTIES == {"dataSetMessageType": "ua-event"}


def test_odd_severities_and_field_shapes_read_as_unknown_never_raise() -> None:
    for severity in (float("nan"), float("inf"), True, "high", [1]):
        alarm = alarm_from_dataset(event("pump", SourceName="L", Active=True, Severity=severity))
        assert alarm is not None and alarm.severity is None
    odd = {"DataSetWriterId": "pump", "MessageType": "ua-event", "Payload": {"Severity": 5, "Active": "yes"}}
    alarm = alarm_from_dataset(odd)
    assert alarm is not None and (alarm.severity, alarm.active) == (None, None), "not DataValue objects"


def test_active_alarms_round_trip_through_their_document() -> None:
    tracker = ActiveAlarms()
    alarm = alarm_from_dataset(event("pump", SourceName="L", ConditionName="Hi", Active=True, Severity=700,
                                     EventId="AAEC"))  # fmt: skip
    assert alarm is not None
    tracker.update(alarm)
    again = ActiveAlarms()
    again.load(tracker.to_doc())
    assert again.of("pump") == [alarm]
