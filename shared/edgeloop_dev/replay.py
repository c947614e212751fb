"""Faster-than-real-time replay of the plant through the real model, for filter scoring and benchmarks.

The plant model (ground truth) → OPC UA PubSub JSON as opcua_ingest sends it → inference's window
assembler and the shipped ONNX model (the real ONNX Runtime session) → `score` envelopes. No I/O but
reading the model repository and the filter rules the deployment template ships; the caller feeds the
output to anomaly_filter / upstream_router logic.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgeloop_dev.manifest.files import TEMPLATE, read_json
from edgeloop_dev.plant import PROCESS_TAGS, FaultSchedule, PlantModel, fault_schedule

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_ROOT = REPO_ROOT / "modules" / "inference" / "model_repository"
SHIPPED_TEMPLATE = REPO_ROOT / TEMPLATE
PUBLISHER = "edgeloop-opcua"
ENDPOINT = "opc.tcp://plant:4840"
APP_URI = "urn:edgeloop:plant"
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z: replays are anchored here so runs are reproducible

_STATUS_CODES = {"BadSensorFailure": 0x808B0000, "UncertainLastUsableValue": 0x40900000}


def shipped_rules(template: Path = SHIPPED_TEMPLATE) -> dict[str, Any]:
    """The anomaly filter's rule set as the deployment template ships it (its desired `rules`), so that
    benchmarks and ground-truth tests measure what sites run."""
    desired = read_json(template)["modulesContent"]["anomaly_filter"]["properties.desired"]
    rules: dict[str, Any] = desired["rules"]
    return rules


def iso(ts: float) -> str:
    """Epoch seconds to ISO 8601 UTC with milliseconds and a Z."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Tick:
    """One plant step: its time, the PubSub network message, and Samples-format bytes for the same data."""

    ts: float
    message: dict[str, Any]
    samples_bytes: int
    samples_messages: int


def _status(status: str) -> dict[str, Any] | None:
    if status == "Good":
        return None
    return {"Code": _STATUS_CODES.get(status, 0x80000000), "Symbol": status}


def plant_ticks(schedule: FaultSchedule, seconds: float, rate_hz: float, t0: float = T0) -> Iterator[Tick]:
    """The plant's process tags at `rate_hz` for `seconds`, one network message per tick (all assets)."""
    model = PlantModel(schedule)
    n = int(seconds * rate_hz)
    seq = 0
    for i in range(1, n + 1):
        t = i / rate_hz
        ts = t0 + t
        stamp = iso(ts)
        samples = model.step(t)
        per_asset: dict[str, dict[str, Any]] = {}
        samples_bytes = 0
        for spec in PROCESS_TAGS:
            s = samples[spec.name]
            entry: dict[str, Any] = {
                "Value": round(s.value, 4),
                "SourceTimestamp": stamp,
                "ServerTimestamp": stamp,
            }
            code = _status(s.status)
            if code is not None:
                entry["StatusCode"] = code
            per_asset.setdefault(spec.asset, {})[spec.display_name] = entry
            seq += 1
            # OPC Publisher's legacy Samples format: one JSON message per value change.
            sample = {
                "NodeId": spec.node_id,
                "EndpointUrl": ENDPOINT,
                "ApplicationUri": APP_URI,
                "DisplayName": spec.name,
                "Timestamp": stamp,
                "Value": entry,
                "SequenceNumber": seq,
                "ExtensionFields": {"PublisherId": PUBLISHER, "DataSetWriterId": spec.asset},
            }
            samples_bytes += len(json.dumps(sample, separators=(",", ":")))
        message = {
            "MessageId": str(i),
            "MessageType": "ua-data",
            "PublisherId": PUBLISHER,
            "Messages": [
                {
                    "DataSetWriterId": asset,
                    "DataSetWriterGroup": "plant",
                    "SequenceNumber": i,
                    "MessageType": "ua-deltaframe",
                    "Timestamp": stamp,
                    "Payload": payload,
                }
                for asset, payload in per_asset.items()
            ],
        }
        yield Tick(ts, message, samples_bytes, len(PROCESS_TAGS))


class ModelScorer:
    """inference's window assembly and the shipped `sensor_anomaly` ONNX model, called synchronously."""

    def __init__(
        self, model: str = "sensor_anomaly", version: str | None = None, root: Path = MODEL_ROOT
    ) -> None:
        from inference.engine.processors import WindowProcessor
        from inference.engine.session import OrtRunner, create_session
        from inference.models.repository import pick_version, read_version
        from inference.sensor.windows import WindowAssembler

        files = read_version(root, model, pick_version(root, model, version))
        meta = files.metadata
        assert meta.window is not None
        sess, report = create_session(files.data, ["CPUExecutionProvider"], intra_op_threads=1)
        self.name, self.version = files.name, files.version
        self.threshold = meta.threshold
        self.processor = WindowProcessor(OrtRunner(sess, report, meta), meta)
        fallback = {
            asset: {f: b.mean for f, b in fields.items()}
            for asset, fields in (meta.drift.baseline if meta.drift else {}).items()
        }
        self.assembler = WindowAssembler(meta.window, meta.assets, fallback)

    def feed(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """Score envelopes for the windows this telemetry message completes."""
        windows = self.assembler.feed(message, message.get("MessageId"))
        if not windows:
            return []
        out: list[dict[str, Any]] = []
        for w, r in zip(windows, self.processor(windows), strict=True):
            if isinstance(r, BaseException):
                continue
            data = {
                "type": "window",
                "asset": w.asset,
                "model": {"name": self.name, "version": self.version},
                "score": r.score,
                "threshold": self.threshold,
                "contributions": r.contributions,
                "quality": w.quality,
                "windowStart": w.window_start,
                "windowEnd": w.window_end,
                "sourceTimestamp": w.source_timestamp,
                "sourceMessageIds": list(w.message_ids)[-3:],
            }
            out.append(
                {
                    "v": 1,
                    "kind": "score",
                    "id": str(uuid.uuid4()),
                    "ts": w.window_end,
                    "source": {"module": "inference", "version": "0.1.0"},
                    "correlationId": None,
                    "data": data,
                }
            )
        return out


@dataclass(frozen=True)
class Truth:
    """The plant's ground truth for a replay: faults as absolute times."""

    schedule: FaultSchedule
    t0: float

    def faults(self, until: float) -> list[dict[str, Any]]:
        """Faults that started before `until` seconds after t0."""
        return [
            {
                "id": f.id,
                "kind": f.kind,
                "asset": f.asset,
                "start": self.t0 + f.start_s,
                "end": self.t0 + f.end_s,
                "dataQuality": f.kind in ("bad_status", "uncertain_status"),
            }
            for f in self.schedule.faults
            if f.start_s < until
        ]


def demo_truth(seed: int, seconds: float, t0: float = T0) -> Truth:
    """The `demo` scenario's fault schedule for a replay of `seconds`."""
    return Truth(fault_schedule(seed, "demo", horizon_s=seconds), t0)


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def score_detections(
    events: list[dict[str, Any]], truth: list[dict[str, Any]], *, grace_s: float = 10.0
) -> dict[str, Any]:
    """Precision, recall and detection delay of anomaly `open` events against the ground-truth faults.

    An opened anomaly is a true positive when a fault on the same asset is active at its start or
    ended at most `grace_s` before it; a fault is detected by the first such anomaly. Data-quality
    faults are scored apart: they should raise `dataQuality` events and never an anomaly.
    """
    opens = [e for e in events if e.get("state") == "open"]
    anomalies = [e for e in opens if e.get("anomalyKind") != "dataQuality"]
    dq_events = [e for e in opens if e.get("anomalyKind") == "dataQuality"]
    real = [f for f in truth if not f["dataQuality"]]
    dq_faults = [f for f in truth if f["dataQuality"]]

    def match(e: dict[str, Any], faults: list[dict[str, Any]]) -> dict[str, Any] | None:
        at = _ts(e["sourceTimestamp"])
        hits = [f for f in faults if f["asset"] == e["asset"] and f["start"] <= at <= f["end"] + grace_s]
        return min(hits, key=lambda f: f["start"]) if hits else None

    detected: dict[str, float] = {}
    tp = 0
    false_pos: list[dict[str, Any]] = []
    for e in anomalies:
        f = match(e, real)
        if f is None:
            false_pos.append({"asset": e["asset"], "at": e["sourceTimestamp"], "kind": e.get("anomalyKind")})
            continue
        tp += 1
        detected.setdefault(f["id"], _ts(e["sourceTimestamp"]) - f["start"])
    delays = sorted(detected.values())
    by_kind: dict[str, list[int]] = {}
    for f in real:
        hit = by_kind.setdefault(f["kind"], [0, 0])
        hit[1] += 1
        hit[0] += f["id"] in detected
    dq_hit = {f["id"] for e in dq_events if (f := match(e, dq_faults)) is not None}
    false_on_dq = [e for e in anomalies if match(e, real) is None and match(e, dq_faults) is not None]
    return {
        "faults": len(real),
        "detected": len(detected),
        "recall": len(detected) / len(real) if real else 1.0,
        "anomalyEvents": len(anomalies),
        "precision": tp / len(anomalies) if anomalies else 1.0,
        "delayS": {
            "p50": delays[len(delays) // 2] if delays else None,
            "max": delays[-1] if delays else None,
            "mean": sum(delays) / len(delays) if delays else None,
        },
        "byKind": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_kind.items())},
        "missed": [f["id"] + ":" + f["kind"] for f in real if f["id"] not in detected],
        "falsePositives": false_pos[:10],
        "dataQualityFaults": len(dq_faults),
        "dataQualityDetected": len(dq_hit),
        "falseAlarmsOnBadData": len(false_on_dq),
    }
