"""Write-back orchestration: guard, outbox intent on disk, write, verify by read-back, the audit record."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from edgeloop_runtime import get_logger, utc_now_iso
from edgeloop_runtime.errors import TransientError

from .guard import ALLOW, Verdict, WriteRequest, check_age, check_timing, check_value, coerce
from .settings import CONDITION_KINDS, Settings, TargetSpec
from .store import SafetyStore, Written

_log = get_logger(__name__)


class WriteRefusedError(Exception):
    """The server refused the write with a Bad status (not transient)."""

    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(status)


class NotSentError(TransientError):
    """The write never left the module (no session could be opened): safe to try again."""


class NodeAccess(Protocol):
    """What the service needs from the OPC UA adapter."""

    async def read(self, endpoint: str, node_id: str) -> Any:
        """The node's current value (raises TransientError when the server is unreachable)."""
        ...

    async def write(self, endpoint: str, node_id: str, value: Any, vtype: str) -> None:
        """Write a DataValue without timestamps; raise WriteRefusedError, NotSentError or TransientError."""
        ...

    async def call(self, endpoint: str, object_id: str, method_id: str, value: Any, vtype: str) -> Any:
        """Call a method with one argument; its outputs. Raises as `write` does."""
        ...

    async def condition(
        self, endpoint: str, condition_id: str, kind: str, event_id: str, comment: str
    ) -> Any:
        """Call a condition's Acknowledge or Confirm (EventId from base64, Comment). Raises as `write`."""
        ...

    async def call_args(
        self, endpoint: str, object_id: str, method_id: str, args: list[tuple[str, Any, str]]
    ) -> Any:
        """Call a method of several arguments `(name, value, type)`, checked against its InputArguments
        first (a mismatch is WriteRefusedError, nothing called). Raises as `write`."""
        ...


MAX_VALUE_CHARS = 1024  # an audit carries a value up to this size as JSON, else its head and sha256
MAX_TEXT_CHARS = 1024  # reasons and other strings in an audit
INDETERMINATE = "the write was sent but its outcome was not recorded (the module stopped); not written again"


def audit_record(
    request: WriteRequest | None,
    raw: dict[str, Any] | None,
    spec: TargetSpec | None,
    result: str,
    reason: str,
    *,
    read_back: Any = None,
    attempts: int = 0,
) -> dict[str, Any]:
    """The `audit` event body (contract in DEVELOPERS.md); always small (values bounded, see `bounded`)."""
    src = raw or {}
    return {
        "requestId": bounded(request.request_id if request else src.get("requestId")),
        "target": bounded(request.target if request else src.get("target")),
        "nodeId": spec.node_id if spec else None,
        "value": bounded(request.value if request else src.get("value")),
        "result": result,
        "reason": _cut(reason),
        "readBack": bounded(read_back),
        "attempts": attempts,
        "sourceTimestamp": bounded(request.source_timestamp if request else src.get("sourceTimestamp")),
        "appliedAt": utc_now_iso() if result == "applied" else None,
    }


def bounded(value: Any) -> Any:
    """The value as strict JSON can carry it, at most MAX_VALUE_CHARS: else head + sha256 + size.

    NaN and infinities become their names as text; integers beyond 64 bits become decimal text.
    """
    safe = json_safe(value)
    text = json.dumps(safe, separators=(",", ":"), ensure_ascii=False)
    if len(text) <= MAX_VALUE_CHARS:
        return safe
    raw = text.encode("utf-8", "surrogatepass")
    return {
        "truncated": True,
        "bytes": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "head": text[:256],
    }


def json_safe(value: Any) -> Any:
    """Strict-JSON form: non-finite floats as names, huge integers as text, keys as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # 'nan', 'inf', '-inf'
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return f"{len(str(abs(value)))}-digit integer" if abs(value) >= 10**4000 else str(value)
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return value


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + "..."


def _same(a: Any, b: Any, tol: float) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=tol)
    return bool(a == b)


def parse_ts(text: str | None) -> float | None:
    """An ISO-8601 timestamp with a zone as epoch seconds; None when absent or unusable."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return None if parsed.tzinfo is None else parsed.timestamp()


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
    now, `indeterminate` when the write had gone out but its outcome was not recorded.
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
            try:
                _, cut = self.store.prune(self.clock())
            except sqlite3.Error as exc:
                _log.warning("duplicate window not pruned", error=str(exc))
            else:
                if cut:
                    _log.warning("maxRequests reached: the duplicate window is shorter than duplicateWindowS",
                                 forgotten=cut, max_requests=self.store.max_requests)  # fmt: skip
            return Decision(await self._decide(settings, request, enabled, envelope_ts, correlation_id))

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

    async def _decide(
        self,
        settings: Settings,
        request: WriteRequest,
        enabled: bool,
        envelope_ts: str | None,
        correlation_id: str | None,
    ) -> dict[str, Any]:
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
        last = self.store.written(node)
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
        audit, written = await self._write(settings, request, spec, endpoint, value)
        self.crash_point("after-write")
        try:
            mark = None if written is False else Written(value if written else None, self.clock())
            self.store.decide(rid, audit, None if mark is None else (node, mark))
        except sqlite3.Error as exc:  # the outcome is audited now; a restart would re-audit it indeterminate
            _log.error("safety state not writable; outcome not recorded", error=str(exc))
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

    async def _write(
        self, settings: Settings, request: WriteRequest, spec: TargetSpec, endpoint: str, value: Any
    ) -> tuple[dict[str, Any], bool | None]:
        """The audit, and whether the server took the write: True (Good status), False, None (unknown).

        Retries only a write that was never sent; a write whose answer was lost is settled by reading
        the node back, or stays unknown."""
        attempts = 0
        last = ""
        delay = settings.retry_backoff_s
        outputs: Any = None
        while True:
            attempts += 1
            try:
                if spec.kind in CONDITION_KINDS:
                    outputs = await self.access.condition(
                        endpoint, spec.node_id, spec.kind, value["eventId"], value.get("comment", "")
                    )
                elif spec.kind == "method" and spec.arguments is not None:
                    assert spec.object_id is not None  # checked by the settings
                    args: list[tuple[str, Any, str]] = [
                        (name, value[name], a.type) for name, a in spec.arguments.items()
                    ]
                    outputs = await self.access.call_args(endpoint, spec.object_id, spec.node_id, args)
                elif spec.kind == "method":
                    assert spec.object_id is not None  # checked by the settings
                    outputs = await self.access.call(endpoint, spec.object_id, spec.node_id, value, spec.type)
                else:
                    await self.access.write(endpoint, spec.node_id, value, spec.type)
                break
            except WriteRefusedError as exc:
                return audit_record(
                    request, None, spec, "failed", f"server refused: {exc.status}", attempts=attempts
                ), False
            except NotSentError as exc:
                last = str(exc)
                if attempts >= settings.max_attempts:
                    return audit_record(request, None, spec, "failed",
                                        f"gave up after {attempts} attempts, nothing sent: {last}",
                                        attempts=attempts), False  # fmt: skip
                await asyncio.sleep(delay)
                delay *= 2
            except TransientError as exc:  # sent, no answer: it may or may not have been applied
                if spec.kind != "variable":  # nothing to read back: the operator must look
                    why = f"no answer to the method call ({exc}); not called again"
                    return audit_record(request, None, spec, "indeterminate", why, attempts=attempts), None
                try:
                    seen = await self.access.read(endpoint, spec.node_id)
                except (TransientError, WriteRefusedError) as read_exc:
                    return audit_record(request, None, spec, "indeterminate",
                                        f"no answer to the write ({exc}) and no read-back ({read_exc});"
                                        " not written again", attempts=attempts), None  # fmt: skip
                if _same(seen, value, settings.verify_tolerance):
                    return audit_record(request, None, spec, "applied",
                                        f"{request.reason or 'applied'} (confirmed by read-back after"
                                        f" the write's answer was lost: {exc})",
                                        read_back=seen, attempts=attempts), True  # fmt: skip
                why = f"no answer to the write ({exc}) and the node reads {seen!r}; not written again"
                return audit_record(
                    request, None, spec, "indeterminate", why, read_back=seen, attempts=attempts
                ), None
        if spec.kind != "variable":  # Good status: called; its outputs are the read-back
            why = request.reason or "called"
            return audit_record(
                request, None, spec, "applied", why, read_back=outputs, attempts=attempts
            ), True
        try:
            read_back = await self.access.read(endpoint, spec.node_id)
        except (TransientError, WriteRefusedError) as exc:
            return audit_record(request, None, spec, "applied",
                                f"{request.reason or 'applied'} (Good status; read-back failed: {exc})",
                                attempts=attempts), True  # fmt: skip
        if not _same(read_back, value, settings.verify_tolerance):
            return audit_record(
                request, None, spec, "failed",
                f"the server took the write but read-back {read_back!r} differs from the value written",
                read_back=read_back, attempts=attempts,
            ), True  # fmt: skip
        return audit_record(
            request,
            None,
            spec,
            "applied",
            request.reason or "applied",
            read_back=read_back,
            attempts=attempts,
        ), True


def _text(v: Verdict) -> str:
    return f"{v.code}: {v.detail}"
