"""Every contract by name: what module.json declares per input and output, the linter and the docs read."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from . import frames
from .alarm import Alarm
from .anomaly import Anomaly
from .audit import Audit
from .batch import Batch
from .deadletter import DeadLetter
from .drift import Drift
from .evaluation import ModelEvaluation
from .prediction import Prediction
from .score import Score
from .summary import Summary
from .write_request import WriteRequest


@dataclass(frozen=True, slots=True)
class ContractInfo:
    """One contract: its name, how its body is carried, and its model (None for opaque bodies like JPEG)."""

    name: str
    content_type: str
    model: type[msgspec.Struct] | None
    enveloped: bool = True
    summary: str = ""


# Every contract, listed here (no import-time magic) so grep finds each one.
_JSON = "application/json"


def _json(model: type[msgspec.Struct], kind: str, summary: str) -> tuple[str, ContractInfo]:
    return kind, ContractInfo(kind, _JSON, model, summary=summary)


# Every contract, listed by hand (no import-time magic) so grep finds each one: name -> info.
CONTRACTS: dict[str, ContractInfo] = dict(
    [
        _json(Score, Score.KIND, "a sensor window's or a camera frame's score (inference -> anomaly_filter)"),
        _json(Drift, Drift.KIND, "features that left the training baseline (inference -> upstream_router)"),
        _json(Prediction, Prediction.KIND, "a REST prediction, also sent on PREDICTIONS_OUTPUT (inference)"),
        _json(
            ModelEvaluation, ModelEvaluation.KIND, "a shadow candidate against the active version (inference)"
        ),
        _json(
            Anomaly,
            Anomaly.KIND,
            "an anomaly event's open/escalate/close (anomaly_filter -> upstream_router)",
        ),
        _json(
            WriteRequest,
            WriteRequest.KIND,
            "a value for an allow-listed target (anomaly_filter -> opcua_writeback)",
        ),
        _json(Summary, Summary.KIND, "per-asset aggregates of a period (anomaly_filter -> upstream_router)"),
        _json(Audit, Audit.KIND, "the outcome of one write request (opcua_writeback -> upstream_router)"),
        _json(Alarm, Alarm.KIND, "one plant alarm or event (upstream_router -> $upstream)"),
        _json(Batch, Batch.KIND, "stored events of one class in one message (upstream_router -> $upstream)"),
        _json(
            DeadLetter,
            DeadLetter.KIND,
            "a module's dead letter and what failed (upstream_router -> $upstream)",
        ),
    ]
)
CONTRACTS[frames.NAME] = ContractInfo(
    frames.NAME, frames.CONTENT_TYPE, None, enveloped=False, summary=frames.SUMMARY
)


def _register_pubsub() -> None:
    """The OPC UA PubSub telemetry contract (not enveloped: the body is OPC Publisher's network message)."""
    from . import pubsub

    CONTRACTS["opcua-pubsub"] = ContractInfo(
        name="opcua-pubsub",
        content_type="application/json",
        model=pubsub.NetworkMessage,
        enveloped=False,
        summary="OPC UA Part 14 PubSub JSON network message as OPC Publisher emits it (ua-data; "
        "ua-deltaframe/ua-keyframe/ua-keepalive/ua-event data set messages; no StatusCode means Good)",
    )


_register_pubsub()
