"""opcua_writeback on the runtime: `requests` in, guarded OPC UA writes, `audit` out, switch, heartbeat."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import uuid
from typing import Any

from edgeloop_runtime import Context, InputMessage, MethodError, Module, get_logger, parse_envelope
from edgeloop_runtime.errors import ContractError, EdgeloopError, FatalError, MessageTooLargeError

from .guard import parse_request
from .opcua import OpcUaAccess
from .service import WriteBackService, WriteRefusedError, audit_record
from .settings import Settings
from .store import Operator, SafetyStore

_log = get_logger(__name__)
_AUDIT_IDS = uuid.UUID("5f0c2a7e-6b1d-4f3a-9e2c-7d8a1b4c6e90")
CRASH_ENV = "EDGELOOP_TEST_CRASH_AT"  # tests only: SIGKILL itself at before-write/after-write/after-outcome
module = Module("opcua_writeback", Settings, fail_safe={"enabled": False})


def _crash_point() -> Any:
    where = os.environ.get(CRASH_ENV)

    def crash(point: str) -> None:
        if point == where:
            _log.warning("test hook: killing the module", at=point)
            os.kill(os.getpid(), signal.SIGKILL)

    return crash


@module.on_start
async def start(ctx: Context[Settings]) -> None:
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
    ctx.state.update(
        access=access,
        store=store,
        service=service,
        m_writes=ctx.metrics.counter("writes_total", "Write attempts by result.", ["result", "target"]),
        m_heartbeats=ctx.metrics.counter("heartbeats_total", "Heartbeat writes by result.", ["result"]),
    )
    for entry in store.unsent():  # the module died between the write and its audit
        audit = service.recover(entry.key, entry.phase, entry.audit, entry.node)
        _log.warning("audit recovered after a restart", request_id=audit["requestId"], result=audit["result"])
        await _audit(ctx, audit, entry.correlation_id, audit_id(str(audit["requestId"])))
        service.sent(entry.key)


def enabled_now(ctx: Context[Settings]) -> tuple[bool, str]:
    """The switch in force and who set it: the operator's `setEnabled`, else the twin's `enabled`."""
    op: Operator | None = ctx.state["store"].operator()
    return (ctx.settings.enabled, "twin") if op is None else (op.enabled, "setEnabled")


@module.on_config
async def configure(ctx: Context[Settings], settings: Settings) -> None:
    """New targets/limits apply to the next request; changed credentials or security reconnect.

    The operator's switch stays through any patch that leaves the desired `enabled` as it was when the
    switch was thrown; a change of the desired `enabled` itself hands control back to the twin.
    """
    access: OpcUaAccess = ctx.state["access"]
    service: WriteBackService = ctx.state["service"]
    async with service.quiet():  # no write or read-back in flight: the next one uses the new session
        old = access.settings
        if _session_of(old) != _session_of(settings):
            await access.close()
            _log.info("connection settings changed; the next write opens a new session")
        access.settings = settings
    store: SafetyStore = ctx.state["store"]
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


def _reported(ctx: Context[Settings], settings: Settings) -> dict[str, Any]:
    op: Operator | None = ctx.state["store"].operator()
    return {
        "enabled": settings.enabled if op is None else op.enabled,
        "switchedBy": "twin" if op is None else "setEnabled",
        "dryRun": settings.dry_run,
        "targets": sorted(settings.targets),
        "permissive": settings.permissive_node_id,
        "heartbeat": settings.heartbeat_node_id,
    }


@module.input("requests", queue_size=1000, overflow="block", concurrency=4)
async def on_request(ctx: Context[Settings], msg: InputMessage) -> None:
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
    service: WriteBackService = ctx.state["service"]
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
    return str(uuid.uuid5(_AUDIT_IDS, request_id))


async def _audit(
    ctx: Context[Settings],
    audit: dict[str, Any],
    correlation_id: str | None,
    message_id: str | None = None,
    *,
    count: bool = True,
) -> None:
    """Send until it goes out: the request stays unacknowledged (edgeHub keeps it) until then."""
    if count:  # a repeat of an audit already sent is not another write outcome
        ctx.state["m_writes"].labels(result=audit["result"], target=str(audit.get("target"))).inc()
    delay = 0.5
    while True:
        try:
            await ctx.send("audit", audit, kind="audit", message_id=message_id, correlation_id=correlation_id)
            return
        except MessageTooLargeError:  # cannot happen with bounded values; the essentials still go out
            audit = {k: audit.get(k) for k in ("requestId", "target", "nodeId", "result", "attempts")}
            audit["reason"] = "audit cut to its essentials (too large)"
        except EdgeloopError as exc:
            _log.warning("audit not sent; retrying", error=str(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


@module.method("setEnabled")
async def set_enabled(ctx: Context[Settings], payload: Any) -> Any:
    """`{"enabled": bool}`: the operator's switch, on disk until the next call or a desired `enabled` change.

    Restarts and unrelated twin patches leave it in force (precedence in the README)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("enabled"), bool):
        raise MethodError(400, 'expected {"enabled": true|false}')
    store: SafetyStore = ctx.state["store"]
    service: WriteBackService = ctx.state["service"]
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
async def heartbeat(ctx: Context[Settings]) -> None:
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
        access: OpcUaAccess = ctx.state["access"]
        service: WriteBackService = ctx.state["service"]
        try:
            async with service.lock:  # never over a session a credential change is closing
                await access.write(s.endpoint, s.heartbeat_node_id, value, s.heartbeat_type)
            ctx.state["m_heartbeats"].labels(result="written").inc()
        except (EdgeloopError, WriteRefusedError) as exc:
            ctx.state["m_heartbeats"].labels(result="failed").inc()
            _log.warning("heartbeat not written", node=s.heartbeat_node_id, error=str(exc))
