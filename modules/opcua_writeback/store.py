"""Durable safety state on the module's volume: operator switch, request outbox/duplicate window, history.

SQLite in WAL mode with `synchronous=FULL`: a committed transaction survives kill -9 and power loss
(fsync of the WAL before COMMIT returns), one file plus its WAL, readable with the sqlite3 shell.
Every change is one short transaction; the module holds one connection and one writer at a time.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS control (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    key TEXT PRIMARY KEY,          -- the request id (or sha256: of a long one)
    received_at REAL NOT NULL,     -- wall clock, seconds since the epoch
    phase TEXT NOT NULL,           -- 'writing': intent on disk, outcome unknown; 'decided': audit final
    audit TEXT NOT NULL,           -- the audit record (JSON); for 'writing' the intent
    sent INTEGER NOT NULL DEFAULT 0,
    corr TEXT,                     -- the correlation id the audit is sent with
    node TEXT                      -- for 'writing': the node written (history after a crash)
);
CREATE INDEX IF NOT EXISTS requests_unsent ON requests (sent) WHERE sent = 0;
CREATE INDEX IF NOT EXISTS requests_age ON requests (received_at);
CREATE TABLE IF NOT EXISTS history (
    node TEXT PRIMARY KEY,         -- endpoint + ' ' + nodeId: the node actually written
    value TEXT NOT NULL,           -- JSON of the value written
    written_at REAL NOT NULL       -- wall clock when the write was confirmed
);
"""
STATE_FILE = "writeback.db"


@dataclass(frozen=True)
class Operator:
    """The operator's switch (`setEnabled`) and the desired `enabled` in force when it was thrown."""

    enabled: bool
    desired_at_switch: bool


@dataclass(frozen=True)
class Entry:
    """One request in the outbox / duplicate window."""

    key: str
    phase: str
    audit: dict[str, Any]
    sent: bool
    correlation_id: str | None = None
    node: str | None = None


@dataclass(frozen=True)
class Written:
    """The last value actually written to a node, and when (wall clock)."""

    value: Any
    written_at: float


def request_key(request_id: str) -> str:
    """The store key of a request id: itself, or its sha256 when long."""
    if len(request_id) <= 200:
        return request_id
    return "sha256:" + hashlib.sha256(request_id.encode("utf-8", "surrogatepass")).hexdigest()


class SafetyStore:
    """Crash-safe state of opcua_writeback; `close()` when done."""

    def __init__(self, state_dir: Path, *, window_s: float = 86400.0, max_requests: int = 50_000) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / STATE_FILE
        self.window_s = window_s
        self.max_requests = max_requests
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(requests)")}
        for column in ("corr", "node"):  # a state file from before these columns
            if column not in columns:
                self._db.execute(f"ALTER TABLE requests ADD COLUMN {column} TEXT")
        self._pruned_at = 0.0

    def close(self) -> None:
        """Checkpoint and close."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._db.close()

    # ---- the operator's switch ----------------------------------------------------------------
    def operator(self) -> Operator | None:
        """The operator's switch, or None when the twin's `enabled` rules."""
        row = self._db.execute("SELECT value FROM control WHERE key = 'operator'").fetchone()
        if row is None:
            return None
        doc = json.loads(row[0])
        return Operator(bool(doc["enabled"]), bool(doc["desiredAtSwitch"]))

    def set_operator(self, op: Operator | None) -> None:
        """Record (or clear) the operator's switch."""
        with self._db:
            self._tx()
            if op is None:
                self._db.execute("DELETE FROM control WHERE key = 'operator'")
            else:
                doc = json.dumps({"enabled": op.enabled, "desiredAtSwitch": op.desired_at_switch})
                self._db.execute("INSERT OR REPLACE INTO control VALUES ('operator', ?)", (doc,))

    # ---- requests: outbox and duplicate window -----------------------------------------------
    def entry(self, request_id: str) -> Entry | None:
        """The stored request, if this id was seen inside the window."""
        row = self._db.execute(
            "SELECT key, phase, audit, sent, corr, node FROM requests WHERE key = ?",
            (request_key(request_id),),
        ).fetchone()
        return (
            None if row is None else Entry(row[0], row[1], json.loads(row[2]), bool(row[3]), row[4], row[5])
        )

    def begin(
        self,
        request_id: str,
        phase: str,
        audit: dict[str, Any],
        now: float | None = None,
        correlation_id: str | None = None,
        node: str | None = None,
    ) -> None:
        """Commit a request's intent ('writing', with its node) or final audit ('decided') before anything."""
        with self._db:
            self._tx()
            self._db.execute(
                "INSERT INTO requests (key, received_at, phase, audit, corr, node) VALUES (?, ?, ?, ?, ?, ?)",
                (request_key(request_id), time.time() if now is None else now, phase, _dumps(audit),
                 correlation_id, node),
            )  # fmt: skip

    def decide(self, request_id: str, audit: dict[str, Any], written: tuple[str, Written] | None) -> None:
        """Record the outcome, and the node's new last written value, in one transaction (a write older than
        the one on record, settled after it, leaves the newer one in place)."""
        with self._db:
            self._tx()
            self._db.execute(
                "UPDATE requests SET phase = 'decided', audit = ? WHERE key = ?",
                (_dumps(audit), request_key(request_id)),
            )
            if written is not None:
                node, w = written
                self._db.execute(
                    "INSERT INTO history VALUES (?, ?, ?) ON CONFLICT (node) DO UPDATE SET"
                    " value = excluded.value, written_at = excluded.written_at"
                    " WHERE excluded.written_at >= written_at",
                    (node, _dumps(w.value), w.written_at),
                )

    def mark_sent(self, request_id: str) -> None:
        """The audit went out: the entry only answers repeats from now on."""
        with self._db:
            self._tx()
            self._db.execute("UPDATE requests SET sent = 1 WHERE key = ?", (request_key(request_id),))

    def unsent(self) -> list[Entry]:
        """Requests whose audit has not gone out (after a crash), oldest first."""
        rows = self._db.execute(
            "SELECT key, phase, audit, sent, corr, node FROM requests WHERE sent = 0 ORDER BY received_at"
        ).fetchall()
        return [Entry(r[0], r[1], json.loads(r[2]), False, r[4], r[5]) for r in rows]

    def prune(self, now: float | None = None, *, every_s: float = 60.0) -> tuple[int, int]:
        """Forget requests older than the window whose audit was sent (at most once a minute); then, over
        `max_requests`, the oldest audited ones. (expired, cut by the cap)."""
        now = time.time() if now is None else now
        if now - self._pruned_at < every_s:
            return 0, 0
        self._pruned_at = now
        with self._db:
            self._tx()
            gone = self._db.execute(
                "DELETE FROM requests WHERE sent = 1 AND received_at < ?", (now - self.window_s,)
            ).rowcount
            over = self.count() - self.max_requests
            cut = 0
            if over > 0:  # the cap bounds the disk; it shortens the window and is logged by the caller
                cut = self._db.execute(
                    "DELETE FROM requests WHERE key IN (SELECT key FROM requests WHERE sent = 1 "
                    "ORDER BY received_at LIMIT ?)",
                    (over,),
                ).rowcount
        return int(gone), int(cut)

    def count(self) -> int:
        """Requests held."""
        return int(self._db.execute("SELECT count(*) FROM requests").fetchone()[0])

    # ---- per-node history -------------------------------------------------------------------
    def written(self, node: str) -> Written | None:
        """The last value written to a node and when, if ever."""
        row = self._db.execute("SELECT value, written_at FROM history WHERE node = ?", (node,)).fetchone()
        return None if row is None else Written(json.loads(row[0]), float(row[1]))

    def _tx(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)
