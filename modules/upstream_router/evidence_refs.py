"""An event's references to its evidence blobs, rewritten when a blob is given up."""

from __future__ import annotations

import json
from typing import Any


def without_blob(body: bytes, path: str) -> bytes:
    """An event's envelope without its reference to the blob at `path`, marked `evidenceDropped`."""
    try:
        env = json.loads(body)
    except ValueError:
        return body
    data = env.get("data") if isinstance(env, dict) else None
    if not isinstance(data, dict):
        return body
    raw = data.get("evidence")
    evidence: dict[str, Any] = raw if isinstance(raw, dict) else {}
    blobs = [b for b in evidence.get("blobs", []) if not str(b.get("url", "")).endswith(path)]
    if evidence:
        data["evidence"] = {**evidence, "blobs": blobs}
    if str(data.get("blobUrl") or "").endswith(path):
        data["blobUrl"] = blobs[0]["url"] if blobs else None
    data["evidenceDropped"] = "storeQuota"
    return json.dumps(env, separators=(",", ":")).encode()
