"""The filter's durable state on the module's volume: the engine's snapshot, written crash-safely."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeloop_runtime import get_logger
from edgeloop_runtime.durable import read_json, write_atomic

EPISODES_FILE = "episodes.json"
_log = get_logger(__name__)


class StateFile:
    """Save a snapshot only when it changed (temp file, fsync, rename); load it at start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.saved: dict[str, Any] = {}
        self._bytes = b""
        self.writes = 0

    def load(self) -> dict[str, Any] | None:
        """The snapshot saved by the previous run, or None (first start, or unreadable: logged)."""
        try:
            doc = read_json(self.path)
        except (OSError, ValueError) as exc:
            _log.error("episode state unreadable; starting without it", path=str(self.path), error=str(exc))
            return None
        if not isinstance(doc, dict):
            return None
        self.saved = doc
        self._bytes = _encode(doc)
        return doc

    def save(self, doc: dict[str, Any]) -> None:
        """Persist the snapshot if it differs from the last one saved; OSError propagates."""
        data = _encode(doc)
        if data == self._bytes:
            return
        write_atomic(self.path, data)
        self.saved, self._bytes = doc, data
        self.writes += 1


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
