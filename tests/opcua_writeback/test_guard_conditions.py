"""Acknowledge / Confirm and multi-argument method targets: values checked like a write's, one call per
decision, audited, against a fake node access (the real servers: test_writeback_conditions_e2e.py,
test_writeback_foreign_server_e2e.py)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from edgeloop_runtime.errors import TransientError
from opcua_writeback.guard import WriteRequest, check_value, parse_request
from opcua_writeback.service import WriteBackService, WriteRefusedError
from opcua_writeback.settings import Settings, TargetSpec
from opcua_writeback.store import SafetyStore

EP = "opc.tcp://127.0.0.1:4840"
EVENT = base64.b64encode(bytes(range(16))).decode()
TARGETS = {
    "ack": {"kind": "acknowledge", "nodeId": "ns=2;s=LevelAlarm", "minIntervalS": 30},
    "confirm": {"kind": "confirm", "nodeId": "ns=2;s=LevelAlarm"},
}
NOW = 1_795_000_000.0


class Access:
    """Records each A&C call; `fail_next` raises instead, once."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, str]] = []
        self.fail_next: Exception | None = None

    async def read(self, endpoint: str, node_id: str) -> Any:
        return None

    async def condition(
        self, endpoint: str, condition_id: str, kind: str, event_id: str, comment: str
    ) -> Any:
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        self.calls.append((condition_id, kind, event_id, comment))
        return []


def settings(**kw: Any) -> Settings:
    return Settings.model_validate({"endpoint": EP, "targets": TARGETS, "retryBackoffS": 0, **kw})


def req(target: str = "ack", value: Any = None, rid: str = "r1") -> WriteRequest:
    value = {"eventId": EVENT, "comment": "seen"} if value is None else value
    return parse_request({"requestId": rid, "target": target, "value": value, "reason": "dcs alarm"})


async def handle(svc: WriteBackService, s: Settings, r: WriteRequest) -> dict[str, Any]:
    decision = await svc.handle(s, r, enabled=True)
    if not decision.repeat:
        svc.sent(r.request_id)
    return decision.audit


def service(tmp_path: Path, access: Access, clock: list[float]) -> WriteBackService:
    return WriteBackService(access, SafetyStore(tmp_path / "state"), clock=lambda: clock[0])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        pytest.param("AAEC", "wrong_type", id="not-an-object"),
        pytest.param({"comment": "x"}, "wrong_type", id="no-event-id"),
        pytest.param({"eventId": "not base64!"}, "wrong_type", id="not-base64"),
        pytest.param(
            {"eventId": base64.b64encode(b"x" * 65).decode()}, "out_of_range", id="event-id-too-long"
        ),
        pytest.param({"eventId": EVENT, "comment": 5}, "wrong_type", id="comment-not-text"),
        pytest.param({"eventId": EVENT, "comment": "x" * 257}, "out_of_range", id="comment-too-long"),
        pytest.param({"eventId": EVENT, "severity": 1}, "wrong_type", id="unknown-key"),
        pytest.param({"eventId": EVENT}, "", id="comment-optional"),
    ],
)
def test_the_value_of_an_acknowledge_is_checked_never_raising(value: Any, code: str) -> None:
    v = check_value(settings().targets["ack"], value)
    assert (v.allowed, v.code) == (code == "", code), v.detail


def test_limits_on_a_condition_target_are_refused_at_configuration() -> None:
    with pytest.raises(ValidationError, match="no min, max "):
        TargetSpec.model_validate({"kind": "acknowledge", "nodeId": "ns=2;s=A", "min": 0, "max": 1})


async def test_one_call_per_decision_audited_and_the_minimum_interval_holds(tmp_path: Path) -> None:
    access, clock = Access(), [NOW]
    svc = service(tmp_path, access, clock)
    s = settings()
    first = await handle(svc, s, req())
    assert first["result"] == "applied" and first["nodeId"] == "ns=2;s=LevelAlarm"
    repeat = await svc.handle(s, req(), enabled=True)  # redelivered: the same audit, no second call
    assert repeat.repeat and repeat.audit == first
    clock[0] += 5
    soon = await handle(svc, s, req(rid="r2"))
    assert soon["result"] == "refused" and soon["reason"].startswith("too_soon")
    assert access.calls == [("ns=2;s=LevelAlarm", "acknowledge", EVENT, "seen")]


async def test_dry_run_decides_and_audits_without_calling(tmp_path: Path) -> None:
    access = Access()
    audit = await handle(service(tmp_path, access, [NOW]), settings(dryRun=True), req("confirm"))
    assert audit["result"] == "dry-run" and access.calls == []


@pytest.mark.parametrize(
    ("error", "result", "reason"),
    [
        pytest.param(WriteRefusedError("BadEventIdUnknown"), "failed", "BadEventIdUnknown", id="refused"),
        pytest.param(TransientError("timeout"), "indeterminate", "not called again", id="answer-lost"),
    ],
)
async def test_a_refusal_fails_and_a_lost_answer_is_indeterminate_never_retried(
    tmp_path: Path, error: Exception, result: str, reason: str
) -> None:
    access = Access()
    access.fail_next = error
    audit = await handle(service(tmp_path, access, [NOW]), settings(), req())
    assert audit["result"] == result and reason in audit["reason"], audit
    assert access.calls == [] and audit["attempts"] == 1


RECIPE = {"kind": "method", "objectId": "ns=2;s=Dcs", "nodeId": "ns=2;s=Dcs.SetRecipe",
          "arguments": {"Setpoint": {"min": 0, "max": 100}, "Mode": {"type": "Int32", "min": 0, "max": 3}}}  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        pytest.param({**RECIPE, "arguments": {"Setpoint": {}}}, "needs min and max", id="argument-without-limits"),
        pytest.param({**RECIPE, "min": 0, "max": 1}, "limits per argument", id="limits-on-the-method"),
        pytest.param({"nodeId": "ns=2;s=V", "min": 0, "max": 1, "arguments": RECIPE["arguments"]}, "for method",
                     id="arguments-on-a-variable"),
    ],
)  # fmt: skip
def test_argument_specs_are_checked_at_configuration(spec: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        TargetSpec.model_validate(spec)


@pytest.mark.parametrize(
    ("value", "code", "detail"),
    [
        pytest.param({"Setpoint": 5.0, "Mode": 2}, "", "", id="ok"),
        pytest.param({"Setpoint": 5.0}, "wrong_type", "missing ['Mode']", id="missing"),
        pytest.param({"Setpoint": 5.0, "Mode": 2, "X": 1}, "wrong_type", "unexpected ['X']", id="extra"),
        pytest.param({"Setpoint": 5.0, "Mode": 2.5}, "wrong_type", "argument 'Mode'", id="fraction-for-int"),
        pytest.param(
            {"Setpoint": 500.0, "Mode": 2}, "out_of_range", "argument 'Setpoint'", id="out-of-range"
        ),
        pytest.param([5.0, 2], "wrong_type", "{name: value}", id="not-by-name"),
    ],
)
def test_each_argument_is_checked_like_a_variable(value: Any, code: str, detail: str) -> None:
    v = check_value(TargetSpec.model_validate(RECIPE), value)
    assert (v.allowed, v.code) == (code == "", code) and detail in v.detail, v.detail
