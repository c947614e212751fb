"""The demo's model and upstream panels read what inference and the router really report, in words."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from edgeloop_dev.demo.dashboard import model_panel, upstream_panel
from edgeloop_dev.demo.observe import DemoState


def _text(renderable: Any) -> str:
    console = Console(width=120, record=True)
    console.print(renderable)
    return console.export_text()


def test_model_panel_shows_each_loaded_model_version_and_provider() -> None:
    reported = {  # inference's reported properties: {"models": manager.status()}
        "models": {
            "loaded": {
                "sensor_anomaly": {"version": "3", "provider": "cpu", "kind": "sensor-window"},
                "defect_detector": {"version": "2", "provider": "cuda", "kind": "detector"},
            },
            "refused": {"defect_detector/3": "checksum mismatch"},
        }
    }
    text = _text(model_panel(reported))
    assert "sensor_anomaly v3 on cpu" in text and "defect_detector v2 on cuda" in text
    assert "refused: defect_detector/3 (checksum mismatch)" in text
    assert "vNone" not in text and "loaded" not in text


def test_upstream_panel_reads_budget_link_and_queues_in_words() -> None:
    state = DemoState(upstream_messages=4, upstream_bytes=12345)
    state.by_class.update({"anomaly": 3, "summary": 1})
    router = {  # upstream_router's getQueueStatus answer
        "queues": {
            "anomaly": {"messages": 2.0, "bytes": 900.0, "oldestAgeS": 1.5},
            "drift": {"messages": 0.0},
        },
        "budget": {"bytesPerHour": 5000000, "tokens": 4321},
        "link": {"up": False, "forcedDown": True, "failures": 3, "outages": 1, "lastError": "forced down"},
    }
    text = _text(upstream_panel(state, router))
    assert "messages 4   bytes 12,345" in text and "anomaly 3, summary 1" in text
    assert "budget: 5,000,000 B/h, 4,321 B available now" in text
    assert "link: forced down, 1 outages, 3 failed sends (last: forced down)" in text
    assert "waiting: anomaly 2" in text
    assert "{" not in text  # no Python dict reprs


def test_panels_before_anything_is_reported() -> None:
    assert "(waiting for inference)" in _text(model_panel({}))
    assert "by class: -" in _text(upstream_panel(DemoState(), {}))


def test_every_anomaly_lands_on_a_labelled_row_of_the_report() -> None:
    from edgeloop_dev.demo.report import timeline_rows
    from edgeloop_dev.plant import ASSETS

    state = DemoState()
    state.anomaly_opens += [{"asset": "pump"}, {"asset": "line1"}, {"asset": "crusher"}, {"asset": "line1"}]
    rows = timeline_rows(state)
    assert list(rows)[: len(ASSETS)] == list(ASSETS)
    assert "line1" in rows and len(set(rows.values())) == len(rows)
