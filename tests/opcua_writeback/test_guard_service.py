"""Write guard and write-back orchestration against a fake node access (the adapter seam)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from edgeloop_runtime.errors import ConfigError, TransientError
from opcua_writeback.app import heartbeat_due, heartbeat_value
from opcua_writeback.guard import WriteGuard, WriteRequest, check_value, coerce, parse_request
from opcua_writeback.records import bounded
from opcua_writeback.service import NotSentError, WriteBackService, WriteRefusedError
from opcua_writeback.settings import Settings, TargetSpec
from opcua_writeback.store import Operator, SafetyStore

EP = "opc.tcp://127.0.0.1:4840"
TARGETS = {
    "pumpSpeed": {"nodeId": "ns=2;s=Pump.SpeedSetpoint", "min": 600, "max": 1500, "maxRatePerS": 10,
                  "minIntervalS": 5},
    "advisory": {"nodeId": "ns=2;s=AI.Advisory", "type": "String"},
    "flag": {"nodeId": "ns=2;s=AI.Pump.AnomalyFlag", "type": "Boolean"},
    "count": {"nodeId": "ns=2;s=C", "type": "Int32", "min": 0, "max": 10},
    "slow": {"nodeId": "ns=2;s=Slow", "min": 0, "max": 100, "maxRatePerS": 0.5},
    "rare": {"nodeId": "ns=2;s=Rare", "min": 0, "max": 100, "minIntervalS": 30},
    "setFlow": {"kind": "method", "objectId": "ns=2;s=Dcs", "nodeId": "ns=2;s=Dcs.SetFlow", "min": 0,
                "max": 100, "maxRatePerS": 5, "readNodeId": "ns=2;s=Slow", "minIntervalS": 10},
}  # fmt: skip
NOW = 1_795_000_000.0  # wall clock of the fake clock (2026-11-18)


def settings(**kw: Any) -> Settings:
    return Settings.model_validate({"endpoint": EP, "targets": TARGETS, "retryBackoffS": 0, **kw})


def req(target: str = "pumpSpeed", value: Any = 1150.0, rid: str = "r1", **extra: Any) -> WriteRequest:
    return parse_request({"requestId": rid, "target": target, "value": value, "reason": "bearing wear",
                          "sourceTimestamp": "2026-11-22T10:00:00.000Z", **extra})  # fmt: skip


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class FakeAccess:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {"ns=2;s=Pump.SpeedSetpoint": 1100.0, "ns=2;s=Slow": 10.0}
        self.writes: list[tuple[str, Any, str]] = []
        self.fail_next: list[Exception] = []
        self.corrupt = False
        self.unreadable: set[str] = set()

    async def read(self, endpoint: str, node_id: str) -> Any:
        if node_id in self.unreadable:
            raise TransientError("read timed out")
        return self.values.get(node_id)

    async def write(self, endpoint: str, node_id: str, value: Any, vtype: str) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.writes.append((node_id, value, vtype))
        self.values[node_id] = "garbage" if self.corrupt else value

    async def call(self, endpoint: str, object_id: str, method_id: str, value: Any, vtype: str) -> Any:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.writes.append((f"{object_id}.{method_id}", value, vtype))
        return "ok"


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


def test_guard_interval_and_rate_measured_from_the_last_write() -> None:
    g = WriteGuard(rate_window_s=60)
    t = settings().targets
    first = g.check(enabled=True, targets=t, request=req(value=1200.0), now=100.0, current=1100.0)
    assert first.code == "rate_of_change", "a first write may move 10/s x 1 s from the server's value"
    assert g.check(enabled=True, targets=t, request=req(value=1110.0), now=100.0, current=1100.0).allowed
    g.applied("pumpSpeed", 1110.0, 100.0)
    assert (
        g.check(enabled=True, targets=t, request=req(value=1115.0), now=103.0, current=1110.0).code
        == "too_soon"
    )
    assert g.check(enabled=True, targets=t, request=req(value=1200.0), now=106.0, current=1110.0).code == (
        "rate_of_change"
    ), "90 in 6 s > 10/s"
    assert g.check(enabled=True, targets=t, request=req(value=1170.0), now=106.0, current=1110.0).allowed
    assert g.check(enabled=True, targets=t, request=req("nope"), now=106.0).code == "not_allowed"
    assert g.check(enabled=False, targets=t, request=req(), now=106.0).code == "disabled"


@pytest.mark.parametrize(
    ("value", "allowed", "code"),
    [
        pytest.param(10**400, False, "out_of_range", id="400-digit-int"),
        pytest.param(-(10**400), False, "out_of_range", id="400-digit-negative"),
        pytest.param(8.5, False, "wrong_type", id="fraction"),
        pytest.param(8.0, True, "", id="integral-float-accepted"),
        pytest.param(float("inf"), False, "out_of_range", id="inf"),
    ],
)
def test_int32_values_are_checked_without_raising(value: Any, allowed: bool, code: str) -> None:
    v = check_value(settings().targets["count"], value)
    assert (v.allowed, v.code) == (allowed, code)
    assert len(v.detail) < 200, "a huge value is cut in the reason"


def test_an_integral_float_is_written_as_an_integer() -> None:
    spec = settings().targets["count"]
    assert coerce(spec, 8.0) == 8 and type(coerce(spec, 8.0)) is int


def store(tmp_path: Path, **kw: Any) -> SafetyStore:
    return SafetyStore(tmp_path / "state", **kw)


def service(tmp_path: Path, access: Any, clock: Clock | None = None, **kw: Any) -> WriteBackService:
    return WriteBackService(access, store(tmp_path), clock=clock or Clock(), **kw)


async def handle(svc: WriteBackService, s: Settings, r: WriteRequest, enabled: bool = True) -> dict[str, Any]:
    decision = await svc.handle(s, r, enabled=enabled)
    if not decision.repeat:
        svc.sent(r.request_id)
    return decision.audit


async def test_applied_write_is_verified_and_audited(tmp_path: Path) -> None:
    access = FakeAccess()
    audit = await handle(service(tmp_path, access), settings(), req(value=1105.0))
    assert access.writes == [("ns=2;s=Pump.SpeedSetpoint", 1105.0, "Double")]
    assert audit["result"] == "applied" and audit["readBack"] == 1105.0 and audit["attempts"] == 1
    assert audit["nodeId"] == "ns=2;s=Pump.SpeedSetpoint" and audit["appliedAt"].endswith("Z")
    assert audit["sourceTimestamp"] == "2026-11-22T10:00:00.000Z" and audit["requestId"] == "r1"


@pytest.mark.parametrize(
    ("overrides", "request_", "result", "reason"),
    [
        pytest.param({}, req("unknown"), "refused", "not_allowed", id="off-list"),
        pytest.param({}, req(value=2000.0), "refused", "out_of_range", id="out-of-range"),
        pytest.param({}, req(value=1150.0), "refused", "rate_of_change", id="first-write-too-big"),
        pytest.param({}, req("count", 8.5), "refused", "wrong_type", id="int-given-fraction"),
        pytest.param({}, req("count", 10**400), "refused", "out_of_range", id="400-digit-int"),
        pytest.param({}, req(value=float("nan")), "refused", "out_of_range", id="nan"),
        pytest.param({"maxAgeS": 60}, req(value=1105.0), "refused", "stale", id="stale"),
        pytest.param(
            {"maxAgeS": 60},
            req(value=1105.0, sourceTimestamp="x"),
            "refused",
            "stale",
            id="unparseable-source-time",
        ),
        pytest.param({"dryRun": True}, req(value=1105.0), "dry-run", "would write 1105.0", id="dry-run"),
    ],
)
async def test_nothing_is_written_when_refused_or_dry_run(
    tmp_path: Path, overrides: dict[str, Any], request_: WriteRequest, result: str, reason: str
) -> None:
    access = FakeAccess()
    audit = await handle(service(tmp_path, access), settings(**overrides), request_)
    assert access.writes == []
    assert audit["result"] == result and reason in audit["reason"], audit["reason"]


async def test_disabled_is_refused(tmp_path: Path) -> None:
    access = FakeAccess()
    audit = await handle(service(tmp_path, access), settings(), req(value=1105.0), enabled=False)
    assert access.writes == [] and audit["reason"].startswith("disabled")


async def test_age_is_measured_from_the_source_timestamp_else_the_envelope_time(tmp_path: Path) -> None:
    access = FakeAccess()
    clock = Clock()
    svc = service(tmp_path, access, clock)
    s = settings(maxAgeS=60)
    fresh = iso(NOW - 20)
    ok = await svc.handle(s, req(value=1105.0, rid="a", sourceTimestamp=fresh), enabled=True)
    assert ok.audit["result"] == "applied"
    no_source = parse_request({"requestId": "b", "target": "advisory", "value": "hi"})
    old_env = await svc.handle(s, no_source, enabled=True, envelope_ts=iso(NOW - 61))
    assert old_env.audit["result"] == "refused" and "envelope's ts" in old_env.audit["reason"]
    no_source2 = parse_request({"requestId": "c", "target": "advisory", "value": "hi"})
    new_env = await svc.handle(s, no_source2, enabled=True, envelope_ts=fresh)
    assert new_env.audit["result"] == "applied"


async def test_25_units_at_once_with_max_rate_half_per_second_is_refused(tmp_path: Path) -> None:
    access = FakeAccess()
    audit = await handle(service(tmp_path, access), settings(), req("slow", 35.0))
    assert audit["result"] == "refused" and audit["reason"].startswith("rate_of_change")
    assert access.writes == [], "the first write after a start is bounded too (from the server's value)"


async def test_eight_steps_of_half_a_unit_every_quarter_second_are_mostly_refused(tmp_path: Path) -> None:
    access = FakeAccess()
    clock = Clock()
    svc = service(tmp_path, access, clock)
    results = []
    for i in range(8):
        audit = await handle(svc, settings(), req("slow", 10.0 + 0.5 * (i + 1), rid=f"s{i}"))
        results.append(audit["result"])
        clock.now += 0.25
    assert results.count("applied") <= 2, results  # 0.5/s over 2 s allows about one half-unit step
    written = [v for _, v, _ in access.writes]
    assert all(abs(b - a) <= 0.5 for a, b in zip([10.0, *written], written, strict=False))


async def test_history_interval_and_duplicates_survive_a_restart(tmp_path: Path) -> None:
    access = FakeAccess()
    clock = Clock()
    first = service(tmp_path, access, clock)
    applied = await handle(first, settings(), req("rare", 50.0, rid="x1"))
    assert applied["result"] == "applied"
    first.store.close()
    clock.now += 10
    again = service(tmp_path, access, clock)  # the module restarted (new process, same volume)
    repeat = await again.handle(settings(), req("rare", 50.0, rid="x1"), enabled=True)
    assert repeat.repeat and repeat.audit == applied, "a redelivered request is answered with its first audit"
    too_soon = await handle(again, settings(), req("rare", 51.0, rid="x2"))
    assert too_soon["result"] == "refused" and too_soon["reason"].startswith("too_soon")
    assert len(access.writes) == 1


async def test_a_write_without_a_recorded_outcome_is_audited_indeterminate_never_rewritten(
    tmp_path: Path,
) -> None:
    class Crash(Exception):
        pass

    def crash(at: str) -> None:
        if at == "after-write":
            raise Crash(at)

    access = FakeAccess()
    svc = service(tmp_path, access, crash_point=crash)
    with pytest.raises(Crash):
        await svc.handle(settings(), req(value=1105.0, rid="k1"), enabled=True)
    assert len(access.writes) == 1
    svc.store.close()
    restarted = service(tmp_path, access)
    [entry] = restarted.store.unsent()
    audit = restarted.recover(entry.key, entry.phase, entry.audit)
    assert audit["result"] == "indeterminate" and audit["requestId"] == "k1"
    again = await restarted.handle(settings(), req(value=1105.0, rid="k1"), enabled=True)
    assert again.audit == audit and not again.repeat, "not sent yet: the same audit, to be sent once"
    restarted.sent("k1")
    assert restarted.store.unsent() == [] and len(access.writes) == 1


async def test_an_outcome_recorded_before_a_crash_is_audited_as_recorded(tmp_path: Path) -> None:
    class Crash(Exception):
        pass

    def crash(at: str) -> None:
        if at == "after-outcome":
            raise Crash(at)

    access = FakeAccess()
    with pytest.raises(Crash):
        await service(tmp_path, access, crash_point=crash).handle(settings(), req(value=1105.0), enabled=True)
    [entry] = store(tmp_path).unsent()
    assert entry.phase == "decided" and entry.audit["result"] == "applied"


async def test_permissive_must_read_exactly_true(tmp_path: Path) -> None:
    access = FakeAccess()
    svc = service(tmp_path, access)
    s = settings(permissiveNodeId="ns=2;s=Dcs.Permit")
    results = {}
    for rid, permit in [("p-missing", None), ("p-false", False), ("p-one", 1), ("p-unreadable", True)]:
        access.values["ns=2;s=Dcs.Permit"] = permit
        access.unreadable = {"ns=2;s=Dcs.Permit"} if rid == "p-unreadable" else set()
        results[rid] = await handle(svc, s, req("advisory", "hi", rid=rid))
    assert all(a["result"] == "refused" and a["reason"].startswith("not_permitted") for a in results.values())
    assert access.writes == []
    access.unreadable = set()
    access.values["ns=2;s=Dcs.Permit"] = True
    assert (await handle(svc, s, req("advisory", "hi", rid="p-true")))["result"] == "applied"


async def test_audits_of_huge_values_stay_small(tmp_path: Path) -> None:
    access = FakeAccess()
    audit = await handle(service(tmp_path, access), settings(), req("advisory", "x" * 300_000))
    body = json.dumps(audit)
    assert audit["result"] == "refused" and len(body) < 4096
    assert audit["value"]["truncated"] is True and len(audit["value"]["sha256"]) == 64
    assert bounded(10**400) == str(10**400) and bounded(float("nan")) == "nan"


async def test_a_write_never_sent_is_retried_then_given_up(tmp_path: Path) -> None:
    access = FakeAccess()
    access.fail_next = [NotSentError("connect refused")]
    audit = await handle(service(tmp_path, access), settings(), req(value=1105.0))
    assert audit["result"] == "applied" and audit["attempts"] == 2
    access2 = FakeAccess()
    access2.fail_next = [NotSentError("down")] * 3
    audit2 = await handle(service(tmp_path / "b", access2), settings(), req(value=1105.0))
    assert audit2["result"] == "failed" and audit2["attempts"] == 3 and "gave up" in audit2["reason"]


async def test_a_write_whose_answer_was_lost_is_settled_by_read_back_not_resent(tmp_path: Path) -> None:
    access = FakeAccess()
    access.fail_next = [TransientError("timeout")]
    audit = await handle(service(tmp_path, access), settings(), req(value=1105.0))
    assert audit["result"] == "indeterminate" and audit["attempts"] == 1 and access.writes == []


async def test_bad_status_is_not_retried_and_a_wrong_read_back_fails(tmp_path: Path) -> None:
    access = FakeAccess()
    access.fail_next = [WriteRefusedError("BadTypeMismatch")]
    audit = await handle(service(tmp_path, access), settings(), req(value=1105.0))
    assert (audit["result"], audit["attempts"]) == ("failed", 1) and "BadTypeMismatch" in audit["reason"]
    access.corrupt = True
    audit = await handle(service(tmp_path / "b", access), settings(), req(value=1105.0, rid="r2"))
    assert audit["result"] == "failed" and "read-back" in audit["reason"]


def test_operator_switch_and_window_are_durable_and_pruned(tmp_path: Path) -> None:
    st = store(tmp_path, window_s=3600)
    st.set_operator(Operator(False, True))
    st.begin("old", "decided", {"result": "refused"}, now=NOW - 7200)
    st.mark_sent("old")
    st.begin("new", "decided", {"result": "refused"}, now=NOW - 60)
    st.mark_sent("new")
    st.begin("unsent", "decided", {"result": "refused"}, now=NOW - 7200)
    st.close()
    again = store(tmp_path, window_s=3600)
    assert again.operator() == Operator(False, True)
    assert again.prune(NOW) == (1, 0)
    assert again.entry("old") is None and again.entry("new") is not None
    assert again.entry("unsent") is not None, "an audit not yet sent is never pruned"


async def test_no_write_without_its_intent_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    access = FakeAccess()
    svc = service(tmp_path, access)

    def full(*args: Any, **kwargs: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(svc.store, "begin", full)
    audit = await handle(svc, settings(), req(value=1105.0))
    assert audit["result"] == "refused" and audit["reason"].startswith("safety_state"), audit
    assert access.writes == []


async def test_a_method_target_is_called_under_the_same_guards(tmp_path: Path) -> None:
    access = FakeAccess()
    clock = Clock()
    svc = service(tmp_path, access, clock)
    jump = await handle(svc, settings(), req("setFlow", 30.0, rid="m0"))  # 20 from the read node's 10 at 5/s
    assert jump["result"] == "refused" and jump["reason"].startswith("rate_of_change")
    called = await handle(svc, settings(), req("setFlow", 14.0, rid="m1"))
    assert called["result"] == "applied" and called["readBack"] == "ok", called
    soon = await handle(svc, settings(), req("setFlow", 15.0, rid="m2"))
    assert soon["reason"].startswith("too_soon")
    assert access.writes == [("ns=2;s=Dcs.ns=2;s=Dcs.SetFlow", 14.0, "Double")]


async def test_a_method_call_without_an_answer_is_indeterminate_and_not_called_again(tmp_path: Path) -> None:
    access = FakeAccess()
    access.fail_next = [TransientError("timeout")]
    audit = await handle(service(tmp_path, access), settings(), req("setFlow", 12.0))
    assert (audit["result"], audit["attempts"]) == ("indeterminate", 1) and access.fail_next == []


def test_a_method_target_needs_its_object_and_a_measure_for_rate() -> None:
    with pytest.raises(ValidationError, match="objectId"):
        TargetSpec.model_validate({"kind": "method", "nodeId": "ns=2;s=M", "type": "String"})
    with pytest.raises(ValidationError, match="readNodeId"):
        TargetSpec.model_validate({"kind": "method", "nodeId": "ns=2;s=M", "objectId": "ns=2;s=O", "min": 0,
                                   "max": 1, "maxRatePerS": 1})  # fmt: skip


async def test_an_indeterminate_write_counts_for_the_interval_and_the_next_rate_check_reads_the_server(
    tmp_path: Path,
) -> None:
    class Crash(Exception):
        pass

    def crash(at: str) -> None:
        if at == "after-write":
            raise Crash(at)

    access = FakeAccess()
    clock = Clock()
    for rid, target, value in [("i1", "rare", 50.0), ("i2", "slow", 10.5)]:
        with pytest.raises(Crash):
            await service(tmp_path, access, clock, crash_point=crash).handle(
                settings(), req(target, value, rid=rid), enabled=True
            )
    restarted = service(tmp_path, access, clock)
    for entry in restarted.store.unsent():
        assert restarted.recover(entry.key, entry.phase, entry.audit, entry.node)["result"] == "indeterminate"
    clock.now += 10
    soon = await handle(restarted, settings(), req("rare", 51.0, rid="i3"))
    assert soon["reason"].startswith("too_soon"), "the interval runs from the recovery"
    access.values["ns=2;s=Slow"] = 12.0  # the server's truth, not the intent (10.5) nor the old 10.0
    assert (await handle(restarted, settings(), req("slow", 17.0, rid="i4")))["result"] == "applied"
    assert access.writes[-1] == ("ns=2;s=Slow", 17.0, "Double"), (
        "5 in 10 s at 0.5/s, from 12.0 (6.5 from 10.5)"
    )


def test_the_window_cap_forgets_the_oldest_audited_first(tmp_path: Path) -> None:
    st = store(tmp_path, max_requests=100)
    for i in range(103):
        st.begin(f"r{i}", "decided", {"result": "refused"}, now=NOW - 1000 + i)
        st.mark_sent(f"r{i}")
    assert st.prune(NOW) == (0, 3)
    assert st.entry("r2") is None and st.entry("r3") is not None and st.count() == 100


@pytest.mark.parametrize(
    ("overrides", "enabled", "due"),
    [
        pytest.param({"heartbeatNodeId": "ns=2;s=Hb"}, True, True, id="configured-enabled"),
        pytest.param({"heartbeatNodeId": "ns=2;s=Hb"}, False, False, id="operator-stop-stops-it"),
        pytest.param({"heartbeatNodeId": "ns=2;s=Hb", "dryRun": True}, True, False, id="dry-run-no-writes"),
        pytest.param({}, True, False, id="not-configured"),
    ],
)
def test_the_heartbeat_runs_only_while_writes_could_go_out(
    overrides: dict[str, Any], enabled: bool, due: bool
) -> None:
    assert heartbeat_due(settings(**overrides), enabled) is due


def test_heartbeat_values_move_and_wrap() -> None:
    assert [heartbeat_value(n, "Int32") for n in (1, 2, 2**31 - 1, 2**31)] == [1, 2, 2**31 - 1, 1]
    assert [heartbeat_value(n, "Boolean") for n in (1, 2, 3)] == [True, False, True]
