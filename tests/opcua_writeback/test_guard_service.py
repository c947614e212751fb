"""Write guard and write-back orchestration against a fake node access (the adapter seam)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from edgeloop_runtime.errors import ConfigError, TransientError
from opcua_writeback.config import Settings, TargetSpec
from opcua_writeback.guard import WriteGuard, WriteRequest, check_value, parse_request
from opcua_writeback.service import WriteBackService, WriteRefusedError

EP = "opc.tcp://127.0.0.1:4840"
TARGETS = {
    "pumpSpeed": {"nodeId": "ns=2;s=Pump.SpeedSetpoint", "min": 600, "max": 1500, "maxRatePerS": 10,
                  "minIntervalS": 5},
    "advisory": {"nodeId": "ns=2;s=AI.Advisory", "type": "String"},
    "flag": {"nodeId": "ns=2;s=AI.Pump.AnomalyFlag", "type": "Boolean"},
    "count": {"nodeId": "ns=2;s=C", "type": "Int32", "min": 0, "max": 10},
}  # fmt: skip


def settings(**kw: Any) -> Settings:
    return Settings.model_validate({"endpoint": EP, "targets": TARGETS, "retryBackoffS": 0, **kw})


def req(target: str = "pumpSpeed", value: Any = 1150.0, rid: str = "r1") -> WriteRequest:
    return parse_request({"requestId": rid, "target": target, "value": value, "reason": "bearing wear",
                          "sourceTimestamp": "2026-11-22T10:00:00.000Z"})  # fmt: skip


class FakeAccess:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {"ns=2;s=Pump.SpeedSetpoint": 1100.0}
        self.writes: list[tuple[str, Any, str]] = []
        self.fail_next: list[Exception] = []
        self.corrupt = False

    async def read(self, endpoint: str, node_id: str) -> Any:
        return self.values.get(node_id)

    async def write(self, endpoint: str, node_id: str, value: Any, vtype: str) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.writes.append((node_id, value, vtype))
        self.values[node_id] = "garbage" if self.corrupt else value


@pytest.mark.parametrize(
    ("target", "value", "code"),
    [
        pytest.param("pumpSpeed", 1501.0, "out_of_range", id="above-max"),
        pytest.param("pumpSpeed", 599.9, "out_of_range", id="below-min"),
        pytest.param("pumpSpeed", "fast", "wrong_type", id="string-for-double"),
        pytest.param("pumpSpeed", True, "wrong_type", id="bool-for-double"),
        pytest.param("pumpSpeed", float("nan"), "out_of_range", id="nan"),
        pytest.param("count", 2.5, "wrong_type", id="fraction-for-int"),
        pytest.param("count", 11, "out_of_range", id="int-above-max"),
        pytest.param("flag", 1, "wrong_type", id="int-for-bool"),
        pytest.param("advisory", "x" * 300, "out_of_range", id="string-too-long"),
    ],
)
def test_values_outside_type_or_limits_are_refused_not_clamped(target: str, value: Any, code: str) -> None:
    v = check_value(settings().targets[target], value)
    assert (v.allowed, v.code) == (False, code)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param([], id="not-object"),
        pytest.param({"target": "x", "value": 1}, id="no-request-id"),
        pytest.param({"requestId": "r", "target": 5, "value": 1}, id="target-not-string"),
        pytest.param({"requestId": "r", "target": "x"}, id="no-value"),
        pytest.param({"requestId": "r", "target": "x", "value": 1, "reason": 3}, id="reason-not-string"),
    ],
)
def test_malformed_requests(data: Any) -> None:
    with pytest.raises(ValueError):
        parse_request(data)


def test_settings_validation() -> None:
    with pytest.raises(ValidationError, match="min and max"):
        TargetSpec.model_validate({"nodeId": "ns=2;s=X"})
    with pytest.raises(ValidationError, match="no endpoint"):
        Settings.model_validate({"targets": {"a": {"nodeId": "ns=2;s=X", "type": "String"}}})
    assert issubclass(ConfigError, Exception)  # the runtime maps ValidationError to ConfigError on patches


def test_guard_interval_and_rate() -> None:
    g = WriteGuard(rate_window_s=60)
    t = settings().targets
    ok = g.check(enabled=True, targets=t, request=req(value=1200.0), now=100.0, current=1100.0)
    assert ok.allowed
    g.applied("pumpSpeed", 1200.0, 100.0)
    assert (
        g.check(enabled=True, targets=t, request=req(value=1210.0), now=103.0, current=1200.0).code
        == "too_soon"
    )
    assert g.check(enabled=True, targets=t, request=req(value=1300.0), now=106.0, current=1200.0).code == (
        "rate_of_change"
    ), "100 in 6 s > 10/s"
    assert g.check(enabled=True, targets=t, request=req(value=1250.0), now=106.0, current=1200.0).allowed
    assert g.check(enabled=True, targets=t, request=req("nope"), now=106.0).code == "not_allowed"
    assert g.check(enabled=False, targets=t, request=req(), now=106.0).code == "disabled"


async def test_applied_write_is_verified_and_audited() -> None:
    access = FakeAccess()
    audit = await WriteBackService(access).handle(settings(), req())
    assert access.writes == [("ns=2;s=Pump.SpeedSetpoint", 1150.0, "Double")]
    assert audit["result"] == "applied" and audit["readBack"] == 1150.0 and audit["attempts"] == 1
    assert audit["nodeId"] == "ns=2;s=Pump.SpeedSetpoint" and audit["appliedAt"].endswith("Z")
    assert audit["sourceTimestamp"] == "2026-11-22T10:00:00.000Z" and audit["requestId"] == "r1"


@pytest.mark.parametrize(
    ("overrides", "request_", "result", "reason"),
    [
        pytest.param({}, req("unknown"), "refused", "not_allowed", id="off-list"),
        pytest.param({}, req(value=2000.0), "refused", "out_of_range", id="out-of-range"),
        pytest.param(
            {"rateWindowS": 10}, req(value=900.0), "refused", "rate_of_change", id="too-fast-change"
        ),
        pytest.param({"enabled": False}, req(), "refused", "disabled", id="disabled"),
        pytest.param({"dryRun": True}, req(), "dry-run", "would write 1150.0", id="dry-run"),
    ],
)
async def test_nothing_is_written_when_refused_or_dry_run(
    overrides: dict[str, Any], request_: WriteRequest, result: str, reason: str
) -> None:
    access = FakeAccess()
    audit = await WriteBackService(access).handle(settings(**overrides), request_)
    assert access.writes == []
    assert audit["result"] == result and reason in audit["reason"]


async def test_second_write_too_soon_is_refused() -> None:
    access = FakeAccess()
    svc = WriteBackService(access)
    assert (await svc.handle(settings(), req(value=1120.0)))["result"] == "applied"
    second = await svc.handle(settings(), req(value=1125.0, rid="r2"))
    assert second["result"] == "refused" and second["reason"].startswith("too_soon")
    assert len(access.writes) == 1


async def test_redelivered_request_gets_its_first_audit_and_is_not_written_again() -> None:
    access = FakeAccess()
    svc = WriteBackService(access)
    first = await svc.handle(settings(), req(value=1120.0))
    again = await svc.handle(settings(), req(value=1120.0))  # edgeHub delivered it again (same id)
    assert again == first and first["result"] == "applied"
    assert len(access.writes) == 1 and svc.duplicates == 1


async def test_transient_failures_are_retried_then_given_up() -> None:
    access = FakeAccess()
    access.fail_next = [TransientError("timeout")]
    audit = await WriteBackService(access).handle(settings(), req())
    assert audit["result"] == "applied" and audit["attempts"] == 2
    access2 = FakeAccess()
    access2.fail_next = [TransientError("down")] * 3
    audit2 = await WriteBackService(access2).handle(settings(), req())
    assert audit2["result"] == "failed" and audit2["attempts"] == 3 and "gave up" in audit2["reason"]


async def test_bad_status_is_not_retried_and_a_wrong_read_back_fails() -> None:
    access = FakeAccess()
    access.fail_next = [WriteRefusedError("BadTypeMismatch")]
    audit = await WriteBackService(access).handle(settings(), req())
    assert (audit["result"], audit["attempts"]) == ("failed", 1) and "BadTypeMismatch" in audit["reason"]
    access.corrupt = True
    audit = await WriteBackService(access).handle(settings(), req())
    assert audit["result"] == "failed" and "read-back" in audit["reason"]
