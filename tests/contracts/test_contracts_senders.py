"""What each module really sends, built by its own pure code and sent through `ctx.send`, decodes as its
contract, with exactly today's keys on the wire."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import msgspec
import numpy as np
from af_factories import T0, iso, score, telemetry

from anomaly_filter.engine import FilterEngine
from anomaly_filter.rules import parse_rules
from edgeloop_contracts import Contract, decode_envelope, envelope_from_data
from edgeloop_contracts.alarm import Alarm
from edgeloop_contracts.audit import Audit
from edgeloop_contracts.batch import Batch
from edgeloop_contracts.evaluation import ModelEvaluation
from edgeloop_contracts.registry import CONTRACTS
from edgeloop_contracts.score import Score
from edgeloop_contracts.write_request import WriteRequest
from edgeloop_runtime.context import Context
from edgeloop_runtime.messages import OutgoingMessage
from edgeloop_runtime.metrics import Metrics
from edgeloop_runtime.settings import ModuleSettings
from inference.engine.processors import FrameResult, WindowResult
from inference.sensor.windows import Window
from inference.service import InferenceService
from inference.shadow.compare import ShadowStats
from opcua_writeback.service import audit_record
from opcua_writeback.settings import TargetSpec
from upstream_router.alarms import alarm_envelopes
from upstream_router.batching import encode
from upstream_router.store import Item

SCORE_KEYS = ["type", "asset", "model", "score", "threshold", "contributions", "quality", "windowStart",
              "windowEnd", "sourceTimestamp", "sourceMessageIds"]  # fmt: skip
ANOMALY_KEYS = ["eventId", "state", "asset", "anomalyKind", "severity", "score", "thresholds", "start", "end",
                "evidence", "model", "sourceTimestamp", "window"]  # fmt: skip
ENVELOPE_KEYS = ["v", "kind", "id", "ts", "source", "correlationId", "data"]


class _Client:
    """Stands in for the SDK client: keeps what the context hands over."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, OutgoingMessage]] = []

    async def send_to_output(self, message: OutgoingMessage, output: str) -> None:
        self.sent.append((output, message))


def _sent(sends: list[tuple[str, Any, dict[str, Any]]]) -> list[tuple[str, OutgoingMessage]]:
    """Send each (output, data, keywords) through a real Context; what reached the client."""
    client = _Client()
    ctx = Context("sender", "1.2.3", ModuleSettings(), client, Metrics("sender", "1.2.3"))  # type: ignore[arg-type]

    async def run() -> None:
        for output, data, kw in sends:
            await ctx.send(output, data, **kw)

    asyncio.run(run())
    return client.sent


def test_a_contract_goes_out_as_the_same_envelope_its_dict_did() -> None:
    body = Score.from_data(score("pump", T0, 1.5)["data"])
    kw = {"message_id": "m1", "correlation_id": "c1"}
    (_, typed), (_, plain) = _sent(
        [("scores", body, kw), ("scores", body.to_data(), {**kw, "kind": "score"})]
    )
    a, b = json.loads(typed.data), json.loads(plain.data)
    assert list(a) == ENVELOPE_KEYS and a["source"] == {"module": "sender", "version": "1.2.3"}
    assert {**a, "ts": None} == {**b, "ts": None}
    assert (typed.message_id, typed.content_type, typed.content_encoding) == (
        "m1",
        "application/json",
        "utf-8",
    )


def test_inference_window_scores_have_todays_keys_and_decode() -> None:
    loaded = SimpleNamespace(
        name="pca", version="3", files=SimpleNamespace(metadata=SimpleNamespace(threshold=1.0))
    )
    window = Window(
        "pump", 0, np.zeros((4, 2), np.float32), "good", iso(T0), iso(T0 + 10), iso(T0 + 10), ("m1", "m2")
    )
    body = InferenceService.window_score(loaded, window, WindowResult(2.5, {"Flow": 2.0, "Vibration": 0.5}))  # type: ignore[arg-type]
    [(_, msg)] = _sent([("scores", body, {"message_id": InferenceService._id(window)})])
    assert list(json.loads(msg.data)["data"]) == SCORE_KEYS
    env = decode_envelope(msg.data, Score)
    assert (env.kind, env.data.score, env.data.source_message_ids) == ("score", 2.5, ["m1", "m2"])


def _filter_emits() -> list[Any]:
    actions = [{"on": ["open"], "target": "{asset}Flag", "value": True}]
    rules = {"rules": [{"name": "vib", "raise": 1.0, "clear": 0.8, "actions": actions}], "summaryPeriodS": 60}
    eng = FilterEngine(parse_rules(rules))
    out = eng.on_telemetry(telemetry("pump", T0, {"Flow": 1.0}))
    for i in range(4):
        out += eng.on_score(score("pump", T0 + 10 * i, 2.0))
    out += eng.on_telemetry(telemetry("pump", T0 + 5, {"Flow": None}, bad=True))
    return out + eng.flush_summaries(None)


def test_anomaly_filter_outputs_decode_as_their_contracts() -> None:
    emits = _filter_emits()
    assert {e.kind for e in emits} == {"anomaly", "writeRequest", "summary"}
    sent = _sent([(e.output, e.body, {"kind": e.kind, "message_id": e.message_id}) for e in emits])
    for e, (output, msg) in zip(emits, sent, strict=True):
        model = CONTRACTS[e.kind].model
        assert model is not None and output == e.output
        env = decode_envelope(msg.data, model)
        assert env.id == e.message_id and isinstance(env.data, Contract)
        assert env.data.to_data() == json.loads(msg.data)["data"] == e.data
    anomalies = [json.loads(m.data)["data"] for o, m in sent if o == "anomalies"]
    assert anomalies and all(list(a)[: len(ANOMALY_KEYS)] == ANOMALY_KEYS for a in anomalies)


def test_opcua_writeback_audits_decode_full_or_cut_to_their_essentials() -> None:
    request = WriteRequest(request_id="r1", target="sp", value=float("nan"), source_timestamp=iso(T0))
    spec = TargetSpec(node_id="ns=2;s=V", min=0, max=100)
    full = audit_record(request, None, spec, "refused", "not finite", attempts=0)
    refused = audit_record(None, {"requestId": 5, "target": ["x"]}, None, "refused", "malformed: requestId")
    cut = {k: full.get(k) for k in ("requestId", "target", "nodeId", "result", "attempts")}
    for audit in (full, refused, {**cut, "reason": "audit cut to its essentials (too large)"}):
        [(_, msg)] = _sent([("audit", Audit.from_data(audit), {})])
        assert json.loads(msg.data)["data"] == audit
        assert decode_envelope(msg.data, Audit).data.result == audit["result"]


def test_upstream_router_alarms_and_batches_decode() -> None:
    payload = {"SourceName": {"Value": "Tank1"}, "ConditionName": {"Value": "High"}, "Severity": {"Value": 800},
               "ActiveState/Id": {"Value": True}, "EventId": {"Value": "AQID"}}  # fmt: skip
    message = {"MessageId": "n1", "PublisherId": "edge",
               "Messages": [{"DataSetWriterId": "tank", "MessageType": "ua-event", "Payload": payload}]}  # fmt: skip
    [alarm] = alarm_envelopes(message, source={"module": "upstream_router", "version": "1"}, now=T0)
    assert envelope_from_data(alarm, Alarm).data.severity == 800
    items = [Item(i, alarm["id"] + str(i), "alarm", T0, 0, json.dumps(alarm).encode()) for i in range(2)]
    enc = encode(items, compress=False, source={"module": "upstream_router", "version": "1"})
    batch = decode_envelope(enc.payload, Batch)
    assert (batch.id, batch.data.class_, batch.data.count) == (enc.message_id, "alarm", 2)
    assert [e["data"] for e in batch.data.events] == [alarm["data"]] * 2


def test_inference_model_evaluation_decodes() -> None:
    stats = ShadowStats("1", "2", candidate_ms=[1.0, 2.0], active_ms=[1.5], agreements=[1.0, 0.5])
    evaluation = ModelEvaluation.from_data(stats.summary("yolo"))
    assert (evaluation.samples, evaluation.agreement, evaluation.latency_ms.candidate.p50) == (2, 0.75, 1.0)


def _frame_scores(result: FrameResult) -> list[dict[str, Any]]:
    """What `InferenceService.on_frame` sends for one decoded frame (the model call stood in for)."""
    loaded = SimpleNamespace(
        name="yolo", version="2", runner=SimpleNamespace(meta=SimpleNamespace(threshold=0.5))
    )
    svc = InferenceService.__new__(InferenceService)

    async def detect(image: bytes, source: str) -> tuple[Any, FrameResult]:
        return loaded, result

    svc.detect = detect  # type: ignore[method-assign]
    client = _Client()
    ctx = Context("inference", "1", ModuleSettings(), client, Metrics("inference", "1"))  # type: ignore[arg-type]
    asyncio.run(svc.on_frame(ctx, b"jpeg", {"cameraId": "cam1", "seq": "7", "captureTs": iso(T0)}, "f1"))
    return [json.loads(m.data)["data"] for _, m in client.sent]


def test_inference_frame_scores_decode_with_or_without_class_ids() -> None:
    numbered = {"class": "scratch", "classId": 1, "confidence": 0.9, "bbox": [1.0, 2.0, 3.0, 4.0]}
    unnumbered = {"class": "dent", "confidence": 0.6, "bbox": [0.0, 0.0, 5.0, 5.0]}  # vision/post.py's shape
    [frame] = _frame_scores(FrameResult([numbered, unnumbered], 640, 480, []))
    assert list(frame) == [*SCORE_KEYS, "cameraId", "seq", "captureTs", "detections"]
    assert frame["detections"] == [numbered, unnumbered] and frame["score"] == 0.9
    assert Score.from_data(frame).seq == 7


def test_inference_classifier_frames_carry_their_classes() -> None:
    top = [
        {"class": "ok", "classId": 0, "confidence": 0.7},
        {"class": "bad", "classId": 1, "confidence": 0.3},
    ]
    [frame] = _frame_scores(FrameResult([], 224, 224, top))
    assert (
        frame["classes"] == top
        and frame["score"] == 0.7
        and frame["contributions"] == {"ok": 0.7, "bad": 0.3}
    )
    assert Score.from_data(frame).classes != msgspec.UNSET
