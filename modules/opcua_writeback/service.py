"""Write-back orchestration: guard, intent on disk, the write, its outcome recorded; decisions in turn."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from edgeloop_runtime import get_logger
from edgeloop_runtime.errors import TransientError

from .guard import ALLOW, Verdict, WriteRequest, check_age, check_timing, check_value, coerce
from .records import audit_record as audit_record  # the app builds audits of malformed requests
from .records import parse_ts
from .sending import NodeAccess, Sent, send, verify
from .sending import NotSentError as NotSentError
from .sending import WriteRefusedError as WriteRefusedError
from .settings import Settings
from .store import SafetyStore, Written, request_key

_log = get_logger(__name__)


# The intent is on disk just before the write goes out: a module stopped after it may or may not have written.
INDETERMINATE = (
    "the module stopped between deciding this write and recording its outcome; the write may have reached"
    " the server; not written again"
)


@dataclass(frozen=True)
class Decision:
    """The audit to send; `repeat`: its first copy already went out (a redelivered request)."""

    audit: dict[str, Any]
    repeat: bool = False


class WriteBackService:
    """Handles one write request end to end; every request id ends in exactly one audit record.

    The request's intent is committed to the store before the write and its outcome after; the app
    sends the audit and marks it sent. A request id already in the store is never written again: sent,
    its first audit comes back (`repeat`); not sent (the module died), its recorded outcome is audited
    now, `indeterminate` when the write may have gone out but its outcome was not recorded.

    Decisions take turns (`lock`) from the duplicate check to the write's answer, so interval and rate
    checks see every write; the read-back and the recorded outcome of a write follow outside the lock,
    so the next request is not held behind them. The app handles one request id at a time (`claim`).
    """

    def __init__(
        self,
        access: NodeAccess,
        store: SafetyStore,
        *,
        clock: Callable[[], float] = time.time,
        crash_point: Callable[[str], None] | None = None,
    ) -> None:
        self.access = access
        self.store = store
        self.clock = clock
        self.crash_point = crash_point or (lambda where: None)
        self.lock = asyncio.Lock()  # one decision at a time: interval/rate checks see every write
        self.duplicates = 0
        self._fresh: dict[str, Written] = {}  # node -> a write whose outcome is not in the store yet
        self._claims: dict[str, tuple[asyncio.Lock, int]] = {}
        self._settling = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def claim(self, request_id: str) -> AsyncIterator[None]:
        """One handler per request id at a time: a copy delivered again while the first is still being
        handled waits for it (its audit sent), then finds it in the store and is a repeat."""
        key = request_key(request_id)
        lock, users = self._claims.get(key, (asyncio.Lock(), 0))
        self._claims[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            users = self._claims[key][1] - 1
            if users:
                self._claims[key] = (lock, users)
            else:
                del self._claims[key]

    @contextlib.asynccontextmanager
    async def quiet(self) -> AsyncIterator[None]:
        """Held: no decision and no read-back in flight (a session can be closed under it)."""
        async with self.lock:
            await self._idle.wait()
            yield

    async def handle(
        self,
        settings: Settings,
        request: WriteRequest,
        *,
        enabled: bool,
        envelope_ts: str | None = None,
        correlation_id: str | None = None,
    ) -> Decision:
        """Decide, write (or not) and return the audit (the first one again for a repeated id)."""
        async with self.lock:
            entry = self.store.entry(request.request_id)
            if entry is not None:
                if entry.sent:
                    self.duplicates += 1
                    return Decision(entry.audit, repeat=True)
                return Decision(self.recover(request.request_id, entry.phase, entry.audit, entry.node))
            outcome = await self._decide(settings, request, enabled, envelope_ts, correlation_id)
            if not isinstance(outcome, dict):
                self._settling += 1
                self._idle.clear()
        if isinstance(outcome, dict):
            self._prune()
            return Decision(outcome)
        try:
            self._prune()  # once a minute, never between a request and its write
            return Decision(await self._settle(settings, outcome))
        finally:
            self._settling -= 1
            if not self._settling:
                self._idle.set()

    def _prune(self) -> None:
        """Forget what left the duplicate window (the store does it at most once a minute)."""
        try:
            _, cut = self.store.prune(self.clock())
        except sqlite3.Error as exc:
            _log.warning("duplicate window not pruned", error=str(exc))
        else:
            if cut:
                _log.warning("maxRequests reached: the duplicate window is shorter than duplicateWindowS",
                             forgotten=cut, max_requests=self.store.max_requests)  # fmt: skip

    def recover(
        self, request_id: str, phase: str, audit: dict[str, Any], node: str | None = None
    ) -> dict[str, Any]:
        """The audit of a request whose audit never went out: its outcome, or `indeterminate`.

        An indeterminate write may have landed: the node's history says so (written now, value unknown),
        so the interval runs from now and the next rate check reads the node back from the server.
        """
        if phase == "decided":
            return audit
        final = {**audit, "result": "indeterminate", "reason": INDETERMINATE}
        self.store.decide(request_id, final, None if node is None else (node, Written(None, self.clock())))
        return final

    def sent(self, request_id: str) -> None:
        """The audit of this request went out (not recorded on a broken store: re-sent after a restart,
        under the same message id)."""
        try:
            self.store.mark_sent(request_id)
        except sqlite3.Error as exc:
            _log.error("safety state not writable; audit not marked sent", error=str(exc))

    def written(self, node: str) -> Written | None:
        """The node's last write: in the store, or newer, one whose outcome is still being settled."""
        stored, fresh = self.store.written(node), self._fresh.get(node)
        if fresh is None or (stored is not None and stored.written_at > fresh.written_at):
            return stored
        return fresh

    async def _decide(
        self,
        settings: Settings,
        request: WriteRequest,
        enabled: bool,
        envelope_ts: str | None,
        correlation_id: str | None,
    ) -> dict[str, Any] | Sent:
        """The final audit, or the write that went out (its outcome settled by `_settle`)."""
        rid = request.request_id
        spec = settings.targets.get(request.target)

        def final(result: str, reason: str, **kw: Any) -> dict[str, Any]:
            audit = audit_record(request, None, spec, result, reason, **kw)
            try:
                self.store.begin(rid, "decided", audit, self.clock(), correlation_id)
            except sqlite3.Error as exc:  # audited all the same; only a repeat would be decided again
                _log.error("safety state not writable; decision not remembered", error=str(exc))
            return audit

        verdict = self._precheck(settings, request, enabled, envelope_ts)
        if not verdict.allowed or spec is None:
            return final("refused", _text(verdict))
        endpoint = settings.endpoint_of(spec)
        node = f"{endpoint} {spec.node_id}"
        value = coerce(spec, request.value)
        last = self.written(node)
        current: Any = None
        if spec.max_rate_per_s is not None and (
            last is None or last.value is None
        ):  # measure from the server
            try:
                current = await self.access.read(endpoint, spec.read_node_id or spec.node_id)
            except (TransientError, WriteRefusedError) as exc:
                return final(
                    "refused", f"rate_of_change: cannot read the current value to measure from: {exc}"
                )
        verdict = check_timing(
            spec, value, current=current,
            last=None if last is None else (current if last.value is None else last.value, last.written_at),
            now=self.clock(), rate_window_s=settings.rate_window_s,
            first_step_s=settings.first_write_budget_s,
        )  # fmt: skip
        if not verdict.allowed:
            return final("refused", _text(verdict), read_back=current)
        if settings.dry_run:
            return final("dry-run", f"would write {value!r} to {spec.node_id}", read_back=current)
        verdict = await self._permissive(settings)
        if not verdict.allowed:
            return final("refused", _text(verdict), read_back=current)
        intent = audit_record(request, None, spec, "indeterminate", INDETERMINATE)
        try:
            self.store.begin(rid, "writing", intent, self.clock(), correlation_id, node)
        except sqlite3.Error as exc:  # no intent on disk, no write (a full disk, a broken volume)
            _log.error("safety state not writable; write refused", error=str(exc))
            return audit_record(request, None, spec, "refused", f"safety_state: intent not recorded ({exc});"
                                " nothing written")  # fmt: skip
        self.crash_point("before-write")
        audit, written, attempts = await send(self.access, settings, request, spec, endpoint, value)
        mark = None if written is False else Written(value if written else None, self.clock())
        if mark is not None:  # the next decision sees this write before its outcome is on disk
            self._fresh[node] = mark
        self.crash_point("after-write")
        return Sent(request, spec, endpoint, node, value, audit, mark, attempts)

    async def _settle(self, settings: Settings, sent: Sent) -> dict[str, Any]:
        """After the lock: verify a Good write by reading it back, then record the outcome."""
        audit = sent.audit
        if audit is None:
            audit = await verify(self.access, settings, sent)
        try:
            self.store.decide(
                sent.request.request_id, audit, None if sent.mark is None else (sent.node, sent.mark)
            )
        except sqlite3.Error as exc:  # the outcome is audited now; a restart would re-audit it indeterminate
            _log.error("safety state not writable; outcome not recorded", error=str(exc))
        else:
            if sent.mark is not None and self._fresh.get(sent.node) is sent.mark:
                del self._fresh[sent.node]
        self.crash_point("after-outcome")
        return audit

    def _precheck(
        self, settings: Settings, request: WriteRequest, enabled: bool, envelope_ts: str | None
    ) -> Verdict:
        """Switch, allow-list, type and limits, age: everything decided without I/O or history."""
        if not enabled:
            return Verdict(False, "disabled", "write-back is disabled")
        spec = settings.targets.get(request.target)
        if spec is None:
            return Verdict(False, "not_allowed", f"target {request.target!r} is not in the allow-list")
        verdict = check_value(spec, request.value)
        if not verdict.allowed:
            return verdict
        if request.source_timestamp is not None:
            ts, what = parse_ts(request.source_timestamp), "the decision's sourceTimestamp"
        else:  # a request without the decision's time: the envelope's creation time is the best left
            ts, what = parse_ts(envelope_ts), "the envelope's ts (the request has no sourceTimestamp)"
        return check_age(ts, self.clock(), settings.max_age_s, what)

    async def _permissive(self, settings: Settings) -> Verdict:
        """The DCS's "AI writes allowed" tag, read before each write when configured: exactly true."""
        node_id = settings.permissive_node_id
        if node_id is None:
            return ALLOW
        if settings.endpoint is None:
            return Verdict(False, "not_permitted", "permissiveNodeId is read on `endpoint`, which is not set")
        try:
            value = await self.access.read(settings.endpoint, node_id)
        except (TransientError, WriteRefusedError) as exc:
            return Verdict(False, "not_permitted", f"the DCS permissive {node_id} is unreadable: {exc}")
        if value is not True:
            return Verdict(False, "not_permitted", f"the DCS permissive {node_id} is {value!r}, not true")
        return ALLOW


def _text(v: Verdict) -> str:
    return f"{v.code}: {v.detail}"
