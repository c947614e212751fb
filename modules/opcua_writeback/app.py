"""opcua_writeback on the runtime: `requests` in, guarded OPC UA writes, `audit` out, switch, heartbeat."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from dataclasses import dataclass
from typing import Any

from edgeloop_contracts.audit import Audit
from edgeloop_contracts.audit import audit_id as contract_audit_id
from edgeloop_runtime import Context, InputMessage, MethodError, Module, get_logger, parse_envelope
from edgeloop_runtime.errors import ContractError, EdgeloopError, FatalError, MessageTooLargeError
from edgeloop_runtime.metrics import Bound

from .guard import parse_request
from .opcua import OpcUaAccess
from .service import WriteBackService, WriteRefusedError, audit_record
from .settings import Settings
from .store import Operator, SafetyStore

_log = get_logger(__name__)
CRASH_ENV = "EDGELOOP_TEST_CRASH_AT"  # tests only: SIGKILL itself at before-write/after-write/after-outcome


@dataclass
class WritebackState:
    """The OPC UA adapter, the safety store, the service between them, and the module's metrics."""

    access: OpcUaAccess
    store: SafetyStore
    service: WriteBackService
    m_writes: Bound
    m_heartbeats: Bound


module = Module("opcua_writeback", Settings, WritebackState, fail_safe={"enabled": False})


def _crash_point() -> Any:
    where = os.environ.get(CRASH_ENV)

    def crash(point: str) -> None:
        if point == where:
            _log.warning("test hook: killing the module", at=point)
            os.kill(os.getpid(), signal.SIGKILL)

    return crash


@module.on_start
async def start(ctx: Context[Settings, WritebackState]) -> WritebackState:
    """The store (no durable state, no module: exits), the adapter, the service; unsent audits go out."""
    try:
        store = SafetyStore(
            ctx.state_dir,
            window_s=ctx.settings.duplicate_window_s,
            max_requests=ctx.settings.max_requests,
        )
    except (OSError, sqlite3.Error) as exc:
        raise FatalError(f"cannot open the safety state in {ctx.state_dir}: {exc}") from exc
    ctx.exit_stack.callback(store.close)
    access = await ctx.exit_stack.enter_async_context(OpcUaAccess(ctx.settings))
    service = WriteBackService(access, store, crash_point=_crash_point())
    st = WritebackState(
        access=access,
        store=store,
        service=service,
        m_writes=ctx.metrics.counter("writes_total", "Write attempts by result.", ["result", "target"]),
        m_heartbeats=ctx.metrics.counter("heartbeats_total", "Heartbeat writes by result.", ["result"]),
    )
    for entry in store.unsent():  # the module died between the write and its audit
        audit = service.recover(entry.key, entry.phase, entry.audit, entry.node)
        _log.warning("audit recovered after a restart", request_id=audit["requestId"], result=audit["result"])
        _count_write(st.m_writes, audit)
        await _send_audit(ctx, audit, entry.correlation_id, audit_id(str(audit["requestId"])))
        service.sent(entry.key)
    return st


def enabled_now(ctx: Context[Settings, WritebackState]) -> tuple[bool, str]:
    """The switch in force and who set it: the operator's `setEnabled`, else the twin's `enabled`."""
    op = ctx.state.store.operator()
    return (ctx.settings.enabled, "twin") if op is None else (op.enabled, "setEnabled")


@module.on_config
async def configure(ctx: Context[Settings, WritebackState], settings: Settings) -> None:
    """New targets/limits apply to the next request; changed credentials or security reconnect.

    The operator's switch stays through any patch that leaves the desired `enabled` as it was when the
    switch was thrown; a change of the desired `enabled` itself hands control back to the twin.
    """
    access = ctx.state.access
    service = ctx.state.service
    async with service.quiet():  # no write or read-back in flight: the next one uses the new session
        old = access.settings
        if _session_of(old) != _session_of(settings):
            await access.close()
            _log.info("connection settings changed; the next write opens a new session")
        access.settings = settings
    store = ctx.state.store
    op = store.operator()
    if op is not None and settings.enabled != op.desired_at_switch:
        store.set_operator(None)
        _log.warning(
            "desired `enabled` changed; it overrides the operator's switch", enabled=settings.enabled
        )
    elif op is not None:
        _log.info("operator's switch stays in force", enabled=op.enabled)
    await ctx.report({"writeback": _reported(ctx, settings)})


def _session_of(s: Settings) -> tuple[Any, ...]:
    return (s.endpoint, s.security_mode, s.username, s.password, s.pki_dir, s.auto_accept_untrusted,
            tuple(sorted((k, t.endpoint) for k, t in s.targets.items())))  # fmt: skip


def _reported(ctx: Context[Settings, WritebackState], settings: Settings) -> dict[str, Any]:
    op = ctx.state.store.operator()
    return {
        "enabled": settings.enabled if op is None else op.enabled,
        "switchedBy": "twin" if op is None else "setEnabled",
        "dryRun": settings.dry_run,
        "targets": sorted(settings.targets),
        "permissive": settings.permissive_node_id,
        "heartbeat": settings.heartbeat_node_id,
    }


@module.input("requests", queue_size=1000, overflow="block", concurrency=4)
async def on_request(ctx: Context[Settings, WritebackState], msg: InputMessage) -> None:
    """One write request → exactly one audit event (one message id per request id). Requests overlap:
    the next one is decided while the last one's write is read back and audited (the service orders them)."""
    env = None
    try:
        env = parse_envelope(msg.json())
        if env is None or env.kind != "writeRequest":
            raise ValueError("expected an envelope of kind writeRequest")
        request = parse_request(env.data)
    except (ContractError, ValueError) as exc:
        raw = env.data if env is not None and isinstance(env.data, dict) else None
        audit = audit_record(None, raw, None, "refused", f"malformed: {exc}")
        _log.error("malformed write request refused", error=str(exc)[:500], message_id=msg.message_id)
        ctx.record_error("requests", f"malformed write request: {str(exc)[:500]}")
        mid = audit_id(f"message:{msg.message_id}") if msg.message_id else None
        await _audit(ctx, audit, env.correlation_id if env else msg.correlation_id, mid)
        return
    service = ctx.state.service
    async with service.claim(request.request_id):  # a copy delivered again meanwhile waits, then repeats
        enabled, _ = enabled_now(ctx)
        decision = await service.handle(ctx.settings, request, enabled=enabled, envelope_ts=env.ts,
                                        correlation_id=env.correlation_id)  # fmt: skip
        audit = decision.audit
        if decision.repeat:
            _log.info("repeated write request; not written again", request_id=request.request_id)
        else:
            level = _log.info if audit["result"] in ("applied", "dry-run") else _log.warning
            level("write " + audit["result"], target=request.target, value=audit["value"],
                  reason=audit["reason"], request_id=request.request_id)  # fmt: skip
        await _audit(ctx, audit, env.correlation_id, audit_id(request.request_id), count=not decision.repeat)
        if not decision.repeat:
            service.sent(request.request_id)


def audit_id(request_id: str) -> str:
    """The audit event's message id: one per request id, so a repeat upstream is a recognisable duplicate."""
    return contract_audit_id(request_id)


async def _audit(
    ctx: Context[Settings, WritebackState],
    audit: dict[str, Any],
    correlation_id: str | None,
    message_id: str | None = None,
    *,
    count: bool = True,
) -> None:
    """Count the outcome, then send until it goes out: the request stays unacknowledged (edgeHub keeps it)."""
    if count:  # a repeat of an audit already sent is not another write outcome
        _count_write(ctx.state.m_writes, audit)
    await _send_audit(ctx, audit, correlation_id, message_id)


def _count_write(m_writes: Bound, audit: dict[str, Any]) -> None:
    m_writes.labels(result=audit["result"], target=str(audit.get("target"))).inc()


async def _send_audit(
    ctx: Context[Settings, WritebackState],
    audit: dict[str, Any],
    correlation_id: str | None,
    message_id: str | None,
) -> None:
    """Send until it goes out: the request stays unacknowledged (edgeHub keeps it) until then."""
    delay = 0.5
    body = _typed(audit)
    while True:
        try:
            await ctx.send("audit", body, kind="audit", message_id=message_id, correlation_id=correlation_id)
            return
        except MessageTooLargeError:  # cannot happen with bounded values; the essentials still go out
            audit = {k: audit.get(k) for k in ("requestId", "target", "nodeId", "result", "attempts")}
            audit["reason"] = "audit cut to its essentials (too large)"
            body = _typed(audit)
        except EdgeloopError as exc:
            _log.warning("audit not sent; retrying", error=str(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


def _typed(audit: dict[str, Any]) -> Audit | dict[str, Any]:
    """The audit as its contract; one that does not fit (a bug) still goes out as it is, logged: an audit
    is owed for every request and must never be held back by its own shape."""
    try:
        return Audit.from_data(audit)
    except ContractError as exc:
        _log.error("audit does not fit its contract; sent as it is", error=str(exc))
        return audit


@module.method("setEnabled")
async def set_enabled(ctx: Context[Settings, WritebackState], payload: Any) -> Any:
    """`{"enabled": bool}`: the operator's switch, on disk until the next call or a desired `enabled` change.

    Restarts and unrelated twin patches leave it in force (precedence in the README)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("enabled"), bool):
        raise MethodError(400, 'expected {"enabled": true|false}')
    store = ctx.state.store
    service = ctx.state.service
    async with service.lock:  # the switch takes effect between two requests, never during one
        store.set_operator(Operator(payload["enabled"], ctx.settings.enabled))
    _log.warning("write-back switched by method", enabled=payload["enabled"])
    await ctx.report({"writeback": _reported(ctx, ctx.settings)})
    return {"enabled": payload["enabled"]}


def heartbeat_due(s: Settings, enabled: bool) -> bool:
    """A heartbeat goes out only while write-back is enabled, not dry-run, and one is configured."""
    return s.heartbeat_node_id is not None and s.endpoint is not None and enabled and not s.dry_run


def heartbeat_value(count: int, vtype: str) -> Any:
    """The n-th heartbeat: an Int32 counter 1 .. 2**31-1 then 1 again, or a Boolean toggle."""
    return (count - 1) % (2**31 - 1) + 1 if vtype == "Int32" else bool(count % 2)


@module.task
async def heartbeat(ctx: Context[Settings, WritebackState]) -> None:
    """Write the heartbeat node every `heartbeatIntervalS` while write-back is enabled and not dry-run,
    so the DCS sees a dead AI path (a stopped counter) and falls back."""
    count = 0
    while True:
        s = ctx.settings
        await asyncio.sleep(s.heartbeat_interval_s)
        if not heartbeat_due(s, enabled_now(ctx)[0]):
            continue
        assert s.heartbeat_node_id is not None and s.endpoint is not None  # heartbeat_due
        count += 1
        value = heartbeat_value(count, s.heartbeat_type)
        access = ctx.state.access
        service = ctx.state.service
        try:
            async with service.lock:  # never over a session a credential change is closing
                await access.write(s.endpoint, s.heartbeat_node_id, value, s.heartbeat_type)
            ctx.state.m_heartbeats.labels(result="written").inc()
        except (EdgeloopError, WriteRefusedError) as exc:
            ctx.state.m_heartbeats.labels(result="failed").inc()
            _log.warning("heartbeat not written", node=s.heartbeat_node_id, error=str(exc))
