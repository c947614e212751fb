"""`edgeloop upstream --decode`: one line per event of upstream.jsonl (batches unpacked, gzip undone)."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any


def _body(event: dict[str, Any]) -> Any:
    """The message body as JSON: as stored, or gunzipped where the router compressed it."""
    system = event.get("properties", {}).get("system", {})
    payload = event.get("payload")
    if system.get("content_encoding") == "gzip" and isinstance(payload, str):
        raw = base64.b64decode(payload) if system.get("payload-encoding") == "base64" else payload.encode()
        return json.loads(gzip.decompress(raw))
    return payload


def decoded_lines(line: str) -> list[str]:
    """The events one upstream.jsonl line carries, each as a compact JSON line with where it came from."""
    event = json.loads(line)["event"]
    system = event.get("properties", {}).get("system", {})
    application = event.get("properties", {}).get("application", {})
    try:
        body = _body(event)
    except (ValueError, OSError) as exc:  # not gzip or not JSON after all: say so, keep the raw line
        return [json.dumps({"module": event.get("module"), "undecodable": str(exc)})]
    head = {"module": event.get("module"), "messageId": system.get("message_id"), **application}
    if isinstance(body, dict) and body.get("kind") == "batch":
        events = body.get("data", {}).get("events", [])
        batch = body.get("id")
        return [json.dumps({**head, "batch": batch, "event": e}, separators=(",", ":")) for e in events]
    return [json.dumps({**head, "event": body}, separators=(",", ":"))]
