"""The last desired document the module applied, kept crash-safe on its volume for a refused start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .durable import read_json, write_json
from .envelope import utc_now_iso
from .logs import get_logger
from .metrics import Metrics

LAST_VALID_FILE = "last-valid-config.json"
_log = get_logger(__name__)


@dataclass(frozen=True)
class Saved:
    """A persisted desired document and its twin version."""

    desired: dict[str, Any]
    version: int | None


class LastValidConfig:
    """Save the desired document on every successful apply; load it when the twin's is refused."""

    def __init__(self, path: Path, metrics: Metrics) -> None:
        self.path = path
        self._failures = metrics.counter(
            "last_valid_config_save_failures_total", "Applied configurations that could not be persisted."
        )

    def save(self, desired: dict[str, Any], version: int | None) -> None:
        """Persist (temp file, fsync, rename); a failure is logged and counted, the config stays applied."""
        try:
            write_json(self.path, {"desired": desired, "desiredVersion": version, "savedAt": utc_now_iso()})
        except OSError as exc:
            self._failures.inc()
            _log.warning("last valid configuration not persisted", path=str(self.path), error=str(exc))

    def load(self) -> Saved | None:
        """The persisted document, or None when there is none (or it cannot be read)."""
        try:
            doc = read_json(self.path)
        except (OSError, ValueError) as exc:
            _log.warning("persisted configuration unreadable; ignored", path=str(self.path), error=str(exc))
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("desired"), dict):
            return None
        version = doc.get("desiredVersion")
        return Saved(doc["desired"], version if isinstance(version, int) else None)
