"""Fuzzed plant alarm messages: the router's alarm intake, the filter's DCS context and the writeback's
condition and argument checks raise only their contract errors, whatever arrives."""

from __future__ import annotations

import json
from typing import Any

from fuzz_harness import CASES
from fuzz_profiles import fuzz_settings
from fuzz_strategies import any_json, mutated
from hypothesis import given
from hypothesis import strategies as st

from anomaly_filter.engine import FilterEngine
from anomaly_filter.rules import parse_rules
from edgeloop_runtime import ContractError
from opcua_writeback.guard import check_value
from opcua_writeback.settings import TargetSpec
from upstream_router.alarms import alarm_envelopes

_EVENT = {"DataSetWriterId": "pump", "MessageType": "ua-event", "Payload": {
    "EventId": {"Value": "AAEC"}, "SourceName": {"Value": "Level"}, "ConditionName": {"Value": "Hi"},
    "ActiveState/Id": {"Value": True}, "Severity": {"Value": 700}, "Time": {"Value": "2027-01-15T08:00:00Z"}}}  # fmt: skip
_MESSAGE = {"MessageId": "m1", "MessageType": "ua-data", "PublisherId": "edge", "Messages": [_EVENT]}
alarm_docs = st.one_of(mutated(st.just(_MESSAGE), 4), any_json)
_RULES = {"rules": [{"name": "vib", "dcsAlarm": "suppress",
                     "actions": [{"target": "ack", "ackCondition": "Hi"}]}]}  # fmt: skip


@fuzz_settings(2)
@given(doc=alarm_docs)
def test_router_alarm_intake_raises_only_contract_error(doc: Any) -> None:
    CASES["decoder upstream_router alarm_envelopes"] += 1
    try:
        envelopes = alarm_envelopes(doc, source={"module": "fuzz", "version": "0"}, now=1000.0)
    except ContractError:
        return
    for env in envelopes:
        assert isinstance(env["id"], str) and env["kind"] == "alarm"
        json.dumps(env)


@fuzz_settings(2)
@given(doc=alarm_docs)
def test_filter_dcs_context_raises_only_contract_error(doc: Any) -> None:
    CASES["decoder anomaly_filter on_telemetry (events)"] += 1
    engine = FilterEngine(parse_rules(_RULES))
    try:
        engine.on_telemetry(doc)
    except ContractError:
        return
    engine.load(json.loads(json.dumps(engine.snapshot())))


@fuzz_settings(2)
@given(value=st.one_of(any_json, mutated(st.just({"eventId": "AAEC", "comment": "x"}), 3)))
def test_condition_and_argument_values_are_verdicts_never_exceptions(value: Any) -> None:
    CASES["decoder opcua_writeback check_value (conditions, arguments)"] += 1
    for spec in (
        TargetSpec.model_validate({"kind": "acknowledge", "nodeId": "ns=2;s=A"}),
        TargetSpec.model_validate({"kind": "method", "objectId": "ns=2;s=O", "nodeId": "ns=2;s=M",
                                   "arguments": {"A": {"min": 0, "max": 1}, "B": {"type": "String"}}}),
    ):  # fmt: skip
        verdict = check_value(spec, value)
        assert verdict.allowed or verdict.code in ("wrong_type", "out_of_range")
