"""opcua_writeback on the runtime: `requests` in, guarded OPC UA writes, `audit` out, `setEnabled`."""

from __future__ import annotations

import uuid
from typing import Any

from edgeloop_runtime import Context, InputMessage, MethodError, Module, get_logger, parse_envelope
from edgeloop_runtime.errors import ContractError

from .config import Settings
from .guard import parse_request
from .opcua import OpcUaAccess
from .service import WriteBackService, audit_record

_log = get_logger(__name__)
_AUDIT_IDS = uuid.UUID("5f0c2a7e-6b1d-4f3a-9e2c-7d8a1b4c6e90")
module = Module("opcua_writeback", Settings, fail_safe={"enabled": False})


@module.on_start
async def start(ctx: Context[Settings]) -> None:
    """The adapter (closed on exit), the service, the metrics."""
    access = await ctx.exit_stack.enter_async_context(OpcUaAccess(ctx.settings))
    ctx.state.update(
        access=access,
        service=WriteBackService(access),
        enabled_override=None,
        m_writes=ctx.metrics.counter("writes_total", "Write attempts by result.", ["result", "target"]),
    )


@module.on_config
async def configure(ctx: Context[Settings], settings: Settings) -> None:
    """New targets/limits apply to the next request; the adapter picks up the connection settings."""
    access: OpcUaAccess | None = ctx.state.get("access")
    if access is not None:
        if (access.settings.endpoint, access.settings.security_mode, access.settings.username) != (
            settings.endpoint, settings.security_mode, settings.username,
        ):  # fmt: skip
            await access.close()
        access.settings = settings
    ctx.state["enabled_override"] = None  # the twin's `enabled` wins again after a patch
    await ctx.report({"writeback": {"enabled": settings.enabled, "dryRun": settings.dry_run,
                                    "targets": sorted(settings.targets)}})  # fmt: skip


def _effective(ctx: Context[Settings]) -> Settings:
    override = ctx.state.get("enabled_override")
    return ctx.settings if override is None else ctx.settings.model_copy(update={"enabled": override})


@module.input("requests", queue_size=1000, overflow="block")
async def on_request(ctx: Context[Settings], msg: InputMessage) -> None:
    """One write request → exactly one audit event with the request's correlation id."""
    env = None
    try:
        env = parse_envelope(msg.json())
        if env is None or env.kind != "writeRequest":
            raise ValueError("expected an envelope of kind writeRequest")
        request = parse_request(env.data)
    except (ContractError, ValueError) as exc:
        raw = env.data if env is not None and isinstance(env.data, dict) else None
        audit = audit_record(None, raw, None, "refused", f"malformed: {exc}")
        _log.error("malformed write request refused", error=str(exc), message_id=msg.message_id)
        ctx.record_error("requests", f"malformed write request: {exc}")
        await _audit(ctx, audit, env.correlation_id if env else msg.correlation_id)
        return
    service: WriteBackService = ctx.state["service"]
    seen = service.duplicates
    audit = await service.handle(_effective(ctx), request)
    repeated = service.duplicates > seen  # delivered again: its first audit goes again, under the same id
    if repeated:
        _log.info("repeated write request; not written again", request_id=request.request_id)
    else:
        level = _log.info if audit["result"] in ("applied", "dry-run") else _log.warning
        level("write " + audit["result"], target=request.target, value=request.value,
              reason=audit["reason"], request_id=request.request_id)  # fmt: skip
    await _audit(ctx, audit, env.correlation_id, audit_id(request.request_id), count=not repeated)


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
    if count:  # a repeat of an audit already sent is not another write outcome
        ctx.state["m_writes"].labels(result=audit["result"], target=str(audit.get("target"))).inc()
    await ctx.send("audit", audit, kind="audit", message_id=message_id, correlation_id=correlation_id)


@module.method("setEnabled")
async def set_enabled(ctx: Context[Settings], payload: Any) -> Any:
    """`{"enabled": bool}`: switch write-back on or off until the next twin patch."""
    if not isinstance(payload, dict) or not isinstance(payload.get("enabled"), bool):
        raise MethodError(400, 'expected {"enabled": true|false}')
    ctx.state["enabled_override"] = payload["enabled"]
    _log.warning("write-back switched by method", enabled=payload["enabled"])
    await ctx.report({"writeback": {"enabled": payload["enabled"], "switchedBy": "setEnabled"}})
    return {"enabled": payload["enabled"]}
