"""The DCS's write audit trail: one JSON line per write received, appended to `plant-writes.jsonl`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AUDIT_FILE = "plant-writes.jsonl"


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return repr(value)


class WriteAudit:
    """Appends write records; each line is flushed so a reader sees it at once."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / AUDIT_FILE
        state_dir.mkdir(parents=True, exist_ok=True)

    def record(
        self,
        *,
        node: str,
        value: Any,
        variant_type: str,
        status: str,
        writer: str,
        source_timestamp: datetime | None,
    ) -> dict[str, Any]:
        """Append one write and return the record."""
        rec = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "node": node,
            "value": _jsonable(value),
            "variantType": variant_type,
            "status": status,
            "writer": writer,
            "sourceTimestamp": source_timestamp.isoformat() if source_timestamp else None,
        }
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
        return rec


def read_audit(state_dir: Path) -> list[dict[str, Any]]:
    """Every record written so far (empty when none)."""
    path = state_dir / AUDIT_FILE
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
