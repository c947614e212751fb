"""The filter scored against the plant's ground-truth fault schedule, through the real model (ONNX Runtime)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from anomaly_filter.engine import FilterEngine
from anomaly_filter.rules import parse_rules
from edgeloop_dev.plant import fault_schedule
from edgeloop_dev.replay import ModelScorer, demo_truth, plant_ticks, score_detections, shipped_rules

SECONDS = 300.0


def replay(seed: int, seconds: float) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    truth = demo_truth(seed, seconds)
    scorer = ModelScorer()
    engine = FilterEngine(parse_rules(shipped_rules()))
    events: list[dict[str, Any]] = []
    for tick in plant_ticks(truth.schedule, seconds, 10.0):
        emits = engine.on_telemetry(tick.message)
        for env in scorer.feed(tick.message):
            emits += engine.on_score(env)
        events += [e.data for e in emits if e.output == "anomalies"]
    return events, score_detections(events, truth.faults(seconds))


@pytest.mark.parametrize(
    "seed", [pytest.param(1, id="seed-1"), pytest.param(2, id="seed-2", marks=pytest.mark.slow)]
)
def test_filter_against_ground_truth(seed: int) -> None:
    events, report = replay(seed, SECONDS)
    print(f"\nseed {seed}, {SECONDS:.0f} s of plant: {json.dumps(report)}")
    assert report["faults"] >= 3
    assert report["falseAlarmsOnBadData"] == 0
    assert report["precision"] >= 0.8
    assert report["recall"] >= 0.75
    assert report["dataQualityDetected"] >= 1 or report["dataQualityFaults"] == 0
    # every anomaly event closes again, carries a window and the model that scored it
    opened = {e["eventId"] for e in events if e["state"] == "open" and e["anomalyKind"] != "dataQuality"}
    assert all(e["window"]["timestamps"] for e in events if e["state"] == "open" and e["eventId"] in opened)
    assert all(e["model"]["name"] == "sensor_anomaly" for e in events if e["eventId"] in opened)


def test_a_fault_free_plant_opens_no_process_anomaly_under_the_shipped_rules() -> None:
    """Ten minutes of the plant with no fault: the shipped rules raise nothing. (Rules that raised at the
    model's 99.5th percentile with windows every second opened about 27 warnings an hour, each an advisory
    write-back: 4.5 expected in these ten minutes.)"""
    scorer = ModelScorer()
    engine = FilterEngine(parse_rules(shipped_rules()))
    opened: list[dict[str, Any]] = []
    scores = 0
    for tick in plant_ticks(fault_schedule(1, "steady", 700.0), 600.0, 10.0):
        emits = engine.on_telemetry(tick.message)
        for env in scorer.feed(tick.message):
            scores += 1
            emits += engine.on_score(env)
        opened += [e.data for e in emits if e.output == "anomalies" and e.data["state"] == "open"]
    assert scores >= 1700  # three assets, a window a second each, after the first window fills
    assert opened == []
