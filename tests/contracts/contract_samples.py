"""One well-formed instance of every registered contract, as its sender fills it."""

from __future__ import annotations

from edgeloop_contracts import Contract
from edgeloop_contracts.alarm import Alarm
from edgeloop_contracts.anomaly import Anomaly, AnomalyWindow, DcsAlarmRef
from edgeloop_contracts.audit import Audit
from edgeloop_contracts.batch import Batch
from edgeloop_contracts.deadletter import DeadLetter
from edgeloop_contracts.drift import Drift
from edgeloop_contracts.evaluation import Latency, ModelEvaluation, Percentiles
from edgeloop_contracts.prediction import Prediction
from edgeloop_contracts.score import ClassScore, Detection, ModelRef, Score
from edgeloop_contracts.summary import FieldStats, Summary
from edgeloop_contracts.write_request import AckValue, WriteRequest

TS = "2027-01-15T08:00:00.000Z"
PCA = ModelRef("pca", "3")


def window_score() -> Score:
    """A sensor window's score."""
    return Score(
        type="window", asset="pump", model=PCA, score=1.25, threshold=1.0,
        contributions={"Vibration": 0.9, "Flow": 0.1}, quality="good", window_start=TS, window_end=TS,
        source_timestamp=TS, source_message_ids=["m1", "m2"],
    )  # fmt: skip


def frame_score() -> Score:
    """A camera frame's score with one detection."""
    return Score(
        type="frame", asset="cam1", model=ModelRef("yolo", "2"), score=0.8, threshold=0.5,
        contributions={"person": 1.0}, quality="good", window_start=TS, window_end=TS, source_timestamp=TS,
        source_message_ids=["f1"], camera_id="cam1", seq=7, capture_ts=TS,
        detections=[Detection(class_="person", class_id=0, confidence=0.8, bbox=[1.0, 2.0, 30.5, 40.0])],
    )  # fmt: skip


SAMPLES: dict[str, Contract] = {
    "score": window_score(),
    "drift": Drift(
        model=PCA, asset="pump", features={"Flow": 0.4}, metrics={"Flow": "psi"}, threshold=0.2,
        thresholds={"Flow": 0.2}, drifted=["Flow"], window_size=500, at=TS,
    ),
    "prediction": Prediction(
        model=ModelRef("yolo", "2"), width=640, height=480, at=TS,
        detections=[Detection(class_="scratch", class_id=1, confidence=0.5, bbox=[0.0, 0.0, 1.0, 1.0])],
        total=1, classes=[ClassScore(class_="scratch", class_id=1, confidence=0.5)],
    ),
    "model-evaluation": ModelEvaluation(
        model="yolo", active_version="2", candidate_version="3", window_start=TS, window_end=TS, samples=10,
        errors=0, agreement=0.9, score_correlation=None,
        latency_ms=Latency(Percentiles(1.0, 2.0), Percentiles(1.5, None)),
    ),
    "anomaly": Anomaly(
        event_id="e1", state="open", asset="pump", anomaly_kind="vibration", severity="warning", score=1.5,
        thresholds={"raise": 1.0, "clear": 0.8}, start=TS, end=None, evidence={"rule": "vib"}, model=PCA,
        source_timestamp=TS, window=AnomalyWindow([TS], {"Vibration": [7.5]}),
        dcs_alarms=[DcsAlarmRef("Pump1", "HighVib", 700, "high vibration", TS, False)],
        suppressed_by="dcsAlarm",
    ),
    "writeRequest": WriteRequest(
        request_id="r1", target="ack", value=AckValue(event_id="AAEC", comment="seen"), reason="vib: open",
        rule="vib", asset="pump", source_timestamp=TS,
    ),
    "summary": Summary(
        asset="pump", period_start=TS, period_end=TS, fields={"Flow": FieldStats(1.0, 2.0, 1.5, 10)},
        anomalies=1,
    ),
    "audit": Audit(
        request_id="r1", target="setpoint", node_id="ns=2;s=SP", value=42.0, result="applied",
        reason="written and read back", read_back=42.0, attempts=1, source_timestamp=TS, applied_at=TS,
    ),
    "alarm": Alarm(
        asset="tank", source="Tank1", condition="HighLevel", active=True, acked=False, severity=800,
        message="level high", time=TS, event_type="i=2915", event_id="AQID", publisher_id="ingest",
        source_timestamp=TS, fields={"Severity": 800},
    ),
    "batch": Batch(class_="summary", count=1, events=[{"v": 1, "kind": "summary", "id": "s1"}]),
    "deadletter": DeadLetter(
        from_="anomaly_filter", input="scores", error="ContractError: bad", original_message_id="m9",
        content_type="application/json", body_bytes=2, body_sha256="ab", body_encoding="json", body={},
        truncated=False,
    ),
}  # fmt: skip
