"""Store-and-forward on local disk: a bounded sqlite (WAL) queue of messages and blob uploads."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from .classes import CLASSES, PRIORITY
from .evidence_refs import without_blob

Policy = Literal["drop_lowest_oldest", "reject_new"]

# SQLite primary result codes that mean "the storage cannot take this write now" (disk full, I/O).
_SQLITE_FULL, _SQLITE_IOERR = 13, 10


class StoreUnavailableError(Exception):
    """A write failed because the disk is full (or failing): nothing was stored; try again later."""


def _unavailable(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_FULL, _SQLITE_IOERR)
    return "full" in str(exc) or "disk i/o" in str(exc).lower()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    cls TEXT NOT NULL,
    prio INTEGER NOT NULL,
    created REAL NOT NULL,
    hold_until REAL NOT NULL DEFAULT 0,
    size INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_cls ON messages (prio, seq);
CREATE TABLE IF NOT EXISTS uploads (
    path TEXT PRIMARY KEY,
    msg_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    data BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS drops (cls TEXT NOT NULL, reason TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (cls, reason));
"""


@dataclass(frozen=True)
class Item:
    """One stored message: its envelope as JSON bytes, its class and when it arrived."""

    seq: int
    id: str
    cls: str
    created: float
    size: int
    body: bytes

    def envelope(self) -> dict[str, Any]:
        """The stored envelope."""
        env: dict[str, Any] = json.loads(self.body)
        return env


@dataclass(frozen=True)
class Upload:
    """A blob waiting to be uploaded (the evidence of one anomaly event)."""

    path: str
    msg_id: str
    content_type: str
    metadata: dict[str, str]
    data: bytes
    attempts: int = 0


@dataclass(frozen=True)
class PutResult:
    """What `put` did: stored, a duplicate of a stored id, or refused; and what it evicted."""

    stored: bool
    duplicate: bool = False
    evicted: tuple[tuple[str, str], ...] = ()


class Store:
    """A bounded, durable queue. Every write is one transaction; `sync="full"` fsyncs each commit."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 256 * 1024 * 1024,
        max_messages: int = 1_000_000,
        policy: Policy = "drop_lowest_oldest",
        sync: Literal["full", "normal"] = "full",
        evidence_share: float = 0.25,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        # Evidence blobs waiting for upload count inside max_bytes, capped at this share of it;
        # evidence that does not fit is refused (counted), the event keeps its window inline.
        self.evidence_share = evidence_share
        self.max_messages = max_messages
        self.policy = policy
        self.sync = sync
        self._db: sqlite3.Connection | None = None
        self.drops: Counter[tuple[str, str]] = Counter()

    def __enter__(self) -> Store:
        self.open()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> None:
        """Open (and create) the database; counts of earlier drops are loaded."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # A new database gives freed pages back to the file system (incremental_vacuum in `checkpoint`),
        # so the file tracks what is stored; an existing one keeps the mode it was created with.
        db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'FULL' if self.sync == 'full' else 'NORMAL'}")
        # Keep the WAL small next to the quota: checkpoint often, truncate it after a checkpoint.
        page = int(db.execute("PRAGMA page_size").fetchone()[0])
        db.execute(f"PRAGMA wal_autocheckpoint={max(16, self.wal_limit // page)}")
        db.execute(f"PRAGMA journal_size_limit={self.wal_limit}")
        db.executescript(_SCHEMA)
        for cls, prio in PRIORITY.items():  # a class table changed by an upgrade re-ranks what is stored
            db.execute("UPDATE messages SET prio = ? WHERE cls = ? AND prio <> ?", (prio, cls, prio))
        self._db = db
        for cls, reason, n in db.execute("SELECT cls, reason, n FROM drops"):
            self.drops[(cls, reason)] = n

    def close(self) -> None:
        """Close the database."""
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        """The open connection."""
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    @property
    def wal_limit(self) -> int:
        """The WAL size the store checkpoints and truncates at: a quarter of the quota, 64 KB to 4 MB."""
        return max(64 * 1024, min(4 * 1024 * 1024, self.max_bytes // 4))

    @property
    def evidence_max_bytes(self) -> int:
        """Bytes of pending evidence uploads allowed (inside max_bytes)."""
        return int(self.max_bytes * self.evidence_share)

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already (it does on SQLITE_FULL); never raises,
        so the error that made us roll back is the one reported."""
        if self.db.in_transaction:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        """One autocommitted write; a full disk becomes StoreUnavailableError."""
        try:
            self.db.execute(sql, args)
        except sqlite3.Error as exc:
            if _unavailable(exc):
                raise StoreUnavailableError(str(exc)) from exc
            raise

    # --- disk ----------------------------------------------------------------------------------
    def wal_bytes(self) -> int:
        """The size of the WAL file now."""
        try:
            return Path(f"{self.path}-wal").stat().st_size
        except FileNotFoundError:
            return 0

    def disk_bytes(self) -> dict[str, int]:
        """What the store occupies on disk: database file, WAL, and the payload bytes it holds."""
        try:
            db_bytes = self.path.stat().st_size
        except FileNotFoundError:
            db_bytes = 0
        _n, messages = self.totals()
        return {
            "dbBytes": db_bytes,
            "walBytes": self.wal_bytes(),
            "walLimitBytes": self.wal_limit,
            "messageBytes": messages,
            "evidenceBytes": self.uploads_bytes(),
            "evidenceMaxBytes": self.evidence_max_bytes,
            "maxBytes": self.max_bytes,
        }

    def checkpoint(self) -> None:
        """Give free pages back, then fold the WAL into the database and truncate it once it is over
        half its limit; a full disk leaves both for the next time."""
        try:
            self.db.executescript("PRAGMA incremental_vacuum;")  # run to the end, not one page
            if self.wal_bytes() > self.wal_limit // 2:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            if not _unavailable(exc):
                raise

    # --- messages ------------------------------------------------------------------------------
    def totals(self) -> tuple[int, int]:
        """(messages, bytes) stored."""
        n, b = self.db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages").fetchone()
        return int(n), int(b)

    def put(
        self, msg_id: str, cls: str, body: bytes, *, hold_until: float = 0.0, now: float | None = None
    ) -> PutResult:
        """Persist one message, making room by the policy when full; durable when this returns."""
        now = time.time() if now is None else now
        size = len(body)
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            return self._put(msg_id, cls, body, size, hold_until, now)
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, sqlite3.Error) and _unavailable(exc):
                raise StoreUnavailableError(str(exc)) from exc
            raise

    def _put(self, msg_id: str, cls: str, body: bytes, size: int, hold_until: float, now: float) -> PutResult:
        db = self.db
        if db.execute("SELECT 1 FROM messages WHERE id = ?", (msg_id,)).fetchone():
            db.execute("COMMIT")
            return PutResult(stored=False, duplicate=True)
        evicted: list[tuple[str, str]] = []
        n, b = (
            int(x) for x in db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages").fetchone()
        )
        b += self.uploads_bytes()
        while n + 1 > self.max_messages or b + size > self.max_bytes:
            if b + size > self.max_bytes and (freed := self._give_up_evidence()) is not None:
                b -= freed  # evidence gives way to any event, oldest first
                continue
            victim = self._victim(cls) if self.policy == "drop_lowest_oldest" else None
            if victim is None:
                self._count_drop(cls, "store_full")
                db.execute("COMMIT")
                return PutResult(stored=False, evicted=tuple(evicted))
            seq, vid, vcls, vsize = victim
            vsize += int(
                db.execute(
                    "SELECT COALESCE(SUM(LENGTH(data)), 0) FROM uploads WHERE msg_id = ?", (vid,)
                ).fetchone()[0]
            )
            db.execute("DELETE FROM messages WHERE seq = ?", (seq,))
            db.execute("DELETE FROM uploads WHERE msg_id = ?", (vid,))
            self._count_drop(vcls, "store_full")
            evicted.append((vid, vcls))
            n, b = n - 1, b - vsize
        db.execute(
            "INSERT INTO messages (id, cls, prio, created, hold_until, size, body) VALUES (?,?,?,?,?,?,?)",
            (msg_id, cls, PRIORITY[cls], now, hold_until, size, body),
        )
        db.execute("COMMIT")
        return PutResult(stored=True, evicted=tuple(evicted))

    def _give_up_evidence(self) -> int | None:
        """Drop the oldest pending upload (counted); its event loses the blob reference and is marked,
        so no URL goes upstream for a blob that will never exist. Returns the bytes freed, or None."""
        db = self.db
        row = db.execute("SELECT path, msg_id, LENGTH(data) FROM uploads ORDER BY rowid LIMIT 1").fetchone()
        if row is None:
            return None
        path, msg_id, freed = str(row[0]), str(row[1]), int(row[2])
        db.execute("DELETE FROM uploads WHERE path = ?", (path,))
        self._count_drop("evidence", "store_full")
        event = db.execute("SELECT seq, size, body FROM messages WHERE id = ?", (msg_id,)).fetchone()
        if event is None:
            return freed
        body = without_blob(bytes(event[2]), path)
        pending = db.execute("SELECT 1 FROM uploads WHERE msg_id = ?", (msg_id,)).fetchone()
        db.execute(
            "UPDATE messages SET body = ?, size = ?, hold_until = CASE WHEN ? THEN hold_until ELSE 0 END "
            "WHERE seq = ?",
            (body, len(body), pending is not None, int(event[0])),
        )
        return freed + int(event[1]) - len(body)

    def _victim(self, incoming: str) -> tuple[int, str, str, int] | None:
        """The oldest message of the lowest class stored, if that class is not above the incoming one."""
        row = self.db.execute(
            "SELECT seq, id, cls, size FROM messages WHERE prio >= ? ORDER BY prio DESC, seq ASC LIMIT 1",
            (PRIORITY[incoming],),
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), str(row[2]), int(row[3]))

    def _count_drop(self, cls: str, reason: str, n: int = 1) -> None:
        self.drops[(cls, reason)] += n
        self.db.execute(
            "INSERT INTO drops (cls, reason, n) VALUES (?, ?, ?) "
            "ON CONFLICT (cls, reason) DO UPDATE SET n = n + ?",
            (cls, reason, n, n),
        )

    def count_drop(self, cls: str, reason: str, n: int = 1) -> None:
        """Record drops made outside `put` (thinning, malformed input, evidence over its share)."""
        try:
            self._count_drop(cls, reason, n)
        except sqlite3.Error as exc:
            if _unavailable(exc):
                raise StoreUnavailableError(str(exc)) from exc
            raise

    def pending(self, cls: str, *, now: float, limit: int = 500) -> list[Item]:
        """The oldest sendable messages of one class (those not held for a blob upload)."""
        rows = self.db.execute(
            "SELECT seq, id, cls, created, size, body FROM messages WHERE cls = ? AND hold_until <= ? "
            "ORDER BY seq LIMIT ?",
            (cls, now, limit),
        ).fetchall()
        return [Item(int(r[0]), str(r[1]), str(r[2]), float(r[3]), int(r[4]), bytes(r[5])) for r in rows]

    def release(self, msg_id: str) -> None:
        """Let a held message go (its blob is uploaded)."""
        self.db.execute("UPDATE messages SET hold_until = 0 WHERE id = ?", (msg_id,))

    def replace(self, remove: list[int], msg_id: str, cls: str, body: bytes, created: float) -> None:
        """Swap several messages for one (thinning merges summaries), in one transaction."""
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("DELETE FROM messages WHERE seq = ?", [(s,) for s in remove])
            db.execute(
                "INSERT OR REPLACE INTO messages (id, cls, prio, created, hold_until, size, body) "
                "VALUES (?,?,?,?,0,?,?)",
                (msg_id, cls, PRIORITY[cls], created, len(body), body),
            )
            db.execute("COMMIT")
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, sqlite3.Error) and _unavailable(exc):
                raise StoreUnavailableError(str(exc)) from exc
            raise

    def ack(self, seqs: list[int]) -> None:
        """Forget messages that were delivered (all or none: a re-sent batch must be the same batch)."""
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("DELETE FROM messages WHERE seq = ?", [(s,) for s in seqs])
            db.execute("COMMIT")
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, sqlite3.Error) and _unavailable(exc):
                raise StoreUnavailableError(str(exc)) from exc
            raise
        self.checkpoint()

    def depth(self, now: float) -> dict[str, dict[str, float]]:
        """Per class: messages, bytes and the age of the oldest, in seconds."""
        out: dict[str, dict[str, float]] = {
            c: {"messages": 0.0, "bytes": 0.0, "oldestAgeS": 0.0} for c in CLASSES
        }
        for cls, n, b, oldest in self.db.execute(
            "SELECT cls, COUNT(*), SUM(size), MIN(created) FROM messages GROUP BY cls"
        ):
            out[str(cls)] = {
                "messages": float(n),
                "bytes": float(b),
                "oldestAgeS": max(0.0, now - float(oldest)),
            }
        return out

    # --- uploads -------------------------------------------------------------------------------
    def uploads_bytes(self) -> int:
        """Bytes of evidence waiting for upload."""
        return int(self.db.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM uploads").fetchone()[0])

    def evidence_fits(self, size: int) -> bool:
        """Whether `size` more bytes of evidence fit its share and the whole quota."""
        evidence = self.uploads_bytes()
        _n, messages = self.totals()
        return evidence + size <= self.evidence_max_bytes and messages + evidence + size <= self.max_bytes

    def put_upload(self, up: Upload) -> None:
        """Queue a blob upload (idempotent by path); check `evidence_fits` first."""
        self._write(
            "INSERT OR IGNORE INTO uploads (path, msg_id, content_type, metadata, data) VALUES (?,?,?,?,?)",
            (up.path, up.msg_id, up.content_type, json.dumps(up.metadata), up.data),
        )

    def due_uploads(self, now: float, limit: int = 20) -> list[Upload]:
        """Uploads whose next try is due, oldest first."""
        rows = self.db.execute(
            "SELECT path, msg_id, content_type, metadata, data, attempts FROM uploads WHERE next_try <= ? "
            "ORDER BY rowid LIMIT ?",
            (now, limit),
        ).fetchall()
        return [
            Upload(str(r[0]), str(r[1]), str(r[2]), json.loads(r[3]), bytes(r[4]), int(r[5])) for r in rows
        ]

    def upload_done(self, path: str, msg_id: str) -> None:
        """Forget an uploaded blob; release its message when it has no other upload pending."""
        db = self.db
        db.execute("DELETE FROM uploads WHERE path = ?", (path,))
        if not db.execute("SELECT 1 FROM uploads WHERE msg_id = ?", (msg_id,)).fetchone():
            self.release(msg_id)

    def upload_failed(self, path: str, next_try: float, error: str) -> None:
        """Schedule a retry of an upload."""
        self.db.execute(
            "UPDATE uploads SET attempts = attempts + 1, next_try = ?, last_error = ? WHERE path = ?",
            (next_try, error[:500], path),
        )

    def uploads_pending(self) -> int:
        """How many uploads wait."""
        return int(self.db.execute("SELECT COUNT(*) FROM uploads").fetchone()[0])
