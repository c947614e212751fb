"""`edgeloop upstream --decode`: one line per event of upstream.jsonl (batches unpacked, gzip undone)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from edgeloop_dev.hub.upstream import raw_body


def message_body(record: dict[str, Any], state_dir: Path) -> Any:
    """The message body as JSON: as az printed it, or from the kept bytes (gunzipped) where az could not."""
    event = record.get("event", {})
    system = event.get("properties", {}).get("system", {})
    raw = raw_body(state_dir, record)
    if raw is None:
        return event.get("payload")
    if str(system.get("content_encoding", "")).lower() == "gzip":
        raw = gzip.decompress(raw)
    return json.loads(raw)


def decoded_lines(line: str, state_dir: Path) -> list[str]:
    """The events one upstream.jsonl line carries, each as a compact JSON line with where it came from."""
    record = json.loads(line)
    event = record["event"]
    system = event.get("properties", {}).get("system", {})
    application = event.get("properties", {}).get("application", {})
    try:
        body = message_body(record, state_dir)
    except (ValueError, OSError) as exc:  # not gzip or not JSON after all: say so, keep the raw line
        return [json.dumps({"module": event.get("module"), "undecodable": str(exc)})]
    head = {"module": event.get("module"), "messageId": system.get("message_id"), **application}
    if isinstance(body, dict) and body.get("kind") == "batch":
        events = body.get("data", {}).get("events", [])
        batch = body.get("id")
        return [json.dumps({**head, "batch": batch, "event": e}, separators=(",", ":")) for e in events]
    return [json.dumps({**head, "event": body}, separators=(",", ":"))]
