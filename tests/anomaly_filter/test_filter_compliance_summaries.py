"""Compliance on what leaves the site, and periodic per-asset summaries."""

from __future__ import annotations

import pytest
from af_factories import T0, score, telemetry

from anomaly_filter import compliance
from anomaly_filter.engine import FilterEngine
from anomaly_filter.rules import Compliance, parse_rules


def test_allow_list_keeps_only_listed_paths() -> None:
    policy = Compliance.model_validate({"outputs": {"anomalies": {"allow": ["asset", "evidence.rule"]}}})
    out = compliance.apply(policy, "anomalies", {"asset": "a", "score": 1, "evidence": {"rule": "r", "x": 2}})
    assert out == {"asset": "a", "evidence": {"rule": "r"}}


def test_redaction_by_path_and_by_key_anywhere() -> None:
    policy = Compliance.model_validate(
        {"outputs": {"anomalies": {"redact": ["evidence.note"]}}, "redactKeys": ["operator"]}
    )
    data = {"evidence": {"note": "n", "meta": [{"operator": "Jane"}]}, "operator": "Bob"}
    out = compliance.apply(policy, "anomalies", data)
    assert out == {
        "evidence": {"note": "[redacted]", "meta": [{"operator": "[redacted]"}]},
        "operator": "[redacted]",
    }
    assert data["operator"] == "Bob"


def test_engine_applies_compliance_to_upstream_outputs_only() -> None:
    rules = parse_rules(
        {
            "rules": [{"name": "r", "actions": [{"target": "flag", "value": True}]}],
            "compliance": {"outputs": {"anomalies": {"allow": ["eventId", "state", "asset"]}}},
        }
    )
    out = FilterEngine(rules).on_score(score("pump", T0, 2.0))
    anomaly = next(e for e in out if e.output == "anomalies")
    assert set(anomaly.data) == {"eventId", "state", "asset"}
    action = next(e for e in out if e.output == "actions")
    assert action.data["target"] == "flag" and "sourceTimestamp" in action.data


def test_frames_with_people_are_marked_not_uploadable() -> None:
    eng = FilterEngine(
        parse_rules(
            {
                "rules": [
                    {"name": "v", "type": "frame", "classes": ["smoke", "person"], "raise": 0.5, "clear": 0.3}
                ]
            }
        )
    )
    msg = score("cam1", T0, 0.0, threshold=None, cameraId="cam1", seq=7, captureTs="2027-01-15T08:00:00Z")
    msg["data"]["type"] = "frame"
    msg["data"]["detections"] = [{"class": "person", "confidence": 0.9, "bbox": [0, 0, 5, 5]}]
    [ev] = eng.on_score(msg)
    assert ev.data["evidence"]["frameAllowed"] is False
    assert ev.data["evidence"]["cameraId"] == "cam1" and ev.data["evidence"]["seq"] == 7


def test_summaries_aggregate_per_period_and_count_anomalies() -> None:
    eng = FilterEngine(parse_rules({"rules": [{"name": "r"}], "summaryPeriodS": 60}))
    out = []
    for i in range(60):
        out += eng.on_telemetry(telemetry("pump", T0 + i, {"Flow": float(i), "Temp": 20.0}))
    out += eng.on_score(score("pump", T0 + 30, 2.0))
    assert [e for e in out if e.output == "summaries"] == []
    out = eng.on_telemetry(telemetry("pump", T0 + 61, {"Flow": 1.0}))
    [summary] = out
    assert summary.data["fields"]["Flow"] == {
        "min": 0.0,
        "max": 59.0,
        "mean": pytest.approx(29.5),
        "count": 60,
    }
    assert summary.data["anomalies"] == 1
    assert summary.data["periodEnd"] == "2027-01-15T08:01:00.000Z"


def test_flush_emits_stale_periods() -> None:
    eng = FilterEngine(parse_rules({"summaryPeriodS": 60}))
    eng.on_telemetry(telemetry("pump", T0 + 1, {"Flow": 1.0}))
    assert eng.flush_summaries(T0 + 30) == []
    assert len(eng.flush_summaries(T0 + 60)) == 1


def test_bad_values_are_left_out_of_summaries() -> None:
    eng = FilterEngine(parse_rules({"summaryPeriodS": 60}))
    eng.on_telemetry(telemetry("pump", T0 + 1, {"Flow": 5.0}))
    eng.on_telemetry(telemetry("pump", T0 + 2, {"Flow": 0.0}, bad=True))
    [s] = eng.flush_summaries(None)
    assert s.data["fields"]["Flow"]["count"] == 1
