"""What a dead letter may carry upstream of its original body: redacted JSON, or only its size and hash."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from edgeloop_runtime import ContractError, InputMessage
from edgeloop_runtime.compliance import CompliancePolicy, redact_keys

BODY_LIMIT = 16384


def deadletter_body(msg: InputMessage, policy: CompliancePolicy) -> dict[str, Any]:
    """The body fields of a wrapped dead letter: never the raw bytes.

    A JSON body (gzip undone) goes with the policy's keys redacted, cut to 16 KB after redaction;
    anything else (binary, text that is not JSON) goes as its size and SHA-256 only.
    """
    raw = msg.data
    facts: dict[str, Any] = {"bodyBytes": len(raw), "bodySha256": hashlib.sha256(raw).hexdigest()}
    try:
        parsed = msg.json()
    except ContractError:
        return {**facts, "bodyEncoding": "omitted", "body": None, "truncated": False}
    redacted = redact_keys(parsed, set(policy.redact_keys))
    text = json.dumps(redacted, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode()) <= BODY_LIMIT:
        return {**facts, "bodyEncoding": "json", "body": redacted, "truncated": False}
    cut = text.encode()[:BODY_LIMIT].decode(errors="ignore")
    return {**facts, "bodyEncoding": "text", "body": cut, "truncated": True}
