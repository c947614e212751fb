"""Paths and small readers shared by the deployment tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = ROOT / "deployment"
TEMPLATES = {
    "production": DEPLOYMENT / "deployment.template.json",
    "debug": DEPLOYMENT / "deployment.local.template.json",
}
# Every module of the pipeline; example_module is the runtime's example, not part of a deployment.
PIPELINE = (
    "opcua_ingest",
    "camera_ingest",
    "inference",
    "anomaly_filter",
    "opcua_writeback",
    "upstream_router",
)


def load(path: Path) -> dict[str, Any]:
    """Read one JSON file."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc
