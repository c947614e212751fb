"""The chaos harness's own parts: the tap's witness lines and the manifest it is wired into."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from edgeloop_dev.chaos.pipeline import TAP, TAP_ROUTES, add_tap
from edgeloop_dev.chaos.tap.chaos_tap.app import witness
from edgeloop_dev.demo.services import render_debug_manifest
from edgeloop_runtime import InputMessage


def test_witness_of_telemetry_names_bad_fields_only() -> None:
    body = {
        "Messages": [
            {
                "DataSetWriterId": "pump",
                "Payload": {
                    "Flow": {
                        "Value": None,
                        "StatusCode": {"Code": 2150957056, "Symbol": "BadNoCommunication"},
                    },
                    "Vibration": {"Value": 1.0},
                },
            }
        ]
    }
    line = witness(InputMessage("telemetry", json.dumps(body).encode(), message_id="m1"), 12.5)
    assert line == {"t": 12.5, "in": "telemetry", "mid": "m1", "bad": ["pump/Flow:BadNoCommunication"]}


def test_witness_of_a_compressed_anomaly_keeps_its_ids() -> None:
    env = {"v": 1, "kind": "anomaly", "id": "e1", "correlationId": None,
           "data": {"eventId": "ep1", "asset": "pump", "state": "open", "window": {"fields": {}}}}  # fmt: skip
    msg = InputMessage(
        "anomalies", gzip.compress(json.dumps(env).encode()), message_id="e1", content_encoding="gzip"
    )
    line = witness(msg, 1.0)
    assert (line["id"], line["eventId"], line["asset"], line["state"]) == ("e1", "ep1", "pump", "open")
    assert "window" not in line


def test_witness_of_garbage_records_the_error() -> None:
    assert "error" in witness(InputMessage("audit", b"{not json"), 1.0)


def test_the_tap_joins_the_rendered_debug_manifest(tmp_path: Path) -> None:
    manifest = render_debug_manifest(tmp_path, {"BLOB_CONNECTION_STRING": "x", "EDGELOOP_STATE_DIR": str(tmp_path)},
                                     "opc.tcp://127.0.0.1:4841")  # fmt: skip
    doc = add_tap(manifest, tmp_path / "tap.jsonl")
    assert json.loads(manifest.read_text()) == doc
    modules = doc["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]
    assert modules[TAP]["env"]["TAP_FILE"]["value"] == str(tmp_path / "tap.jsonl")
    assert modules["inference"]["env"]["REST_PORT"]["value"] == "0"
    routes = doc["modulesContent"]["$edgeHub"]["properties.desired"]["routes"]
    for source, tap_input, _prio in TAP_ROUTES:
        assert f"/messages/modules/{source} " in routes[f"chaosTap_{tap_input}"]["route"]
