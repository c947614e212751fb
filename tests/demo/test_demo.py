"""`edgeloop demo --duration` closes the loop: a fault detected, written back to the plant, reported upstream."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from edgeloop_dev.demo.observe import DemoState, upstream_envelopes
from edgeloop_dev.demo.summary import percentile, summarize
from edgeloop_dev.hub.az_payload import NON_DECODABLE_PAYLOAD
from edgeloop_dev.hub.harness import pick_hub_host
from edgeloop_dev.hub.upstream import BODIES_DIR
from edgeloop_dev.plant import ASSETS, Fault, free_port
from edgeloop_dev.plant.faults import FaultKind


def test_percentile_interpolates() -> None:
    assert percentile([], 50) is None
    assert percentile([10.0], 99) == 10.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


def _anomaly(asset: str, source_ts: str) -> dict[str, object]:
    return {
        "kind": "anomaly",
        "data": {"eventId": "e1", "state": "open", "asset": asset, "sourceTimestamp": source_ts},
    }


def test_summary_needs_detection_writeback_and_upstream() -> None:
    fault = Fault("f1", "spike", "pump", ("Pump.Flow",), 10.0, 11.0)
    start = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    state = DemoState()
    assert summarize(state, [fault], start, 60).missing == (
        "no injected fault was detected",
        "no write-back reached the plant",
        "no anomaly reached upstream",
    )
    state._add_envelope(_anomaly("pump", "2027-01-15T08:00:12Z"), None)
    state._add_envelope(
        {
            "kind": "audit",
            "data": {
                "result": "applied",
                "sourceTimestamp": "2027-01-15T08:00:12.000Z",
                "appliedAt": "2027-01-15T08:00:12.150Z",
            },
        },
        None,
    )
    state.add_plant_write({"node": "AI.Pump.AnomalyFlag", "value": True})
    summary = summarize(state, [fault], start, 60)
    assert summary.loop_closed and summary.faults_detected == 1
    assert summary.writeback_latency_p50_ms == pytest.approx(150.0, abs=1)


def test_wrong_asset_does_not_count_as_detection() -> None:
    fault = Fault("f1", "spike", "pump", ("Pump.Flow",), 10.0, 11.0)
    state = DemoState()
    state._add_envelope(_anomaly("crusher", "2027-01-15T08:00:12Z"), None)
    assert summarize(state, [fault], 1_800_000_000.0, 60).faults_detected == 0


def test_the_summary_counts_each_kind_on_each_asset() -> None:
    faults = [
        Fault("f1", "spike", "pump", ("Pump.Flow",), 10.0, 11.0),
        Fault("f2", "stuck", "conveyor", ("Conveyor.Load",), 70.0, 80.0),
        Fault("f3", "spike", "pump", ("Pump.Flow",), 200.0, 201.0),  # after the run: not injected
    ]
    state = DemoState()
    state._add_envelope(_anomaly("pump", "2027-01-15T08:00:12Z"), None)
    summary = summarize(state, faults, 1_800_000_000.0, 120)
    assert summary.faults_by_kind == {"spike on pump": [1, 1], "stuck on conveyor": [1, 0]}


def test_upstream_batches_are_unpacked(tmp_path: Path) -> None:
    import gzip

    batch = {"kind": "batch", "data": {"events": [_anomaly("pump", "x"), _anomaly("crusher", "y")]}}
    raw = gzip.compress(json.dumps(batch).encode())
    (tmp_path / BODIES_DIR).mkdir()
    (tmp_path / BODIES_DIR / "7.bin").write_bytes(raw)  # what the hub keeps of a body az cannot print
    event = {
        "event": {
            "payload": NON_DECODABLE_PAYLOAD,
            "properties": {"system": {"content_encoding": "gzip", "content_type": "application/json"}},
            "annotations": {"x-opt-sequence-number": 7},
        }
    }
    envelopes, size = upstream_envelopes(event, tmp_path)
    assert [e["data"]["asset"] for e in envelopes] == ["pump", "crusher"]
    assert size == len(raw)


# What the pipeline cannot detect, and why (the demo's summary still shows it injected):
UNDETECTABLE = {
    # OPC UA Uncertain is not Bad: the filter leaves uncertain values out of the model's windows and
    # raises no data-quality event for them (only Bad does), so nothing opens while the status lasts.
    "uncertain_status": "uncertain values are left out of windows; only Bad status opens a data-quality event",
}


@pytest.mark.xdist_group("demo")
@pytest.mark.timeout(420)
def test_demo_closes_the_loop_and_shows_every_fault_kind_in_its_default_two_minutes(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    result = subprocess.run(
        [
            sys.executable, "-m", "edgeloop_dev.cli", "demo", "--no-tui",
            "--state-dir", str(state),
            "--host", pick_hub_host(),
            "--plant-port", str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=360,
    )  # fmt: skip
    summary = json.loads((state / "summary.json").read_text())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert summary["loop_closed"] and summary["faults_detected"] >= 1
    assert summary["writebacks_applied"] >= 1 and summary["plant_writes"] >= 1
    by_kind = {key.split(" on ")[0]: counts for key, counts in summary["faults_by_kind"].items()}
    assert set(by_kind) == set(get_args(FaultKind))  # every kind injected within the two minutes
    assert {key.split(" on ")[1] for key in summary["faults_by_kind"]} == set(ASSETS)
    missed = {kind for kind, (_injected, detected) in by_kind.items() if detected == 0}
    assert missed <= set(UNDETECTABLE), summary["faults_by_kind"]
    for produced in (
        "upstream.jsonl",
        "plant/plant-writes.jsonl",
        "report.html",
        "report.png",
        "logs/inference.log",
    ):
        assert (state / produced).exists(), produced
