"""The closed-loop benchmark's hop table follows one decision from its OPC UA row to the plant's write."""

from __future__ import annotations

from typing import Any

from edgeloop_dev.demo.hops import HOPS, chains, hop_ms

SOURCE = "2026-12-05T05:00:00.000Z"


def upstream(module: str, enqueued_ms: int, payload: dict[str, Any], mid: str = "") -> dict[str, Any]:
    """One upstream.jsonl line as the local hub writes it."""
    return {"event": {"module": module, "payload": payload, "properties": {"system": {"message_id": mid}},
                      "annotations": {"iothub-enqueuedtime": enqueued_ms}}}  # fmt: skip


def envelope(kind: str, ts: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "kind": kind, "id": kind, "ts": ts, "source": {"module": "m"}, "data": data}


T0 = 1_796_446_800_000  # SOURCE in epoch milliseconds


def one_decision() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    telemetry = {
        "MessageId": "pubsub-1",  # the score names the transport message id, not this one
        "MessageType": "ua-data",
        "Messages": [
            {
                "DataSetWriterId": "pump",
                "Timestamp": "2026-12-05T05:00:00.100Z",
                "Payload": {
                    "Flow": {"Value": 1.0, "SourceTimestamp": "2026-12-05T04:59:59.900Z"},
                    "Speed": {"Value": 2.0, "SourceTimestamp": SOURCE},
                },
            }
        ],
    }
    score = {
        "type": "window",
        "asset": "pump",
        "sourceTimestamp": SOURCE,
        "sourceMessageIds": ["n0", "net-1"],
    }
    action = {"requestId": "r1", "asset": "pump", "target": "pumpAnomalyFlag", "value": True,
              "sourceTimestamp": SOURCE}  # fmt: skip
    audit = {"requestId": "r1", "nodeId": "nsu=x;s=AI.Pump.AnomalyFlag", "value": True, "result": "applied",
             "sourceTimestamp": SOURCE, "appliedAt": "2026-12-05T05:00:00.190Z"}  # fmt: skip
    events = [
        upstream("opcua_ingest", T0 + 110, telemetry, mid="net-1"),
        upstream("inference", T0 + 130, envelope("score", "2026-12-05T05:00:00.125Z", score)),
        upstream("anomaly_filter", T0 + 150, envelope("writeRequest", "2026-12-05T05:00:00.140Z", action)),
        upstream("upstream_router", T0 + 200, envelope("audit", "2026-12-05T05:00:00.195Z", audit)),
    ]
    writes = [{"ts": "2026-12-05T05:00:00.170Z", "node": "AI.Pump.AnomalyFlag", "value": True}]
    return events, writes


def test_every_hop_of_one_decision_is_timed_from_the_messages_own_timestamps() -> None:
    events, writes = one_decision()
    hops = hop_ms(chains(events, writes))
    got = {name: round(v[0]) for name, v in hops.items()}
    assert got == {
        HOPS[0][0]: 100,
        HOPS[1][0]: 10,
        HOPS[2][0]: 15,
        HOPS[3][0]: 5,
        HOPS[4][0]: 10,
        HOPS[5][0]: 10,
        HOPS[6][0]: 20,
        HOPS[7][0]: 20,
        "source -> applied (end to end)": 170,
        "ingest -> applied (the pipeline after OPC UA publishing)": 70,
    }


def test_a_decision_whose_score_was_not_tapped_still_counts_end_to_end() -> None:
    events, writes = one_decision()
    hops = hop_ms(chains([e for e in events if e["event"]["module"] != "inference"], writes))
    assert [round(v) for v in hops["source -> applied (end to end)"]] == [170]
    assert hops[HOPS[2][0]] == []
