"""One decision, one set of ids: deterministic ids, and episodes that survive a restart through a snapshot."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from af_factories import T0, score, telemetry

from anomaly_filter.emits import Emit
from anomaly_filter.engine import FilterEngine
from anomaly_filter.rules import parse_rules
from edgeloop_runtime.testing import FakeHubClient, within

RULE: dict[str, Any] = {
    "name": "vib",
    "raise": 1.0,
    "clear": 0.8,
    "levels": [{"severity": "warning", "above": 1.0}, {"severity": "critical", "above": 2.0}],
    "actions": [
        {"on": ["open", "escalate"], "target": "{asset}Setpoint", "fromField": "Speed", "scale": 0.9},
        {"on": ["open", "close"], "target": "{asset}AnomalyFlag", "value": True},
    ],
}


def engine(rule: dict[str, Any] | None = None) -> FilterEngine:
    eng = FilterEngine(parse_rules({"rules": [rule or RULE], "summaryPeriodS": 3600}))
    eng.on_telemetry(telemetry("pump", T0 - 1, {"Speed": 1000.0}))
    return eng


def ids_of(emits: list[Emit]) -> list[tuple[str, str, str | None]]:
    """(kind, decision id, envelope id) of every anomaly and write request."""
    out: list[tuple[str, str, str | None]] = []
    for e in emits:
        if e.output == "anomalies":
            out.append((f"anomaly:{e.data['state']}", e.data["eventId"], e.message_id))
        elif e.output == "actions":
            out.append(("request", e.data["requestId"], e.message_id))
    return out


def restarted(eng: FilterEngine, rule: dict[str, Any] | None = None) -> tuple[FilterEngine, list[Emit]]:
    """A new engine (a new process) given the old one's snapshot, through JSON as on disk."""
    doc = json.loads(json.dumps(eng.snapshot()))
    fresh = engine(rule)
    return fresh, fresh.restore(doc)


def test_two_runs_of_the_same_scores_give_the_same_event_request_and_envelope_ids() -> None:
    scores = [score("pump", T0 + 10 * i, v) for i, v in enumerate([1.2, 2.5, 0.5])]
    runs = []
    for _ in range(2):
        eng = engine()
        runs.append(ids_of([e for s in scores for e in eng.on_score(s)]))
    assert runs[0] == runs[1] and len(runs[0]) == 7
    assert all(mid is not None for _kind, _id, mid in runs[0])
    assert len({mid for _k, _i, mid in runs[0]}) == 7  # every message its own id
    assert len({i for k, i, _m in runs[0] if k == "request"}) == 4  # one request per action firing


def test_event_id_depends_on_asset_rule_and_episode_start() -> None:
    a = engine().on_score(score("pump", T0, 1.5))[0].data["eventId"]
    later = engine().on_score(score("pump", T0 + 10, 1.5))[0].data["eventId"]
    other_rule = engine({**RULE, "name": "vib2"}).on_score(score("pump", T0, 1.5))[0].data["eventId"]
    assert len({a, later, other_rule}) == 3


def test_an_open_episode_survives_a_restart_and_closes_with_its_own_id() -> None:
    eng = engine()
    opened = eng.on_score(score("pump", T0, 1.5))
    fresh, closed_now = restarted(eng)
    closes = fresh.on_score(score("pump", T0 + 10, 0.5))
    assert closed_now == []
    assert [e.data["state"] for e in closes if e.output == "anomalies"] == ["close"]
    assert closes[0].data["eventId"] == opened[0].data["eventId"]


def test_a_redelivered_score_after_a_restart_neither_reopens_nor_refires() -> None:
    eng = engine()
    hot = score("pump", T0, 1.5)
    eng.on_score(hot)
    fresh, _ = restarted(eng)
    assert fresh.on_score(hot) == []
    assert fresh.on_score({**hot, "id": "another-message-id"}) == []  # same window, new message id
    assert fresh.counts["duplicate_scores"] == 2


def test_a_closed_episode_is_not_reopened_by_the_closing_score_redelivered() -> None:
    eng = engine()
    eng.on_score(score("pump", T0, 1.5))
    cool = score("pump", T0 + 10, 0.5)
    eng.on_score(cool)
    fresh, _ = restarted(eng)
    assert fresh.on_score(cool) == []
    assert not fresh.episodes[("vib", "pump")].is_open


def test_the_same_window_from_a_second_model_still_counts() -> None:
    eng = engine({**RULE, "model": "*"})
    eng.on_score(score("pump", T0, 0.5, model="pca"))
    out = eng.on_score(score("pump", T0, 1.5, model="lstm"))
    assert [e.data["state"] for e in out if e.output == "anomalies"] == ["open"]


def test_an_open_episode_of_a_rule_removed_while_down_is_closed_at_restart() -> None:
    eng = engine()
    opened = eng.on_score(score("pump", T0, 1.5))
    _fresh, emits = restarted(eng, {**RULE, "name": "other"})
    closes = [e for e in emits if e.output == "anomalies"]
    assert [e.data["state"] for e in closes] == ["close"]
    assert closes[0].data["eventId"] == opened[0].data["eventId"]


def test_an_open_data_quality_event_survives_a_restart_and_closes_once() -> None:
    eng = engine()
    opened = eng.on_score(score("pump", T0, 1.5, quality="bad"))
    fresh, _ = restarted(eng)
    assert fresh.on_score(score("pump", T0 + 5, 1.5, quality="bad")) == []
    closes = [
        e for e in fresh.on_score(score("pump", T0 + 10, 0.5)) if e.data.get("anomalyKind") == "dataQuality"
    ]
    assert [e.data["state"] for e in closes] == ["close"]
    assert closes[0].data["eventId"] == opened[0].data["eventId"]


def test_loading_the_saved_state_undoes_a_step_so_a_retry_decides_the_same() -> None:
    eng = engine()
    saved = json.loads(json.dumps(eng.snapshot()))
    hot = score("pump", T0, 1.5)
    first = ids_of(eng.on_score(hot))
    eng.load(saved)  # the sends failed: the runtime retries the same message
    assert ids_of(eng.on_score(hot)) == first


async def test_an_episode_that_cannot_be_saved_keeps_its_score_with_edgehub_until_it_can(
    tmp_path: Path,
) -> None:
    from anomaly_filter.app import module

    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the state folder should be")
    client = FakeHubClient(twin={"desired": {"$version": 1, "rules": {"rules": [RULE]}}, "reported": {}})
    stop = asyncio.Event()
    env = {"METRICS_PORT": "-1", "STATE_DIR": str(blocker / "state")}
    task = asyncio.create_task(module.run(env=env, client=client, stop=stop))
    try:
        async with asyncio.timeout(20):  # wait for: the module running and subscribed
            while client.reported.get("status") != "running" or client.message_handler is None:
                await asyncio.sleep(0.01)
        await client.deliver("scores", score("pump", T0, 1.5), delivery="1.1")
        async with asyncio.timeout(20):  # wait for: the open sent, and the score held back
            while not client.outputs("anomalies") or not (await client.call("getStatus"))[1]["heldBack"]:
                await asyncio.sleep(0.01)
        assert client.settled == []
        blocker.unlink()  # the disk takes writes again
        async with asyncio.timeout(20):  # wait for: the score acknowledged
            while client.settled != ["1.1"]:
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        await within(task, 20, "anomaly_filter to exit after stop")
    assert [m.json()["data"]["state"] for m in client.outputs("anomalies")] == ["open"]
    saved = json.loads((blocker / "state" / "episodes.json").read_text())
    assert [e["openId"] for e in saved["episodes"]] == [
        client.outputs("anomalies")[0].json()["data"]["eventId"]
    ]


class SlowSends(FakeHubClient):
    """Anomalies wait at the hub until `gate` opens (a send in flight)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = asyncio.Event()

    async def send_to_output(self, message: Any, output: str) -> None:
        if output == "anomalies":
            await self.gate.wait()
        await super().send_to_output(message, output)


async def test_telemetry_handled_while_a_score_is_being_sent_does_not_save_its_half_step(
    tmp_path: Path,
) -> None:
    from anomaly_filter.app import module

    client = SlowSends(twin={"desired": {"$version": 1, "rules": {"rules": [RULE]}}, "reported": {}})
    stop = asyncio.Event()
    env = {"METRICS_PORT": "-1", "STATE_DIR": str(tmp_path)}
    task = asyncio.create_task(module.run(env=env, client=client, stop=stop))
    try:
        async with asyncio.timeout(20):  # wait for: the module running and subscribed
            while client.reported.get("status") != "running" or client.message_handler is None:
                await asyncio.sleep(0.01)
        await client.deliver("scores", score("pump", T0, 1.5), delivery="1.1")
        await client.deliver("telemetry", telemetry("pump", T0 + 1, {"Speed": 900.0}), delivery="1.2")
        async with asyncio.timeout(20):  # wait for: both inputs taken by their workers
            while any(q["queued"] for q in (await client.call("getStatus"))[1]["inputs"].values()):
                await asyncio.sleep(0.01)
        saved = json.loads((tmp_path / "episodes.json").read_text())
        assert not [e for e in saved["episodes"] if e["openId"]], "an open whose send is in flight was saved"
        client.gate.set()
        async with asyncio.timeout(20):  # wait for: both acknowledged
            while sorted(client.settled) != ["1.1", "1.2"]:
                await asyncio.sleep(0.01)
    finally:
        client.gate.set()
        stop.set()
        await within(task, 20, "anomaly_filter to exit after stop")
    saved = json.loads((tmp_path / "episodes.json").read_text())
    assert [bool(e["openId"]) for e in saved["episodes"]] == [True]


STUCK_RULE: dict[str, Any] = {
    "name": "stuck",
    "raise": 1.0,
    "clear": 0.8,
    "combine": "or",
    "signals": [{"field": "Flow", "method": "stuck", "minSamples": 20, "minSeconds": 2.0}],
}


def states_of(emits: list[Emit]) -> list[str]:
    return [e.data["state"] for e in emits if e.output == "anomalies"]


def frozen_flow(eng: FilterEngine, start: int, stop: int) -> None:
    """Telemetry 10 times a second from T0 + start/10 to T0 + stop/10: Flow changes until 1 s, then is
    frozen (a subscription sends no change for it) while Speed keeps reporting."""
    for i in range(start, stop):
        values = {"Speed": 1000.0 + i} | ({"Flow": 100.0 + i} if i < 10 else {})
        eng.on_telemetry(telemetry("pump", T0 + i * 0.1, values))


def test_a_sensor_frozen_across_a_restart_is_still_timed_from_when_it_froze() -> None:
    eng = FilterEngine(parse_rules({"rules": [STUCK_RULE], "summaryPeriodS": 3600}))
    frozen_flow(eng, 0, 25)  # Flow frozen at 109.0 since T0 + 0.9: 1.5 s, not yet the check's 2 s
    assert states_of(eng.on_score(score("pump", T0 + 2.4, 0.1, length=1))) == []
    fresh, emitted = restarted(eng, STUCK_RULE)
    assert emitted == []
    frozen_flow(fresh, 25, 40)  # the new process never sees a Flow sample
    out = fresh.on_score(score("pump", T0 + 3.9, 0.1, length=1))
    assert states_of(out) == ["open"], "the flat line under way at the restart was forgotten"
    assert out[0].data["evidence"]["signals"]["Flow.flatSeconds"] == pytest.approx(3.0, abs=0.01)


def test_only_flat_lines_are_saved_and_only_when_a_rule_checks_for_them() -> None:
    eng = FilterEngine(parse_rules({"rules": [STUCK_RULE], "summaryPeriodS": 3600}))
    frozen_flow(eng, 0, 25)
    assert eng.snapshot()["flat"] == {"pump": {"Flow": [109.0, T0 + 0.9]}}  # Speed changes every sample
    plain = FilterEngine(parse_rules({"rules": [RULE], "summaryPeriodS": 3600}))
    frozen_flow(plain, 0, 25)
    assert plain.snapshot()["flat"] == {}
