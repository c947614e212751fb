"""Application properties on every upstream message, for IoT Hub routing queries that never read the body."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .classes import NEVER_WAIT

# IoT Hub: property names and values are ASCII letters and digits plus these (HTTPS rule; the strictest).
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9!#$%&'*+\-.^_`|~]")
MAX_VALUE_CHARS = 128  # ours: with at most 10 properties the set stays far under the 256 KB message limit
SCHEMA = "edgeloop-envelope"
SCHEMA_VERSION = "1"
SEVERITY_ORDER = ("info", "warning", "critical")
PRIORITY_OF: dict[str, str] = {"event": "normal", "drift": "normal", "summary": "low"}


def clean(value: str) -> str:
    """A property value IoT Hub accepts: disallowed characters become `_`, at most MAX_VALUE_CHARS."""
    return _NOT_ALLOWED.sub("_", value)[:MAX_VALUE_CHARS]


def priority(cls: str) -> str:
    """`high` for the classes the budget never holds back, `normal` for events and drift, else `low`."""
    return "high" if cls in NEVER_WAIT else PRIORITY_OF.get(cls, "low")


def _data(env: dict[str, Any]) -> dict[str, Any]:
    data = env.get("data")
    return data if isinstance(data, dict) else {}


def _joined(values: Iterable[str]) -> str:
    """Several values as one: each cleaned, sorted, `|`-separated (a comma is not allowed in a property)."""
    return "|".join(sorted({clean(v) for v in values}))[:MAX_VALUE_CHARS]


def routing_properties(
    cls: str, envelopes: list[dict[str, Any]], *, batch: bool, encoding: str
) -> dict[str, str]:
    """The properties of one upstream message carrying these envelopes (one, or a `batch` of them)."""
    props = {
        "class": cls,
        "priority": priority(cls),
        "kind": _joined(str(e.get("kind", "unknown")) for e in envelopes),
        "events": str(len(envelopes)),
        "schema": f"{SCHEMA}-batch" if batch else SCHEMA,
        "schemaVersion": SCHEMA_VERSION,
        "encoding": "gzip" if encoding == "gzip" else "json",
    }
    assets = {str(a) for a in (_data(e).get("asset") for e in envelopes) if a not in (None, "")}
    if len(assets) == 1:
        props["asset"] = clean(assets.pop())
    elif assets:
        props["assets"] = _joined(assets)
    severities = [s for s in (_data(e).get("severity") for e in envelopes) if s in SEVERITY_ORDER]
    if severities:
        props["severity"] = max(severities, key=SEVERITY_ORDER.index)
    if any(_data(e).get("blobUrl") for e in envelopes):
        props["evidence"] = "blob"
    return props
