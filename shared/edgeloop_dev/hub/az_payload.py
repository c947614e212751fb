"""A message body as `az iot hub monitor-events` prints it (azure-iot CLI extension's decoding, mirrored)."""

from __future__ import annotations

import json
import re
from typing import Any

# What az prints for a body that no unicode codec decodes (azext_iot.constants.NON_DECODABLE_PAYLOAD).
NON_DECODABLE_PAYLOAD = "{{non-decodable payload}}"
# az strips escaped line breaks (a backslash then r or n, as text) before parsing JSON.
_ESCAPED_BREAKS = re.compile(r"(\\r\\n)+|\\r+|\\n+")


def unicode_text(body: bytes) -> str | None:
    """The body as text: utf-8, else utf-16, else utf-32, else None (az's unicode_decode)."""
    for encoding in ("utf-8", "utf-16", "utf-32"):
        try:
            return body.decode(encoding)
        except UnicodeError:
            continue
    return None


def az_payload(body: bytes, content_type: str | None) -> Any:
    """What az prints as `payload`: JSON parsed for application/json, else text or the placeholder."""
    text = unicode_text(body) if body else ""
    payload: Any = NON_DECODABLE_PAYLOAD if text is None else text
    if "application/json" in (content_type or "").lower():
        try:
            payload = json.loads(_ESCAPED_BREAKS.sub("", payload))
        except ValueError:
            pass  # az logs an issue and prints the text as it is
    return payload


def prints_verbatim(body: bytes) -> bool:
    """Whether the body can be rebuilt from what az prints (UTF-8 text); else it is kept beside the log."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
