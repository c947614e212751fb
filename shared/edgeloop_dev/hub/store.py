"""The hub's on-disk state (sqlite, WAL): stored messages per endpoint, sessions, twins, counters."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeloop_dev.hub.errors import HubError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL, priority INTEGER NOT NULL,
    enqueued REAL NOT NULL, expires REAL NOT NULL, bag TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (client_id TEXT PRIMARY KEY, filters TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS twins (
    module TEXT PRIMARY KEY, desired TEXT NOT NULL, reported TEXT NOT NULL, baseline TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoreError(HubError):
    """The state database could not be read or written."""


@dataclass(slots=True)
class StoredMessage:
    """A message waiting for (or in flight to) one module input endpoint."""

    id: int
    endpoint: str  # "{module}/{input}"
    priority: int
    enqueued: float
    expires: float  # Unix time; float("inf") for no expiry
    bag: str  # the delivery property bag, already encoded
    body: bytes


@dataclass(slots=True)
class TwinRecord:
    """A module twin's persisted state."""

    desired: dict[str, Any]
    reported: dict[str, Any]
    baseline: dict[str, Any]  # the manifest's desired section the last time it was applied


class Store:
    """Synchronous sqlite access; used from the hub's event loop in batched transactions."""

    def __init__(self, path: Path, checkpoint_interval_s: float = 2.0) -> None:
        self._path = path
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # commits survive a process crash (kill -9)
            # checkpoints (which fsync) run on a thread of their own, never on the event loop
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the hub store {path}: {exc}") from exc
        self._stop = threading.Event()
        self._interval = checkpoint_interval_s
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="store-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        db = sqlite3.connect(str(self._path), isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self._interval):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    continue  # busy: next time
        finally:
            db.close()

    def close(self) -> None:
        """Stop the checkpointer, checkpoint once more and close the database."""
        self._stop.set()
        self._checkpointer.join(5)
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self._db.close()

    def load_messages(self) -> list[StoredMessage]:
        """Every stored message, oldest first."""
        rows = self._db.execute(
            "SELECT id, endpoint, priority, enqueued, expires, bag, body FROM messages ORDER BY id"
        ).fetchall()
        return [StoredMessage(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6])) for r in rows]

    def max_id(self) -> int:
        """The largest message id used so far (0 when empty)."""
        row = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()
        stored = int(row[0])
        return max(stored, int(self.get_meta("last_message_id") or 0))

    def write(self, inserts: list[StoredMessage], deletes: list[int], last_id: int) -> None:
        """Insert and delete messages in one transaction (committed before any PUBACK is sent)."""
        try:
            self._db.execute("BEGIN")
            if inserts:
                self._db.executemany(
                    "INSERT OR REPLACE INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(m.id, m.endpoint, m.priority, m.enqueued, m.expires, m.bag, m.body) for m in inserts],
                )
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('last_message_id', ?)", (str(last_id),))
            if deletes:
                self._db.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in deletes])
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StoreError(f"cannot write the hub store: {exc}") from exc

    def load_sessions(self) -> dict[str, list[str]]:
        """Subscriptions per client id, as persisted."""
        rows = self._db.execute("SELECT client_id, filters FROM sessions").fetchall()
        return {r[0]: list(json.loads(r[1])) for r in rows}

    def save_session(self, client_id: str, filters: list[str]) -> None:
        """Persist one client's subscriptions."""
        self._db.execute("INSERT OR REPLACE INTO sessions VALUES (?, ?)", (client_id, json.dumps(filters)))

    def load_twin(self, module: str) -> TwinRecord | None:
        """A module twin, or None when none has been stored."""
        row = self._db.execute(
            "SELECT desired, reported, baseline FROM twins WHERE module = ?", (module,)
        ).fetchone()
        if row is None:
            return None
        return TwinRecord(json.loads(row[0]), json.loads(row[1]), json.loads(row[2]))

    def save_twin(self, module: str, twin: TwinRecord) -> None:
        """Persist a module twin."""
        self._db.execute(
            "INSERT OR REPLACE INTO twins VALUES (?, ?, ?, ?)",
            (module, json.dumps(twin.desired), json.dumps(twin.reported), json.dumps(twin.baseline)),
        )

    def get_meta(self, key: str) -> str | None:
        """A small persisted value."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Persist a small value."""
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
