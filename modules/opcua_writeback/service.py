"""Write-back orchestration: guard, dry-run, write, verify by read-back, retry, and the audit record."""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from edgeloop_runtime import utc_now_iso
from edgeloop_runtime.errors import TransientError

from .config import Settings, TargetSpec
from .guard import Verdict, WriteGuard, WriteRequest


class WriteRefusedError(Exception):
    """The server refused the write with a Bad status (not transient)."""

    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(status)


class NodeAccess(Protocol):
    """What the service needs from the OPC UA adapter."""

    async def read(self, endpoint: str, node_id: str) -> Any:
        """The node's current value (raises TransientError when the server is unreachable)."""
        ...

    async def write(self, endpoint: str, node_id: str, value: Any, vtype: str) -> None:
        """Write a DataValue without timestamps; raise WriteRefusedError or TransientError."""
        ...


@dataclass
class Outcome:
    """The audit event's data, and the correlation id to send it with."""

    audit: dict[str, Any]


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
    """The `audit` event body (contract in DEVELOPERS.md)."""
    src = raw or {}
    return {
        "requestId": request.request_id if request else src.get("requestId"),
        "target": request.target if request else src.get("target"),
        "nodeId": spec.node_id if spec else None,
        "value": json_safe(request.value if request else src.get("value")),
        "result": result,
        "reason": reason,
        "readBack": json_safe(read_back),
        "attempts": attempts,
        "sourceTimestamp": request.source_timestamp if request else src.get("sourceTimestamp"),
        "appliedAt": utc_now_iso() if result == "applied" else None,
    }


def json_safe(value: Any) -> Any:
    """The value as strict JSON can carry it: NaN and infinities become their names as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # 'nan', 'inf', '-inf'
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


def _same(a: Any, b: Any, tol: float) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=tol)
    return bool(a == b)


RECENT_REQUESTS = 1024  # request ids remembered to answer a redelivered request without writing again


class WriteBackService:
    """Handles one write request end to end; every path ends in exactly one audit record.

    edgeHub delivers at least once (a request is delivered again after a reconnect or a restart until
    the module has acknowledged it), so a request id seen recently gets its first audit record back and
    nothing is written a second time.
    """

    def __init__(self, access: NodeAccess, guard: WriteGuard | None = None) -> None:
        self.access = access
        self.guard = guard or WriteGuard()
        self._lock = asyncio.Lock()  # one write at a time: rate/interval checks see every applied write
        self._recent: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.duplicates = 0

    async def handle(self, settings: Settings, request: WriteRequest) -> dict[str, Any]:
        """Decide, write (or not) and return the audit record (the first one again for a repeated id)."""
        async with self._lock:
            seen = self._recent.get(request.request_id)
            if seen is not None:
                self.duplicates += 1
                return dict(seen)
            audit = await self._handle(settings, request)
            self._recent[request.request_id] = audit
            while len(self._recent) > RECENT_REQUESTS:
                self._recent.popitem(last=False)
            return dict(audit)

    async def _handle(self, settings: Settings, request: WriteRequest) -> dict[str, Any]:
        spec = settings.targets.get(request.target)
        self.guard.rate_window_s = settings.rate_window_s
        pre = self.guard.check(
            enabled=settings.enabled, targets=settings.targets, request=request, now=time.monotonic()
        )
        if not pre.allowed or spec is None:
            return audit_record(request, None, spec, "refused", _text(pre))
        endpoint = settings.endpoint_of(spec)
        current: Any = None
        if spec.max_rate_per_s is not None:
            try:
                current = await self.access.read(endpoint, spec.node_id)
            except TransientError as exc:
                return audit_record(request, None, spec, "failed", f"cannot read the current value: {exc}")
            except WriteRefusedError as exc:
                return audit_record(
                    request, None, spec, "failed", f"cannot read the current value: {exc.status}"
                )
        verdict = self.guard.check(
            enabled=settings.enabled,
            targets=settings.targets,
            request=request,
            now=time.monotonic(),
            current=current,
        )
        if not verdict.allowed:
            return audit_record(request, None, spec, "refused", _text(verdict), read_back=current)
        if settings.dry_run:
            what = f"would write {request.value!r} to {spec.node_id}"
            return audit_record(request, None, spec, "dry-run", what, read_back=current)
        return await self._write(settings, request, spec, endpoint)

    async def _write(
        self, settings: Settings, request: WriteRequest, spec: TargetSpec, endpoint: str
    ) -> dict[str, Any]:
        attempts = 0
        last = ""
        delay = settings.retry_backoff_s
        while attempts < settings.max_attempts:
            attempts += 1
            try:
                await self.access.write(endpoint, spec.node_id, request.value, spec.type)
                read_back = await self.access.read(endpoint, spec.node_id)
            except WriteRefusedError as exc:
                return audit_record(
                    request, None, spec, "failed", f"server refused: {exc.status}", attempts=attempts
                )
            except TransientError as exc:
                last = str(exc)
                if attempts < settings.max_attempts:
                    await asyncio.sleep(delay)
                    delay *= 2
                continue
            if not _same(read_back, request.value, settings.verify_tolerance):
                return audit_record(
                    request, None, spec, "failed", f"read-back {read_back!r} differs from the value written",
                    read_back=read_back, attempts=attempts,
                )  # fmt: skip
            self.guard.applied(request.target, request.value, time.monotonic())
            reason = request.reason or "applied"
            return audit_record(
                request, None, spec, "applied", reason, read_back=read_back, attempts=attempts
            )
        return audit_record(request, None, spec, "failed", f"gave up after {attempts} attempts: {last}",
                            attempts=attempts)  # fmt: skip


def _text(v: Verdict) -> str:
    return f"{v.code}: {v.detail}"
