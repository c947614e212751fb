"""The rules engine: hysteresis, debounce, duration, cooldown, dedup, severities, signals, quality."""

from __future__ import annotations

from typing import Any

import pytest
from af_factories import T0, score, telemetry

from anomaly_filter.emits import Emit
from anomaly_filter.engine import FilterEngine
from anomaly_filter.rules import parse_rules
from edgeloop_runtime.errors import ConfigError, ContractError


def engine(**rule: Any) -> FilterEngine:
    base = {"name": "vib", "raise": 1.0, "clear": 0.8}
    return FilterEngine(parse_rules({"rules": [{**base, **rule}], "summaryPeriodS": 3600}))


def feed(eng: FilterEngine, values: list[float], asset: str = "pump", step: float = 10.0) -> list[Emit]:
    out: list[Emit] = []
    for i, v in enumerate(values):
        out += eng.on_score(score(asset, T0 + i * step, v))
    return out


def states(emits: list[Emit]) -> list[str]:
    return [e.data["state"] for e in emits if e.output == "anomalies"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([0.5, 1.2, 0.9, 0.85, 0.7], ["open", "close"], id="hysteresis-holds-between-levels"),
        pytest.param([1.2, 0.7, 1.2, 0.7], ["open", "close", "open", "close"], id="reopens-without-cooldown"),
        pytest.param([0.99, 0.5], [], id="below-raise-never-opens"),
    ],
)
def test_hysteresis(values: list[float], expected: list[str]) -> None:
    assert states(feed(engine(), values)) == expected


def test_close_happens_only_below_clear_level() -> None:
    out = feed(engine(), [1.5, 0.9, 0.81, 0.79])
    closes = [e for e in out if e.data["state"] == "close"]
    assert len(closes) == 1 and closes[0].data["end"] is not None
    assert closes[0].data["end"].startswith("2027-01-15T08:00:30")


def test_debounce_needs_n_of_m_windows() -> None:
    eng = engine(debounce={"n": 3, "m": 5})
    assert states(feed(eng, [1.2, 0.5, 1.2, 0.5])) == []
    assert states(eng.on_score(score("pump", T0 + 100, 1.3))) == ["open"]


def test_debounce_rejects_n_greater_than_m() -> None:
    with pytest.raises(ConfigError, match="debounce"):
        parse_rules({"rules": [{"name": "x", "debounce": {"n": 4, "m": 2}}]})


def test_minimum_duration_delays_open_and_start_is_the_first_hit() -> None:
    out = feed(engine(minDurationS=25), [1.2, 1.2, 1.2, 1.2])
    opens = [e for e in out if e.data["state"] == "open"]
    assert len(opens) == 1
    assert opens[0].data["start"].startswith("2027-01-15T08:00:00")
    assert opens[0].data["sourceTimestamp"].startswith("2027-01-15T08:00:30")


def test_cooldown_suppresses_reopen() -> None:
    eng = engine(cooldownS=60)
    assert states(feed(eng, [1.2, 0.5, 1.2, 0.5, 0.5, 0.5, 0.5, 0.5, 1.2])) == ["open", "close", "open"]
    assert eng.episodes[("vib", "pump")].suppressed == 1


def test_repeated_hits_while_open_are_deduplicated() -> None:
    eng = engine()
    assert states(feed(eng, [1.2, 1.3, 1.25, 1.4])) == ["open"]
    assert eng.counts["deduplicated"] == 3


def test_a_duplicate_score_message_is_ignored() -> None:
    eng = engine()
    msg = score("pump", T0, 1.5)
    assert len(states(eng.on_score(msg))) == 1
    assert eng.on_score(msg) == []
    assert eng.counts["duplicate_scores"] == 1


def test_severity_escalates_but_never_descends() -> None:
    levels = [{"severity": "warning", "above": 1.0}, {"severity": "critical", "above": 2.0}]
    out = feed(engine(levels=levels), [1.2, 2.5, 1.1, 0.5])
    events = [(e.data["state"], e.data["severity"]) for e in out if e.output == "anomalies"]
    assert events == [("open", "warning"), ("escalate", "critical"), ("close", "critical")]
    assert len({e.data["eventId"] for e in out}) == 1


def test_relative_scale_uses_the_model_threshold() -> None:
    eng = engine()
    assert states(eng.on_score(score("pump", T0, 4.0, threshold=5.0))) == []
    assert states(eng.on_score(score("pump", T0 + 10, 6.0, threshold=5.0))) == ["open"]


def test_event_carries_evidence_model_correlation_and_window() -> None:
    eng = engine()
    for i in range(30):
        eng.on_telemetry(telemetry("pump", T0 - 30 + i, {"Vibration": 3.0 + i * 0.01}))
    msg = score("pump", T0, 1.5)
    [ev] = [e for e in eng.on_score(msg) if e.output == "anomalies"]
    d = ev.data
    assert ev.correlation_id == msg["id"]
    assert d["model"] == {"name": "pca", "version": "1"}
    assert d["evidence"]["contributions"]["Vibration"] == pytest.approx(1.05)
    assert d["evidence"]["sourceMessageIds"] == ["m1"]
    assert d["sourceTimestamp"] == msg["data"]["sourceTimestamp"]
    assert len(d["window"]["timestamps"]) == 30
    assert d["window"]["fields"]["Vibration"][0] == pytest.approx(3.0)


def test_signal_check_and_confirms_model_only_with_a_z_score_spike() -> None:
    eng = engine(combine="and", signals=[{"field": "Vibration", "zAbove": 4, "warmup": 10}])
    for i in range(40):
        eng.on_telemetry(telemetry("pump", T0 - 40 + i, {"Vibration": 3.0 + 0.1 * (i % 3)}))
    assert states(eng.on_score(score("pump", T0, 1.5))) == []  # model alone: no
    eng.on_telemetry(telemetry("pump", T0 + 5, {"Vibration": 9.0}))
    out = eng.on_score(score("pump", T0 + 10, 1.5))
    assert states(out) == ["open"]
    assert out[0].data["evidence"]["signals"]["Vibration"] > 4


def test_signal_check_or_raises_without_the_model() -> None:
    eng = engine(combine="or", signals=[{"field": "Vibration", "zAbove": 4, "warmup": 10}])
    for i in range(40):
        eng.on_telemetry(telemetry("pump", T0 - 40 + i, {"Vibration": 3.0 + 0.1 * (i % 3)}))
    eng.on_telemetry(telemetry("pump", T0 - 2, {"Vibration": 12.0}))
    assert states(eng.on_score(score("pump", T0, 0.1))) == ["open"]


def test_bad_status_window_raises_data_quality_not_an_anomaly() -> None:
    eng = engine()
    out = eng.on_telemetry(telemetry("pump", T0 - 5, {"Vibration": 0.0}, bad=True))
    assert [(e.data["anomalyKind"], e.data["state"]) for e in out] == [("dataQuality", "open")]
    assert eng.on_score(score("pump", T0, 9.9)) == []
    assert eng.counts["anomaly_open"] == 0 and eng.counts["bad_quality_windows"] == 1
    out = eng.on_score(score("pump", T0 + 20, 0.1))
    assert [(e.data["anomalyKind"], e.data["state"]) for e in out] == [("dataQuality", "close")]


def test_bad_quality_score_is_a_data_quality_event() -> None:
    eng = engine()
    out = eng.on_score(score("pump", T0, 5.0, quality="bad"))
    assert [e.data["anomalyKind"] for e in out] == ["dataQuality"]
    assert eng.on_score(score("pump", T0 + 10, 5.0, quality="bad")) == []


def test_actions_follow_templates_and_severity() -> None:
    actions = [
        {"on": ["open"], "target": "{asset}AnomalyFlag", "value": True},
        {
            "on": ["escalate"],
            "minSeverity": "critical",
            "target": "pumpSpeed",
            "fromField": "Speed",
            "scale": 0.8,
        },
        {"on": ["close"], "target": "{asset}AnomalyFlag", "value": False},
    ]
    levels = [{"severity": "warning", "above": 1.0}, {"severity": "critical", "above": 2.0}]
    eng = engine(actions=actions, levels=levels)
    eng.on_telemetry(telemetry("pump", T0 - 1, {"Speed": 1000.0}))
    out = feed(eng, [1.2, 2.2, 0.1])
    acts = [(e.data["target"], e.data["value"]) for e in out if e.output == "actions"]
    assert acts == [("pumpAnomalyFlag", True), ("pumpSpeed", 800.0), ("pumpAnomalyFlag", False)]
    anomaly_ids = {e.data["eventId"] for e in out if e.output == "anomalies"}
    assert {e.correlation_id for e in out if e.output == "actions"} == anomaly_ids


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("nope", id="not-an-object"),
        pytest.param({"data": {"asset": "pump", "model": {"name": "m"}}}, id="no-score"),
        pytest.param(
            {"data": {"asset": "pump", "model": {"name": "m"}, "score": "x"}}, id="score-not-number"
        ),
        pytest.param(
            {"data": {"asset": "pump", "model": {"name": "m"}, "score": 1, "windowEnd": "yesterday"}},
            id="bad-ts",
        ),
        pytest.param({"data": {"model": {"name": "m"}, "score": 1}}, id="no-asset"),
    ],
)
def test_malformed_scores_raise_contract_error(body: object) -> None:
    with pytest.raises(ContractError):
        engine().on_score(body)


def test_unknown_asset_is_refused_and_counted() -> None:
    eng = FilterEngine(parse_rules({"rules": [{"name": "r"}], "knownAssets": ["pump"]}))
    with pytest.raises(ContractError, match="unknown asset"):
        eng.on_score(score("boiler", T0, 2.0))
    assert eng.counts["unknown_asset"] == 1


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"rules": [{"name": "r", "raise": 0.5, "clear": 0.9}]}, id="clear-above-raise"),
        pytest.param({"rules": [{"name": "r"}, {"name": "r"}]}, id="duplicate-names"),
        pytest.param({"rules": [{"name": "r", "combine": "and"}]}, id="combine-without-signals"),
        pytest.param({"rules": [{"name": "r", "bogus": 1}]}, id="unknown-key"),
        pytest.param({"rules": "all"}, id="not-a-list"),
    ],
)
def test_invalid_rule_sets_are_refused(raw: object) -> None:
    with pytest.raises(ConfigError):
        parse_rules(raw)


def test_rule_swap_keeps_state_of_surviving_rules_and_closes_removed() -> None:
    eng = FilterEngine(parse_rules({"rules": [{"name": "a"}, {"name": "b", "model": "other"}]}))
    assert states(eng.on_score(score("pump", T0, 1.5))) == ["open"]
    out = eng.set_rules(parse_rules({"rules": [{"name": "b", "model": "other"}]}))
    assert states(out) == ["close"]
    out = eng.set_rules(parse_rules({"rules": [{"name": "b", "model": "*", "raise": 2.0}]}))
    assert out == []


def test_stuck_sensor_check_raises_on_a_flat_line_only() -> None:
    eng = engine(combine="or", signals=[{"field": "Flow", "method": "stuck", "minSamples": 10}])
    for i in range(15):
        eng.on_telemetry(telemetry("pump", T0 - 15 + i, {"Flow": 100.0 + (i % 2)}))
    assert states(eng.on_score(score("pump", T0, 0.1, length=20))) == []
    for i in range(12):
        eng.on_telemetry(telemetry("pump", T0 + 1 + i, {"Flow": 100.0}))
    out = eng.on_score(score("pump", T0 + 13, 0.1, length=13))
    assert states(out) == ["open"] and out[0].data["evidence"]["signals"]["Flow.flatSamples"] == 12


def test_stuck_sensor_that_stops_reporting_is_caught_by_time() -> None:
    # A subscription sends changes only: a frozen Flow sends nothing while Speed keeps reporting.
    eng = engine(
        combine="or", signals=[{"field": "Flow", "method": "stuck", "minSamples": 20, "minSeconds": 2.0}]
    )
    for i in range(10):
        eng.on_telemetry(telemetry("pump", T0 + i * 0.1, {"Flow": 100.0 + i, "Speed": 1000.0 + i}))
    assert states(eng.on_score(score("pump", T0 + 1, 0.1, length=1))) == []
    for i in range(10, 40):
        eng.on_telemetry(telemetry("pump", T0 + i * 0.1, {"Speed": 1000.0 + i}))
    out = eng.on_score(score("pump", T0 + 4, 0.1, length=1))
    assert states(out) == ["open"]
    assert out[0].data["evidence"]["signals"]["Flow.flatSeconds"] == pytest.approx(3.0, abs=0.01)


def test_an_asset_that_stops_reporting_is_not_a_stuck_sensor() -> None:
    eng = engine(
        combine="or", signals=[{"field": "Flow", "method": "stuck", "minSamples": 20, "minSeconds": 2.0}]
    )
    for i in range(10):
        eng.on_telemetry(telemetry("pump", T0 + i * 0.1, {"Flow": 100.0 + i}))
    assert states(eng.on_score(score("pump", T0 + 5, 0.1, length=5))) == []
