"""upstream_router on the runtime: inputs to the durable store, then upstream by priority and budget."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from edgeloop_contracts import Envelope, Source
from edgeloop_contracts.deadletter import DeadLetter, deadletter_id
from edgeloop_runtime import (
    Backpressure,
    Context,
    ContractError,
    InputMessage,
    MethodError,
    Module,
    get_logger,
)

from .alarms import alarm_envelopes
from .blob import BlobTarget
from .budget import Budget
from .deadletters import deadletter_body
from .folder import FILE_SCHEME, FolderTarget
from .frames import Frame, FrameBuffer
from .router import Accepted, Router
from .service import RouterService
from .settings import Settings
from .store import Store, StoreUnavailableError

_log = get_logger(__name__)


@dataclass
class RouterState:
    """The router service (store, link, uploads) and the bandwidth budget it spends."""

    service: RouterService
    budget: Budget


module = Module("upstream_router", Settings, RouterState)


def _svc(ctx: Context[Settings, RouterState]) -> RouterService:
    return ctx.state.service


@module.on_start
async def start(ctx: Context[Settings, RouterState]) -> RouterState:
    s = ctx.settings
    store_path = Path(s.store_path) if s.store_path else ctx.state_dir / "queue.db"
    store = Store(
        store_path,
        max_bytes=s.store_max_bytes,
        max_messages=s.store_max_messages,
        policy=s.store_policy,
        sync=s.store_sync,
        evidence_share=s.store_evidence_share,
    )
    store.open()
    ctx.exit_stack.callback(store.close)
    blob: BlobTarget | FolderTarget | None = None
    if s.blob_connection_string is not None:
        conn = s.blob_connection_string.get_secret_value()
        if conn.startswith(FILE_SCHEME):  # local folder stand-in (the demo without Node/Azurite)
            blob = FolderTarget(conn, s.blob_container)
        else:
            blob = BlobTarget(
                conn, s.blob_container, api_version=s.blob_api_version, timeout=s.blob_timeout_seconds
            )
        await ctx.exit_stack.enter_async_context(blob)
    budget = Budget(s.bandwidth_bytes_per_hour, burst_s=s.burst_seconds)
    router = Router(
        store,
        budget,
        s.policy(uploads=blob is not None),
        source={"module": ctx.module_name, "version": ctx.version},
        blob_url=blob.url_for if blob else None,
        frames=FrameBuffer(per_camera=s.frames_per_camera),
        compliance=s.compliance,
    )
    n, size = store.totals()
    _log.info(
        "store open", path=str(store_path), messages=n, bytes=size, uploads_pending=store.uploads_pending()
    )
    return RouterState(RouterService(ctx, router, blob), budget)


@module.on_config
async def configure(ctx: Context[Settings, RouterState], settings: Settings) -> None:
    svc = ctx.state.service
    svc.router.policy = settings.policy(uploads=svc.blob is not None)
    svc.router.compliance = settings.compliance
    svc.link.set_forced(not settings.link_up)
    store = svc.router.store
    store.max_bytes, store.max_messages, store.policy, store.evidence_share = (
        settings.store_max_bytes,
        settings.store_max_messages,
        settings.store_policy,
        settings.store_evidence_share,
    )
    if settings.bandwidth_bytes_per_hour != ctx.settings.bandwidth_bytes_per_hour:
        svc.set_budget(ctx.state.budget, settings.bandwidth_bytes_per_hour)
    svc.wake.set()


def _store(svc: RouterService, input_name: str, env: object) -> Accepted:
    """Persist one input; a full disk is back-pressure: the input stays with edgeHub, retried later."""
    try:
        return svc.router.accept(input_name, env, time.time())
    except StoreUnavailableError as exc:
        svc.m_store_full.inc()
        raise Backpressure(
            f"store cannot write ({exc}); the input stays with edgeHub", retry_after_s=0.25
        ) from exc


async def _accept(ctx: Context[Settings, RouterState], msg: InputMessage) -> None:
    """Persist the message (durable when this returns), then wake the sender."""
    svc = _svc(ctx)
    env = msg.json()
    acc = _store(svc, msg.input_name, env)
    if acc.result.duplicate:
        _log.info("duplicate input ignored", input=msg.input_name, message_id=msg.message_id)
    svc.wake.set()


for _name in ("anomalies", "summaries", "audit", "drift"):
    module.input(_name, queue_size=1000, overflow="block")(_accept)


@module.input("alarms", queue_size=1000, overflow="block")
async def on_alarms(ctx: Context[Settings, RouterState], msg: InputMessage) -> None:
    """opcua_ingest's `ua-event` network message: each plant alarm stored as its own event, by severity."""
    svc = _svc(ctx)
    source = {"module": ctx.module_name, "version": ctx.version}
    for env in alarm_envelopes(msg.json(), source=source, now=time.time()):
        if _store(svc, "alarms", env).result.duplicate:
            _log.info("duplicate alarm ignored", message_id=msg.message_id, alarm=env["id"])
    svc.wake.set()


@module.input("deadletter", queue_size=1000, overflow="block")
async def on_deadletter(ctx: Context[Settings, RouterState], msg: InputMessage) -> None:
    """Another module's dead letter, wrapped so the cloud sees what failed and why."""
    props = msg.properties
    original = props.get("edgeloopOriginalMessageId") or msg.message_id or str(uuid.uuid4())
    data = DeadLetter.from_data(
        {
            "from": msg.sender,
            "input": props.get("edgeloopInput"),
            "error": props.get("edgeloopError"),
            "originalMessageId": original,
            "contentType": msg.content_type,
            **deadletter_body(msg, _svc(ctx).router.compliance),
        }
    )
    env = Envelope(
        kind=DeadLetter.KIND,
        id=deadletter_id(msg.sender, original),
        ts=time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        source=Source(ctx.module_name, ctx.version),
        correlation_id=original,
        data=data,
    )
    _store(_svc(ctx), "deadletter", msgspec.to_builtins(env))
    _svc(ctx).wake.set()


@module.input("frames", queue_size=50, overflow="drop_oldest")
async def on_frame(ctx: Context[Settings, RouterState], msg: InputMessage) -> None:
    """Keep the frame in the per-camera ring buffer for vision evidence (memory only)."""
    camera = msg.properties.get("cameraId")
    if not camera:
        raise ContractError("frame without a cameraId property")
    seq_text = msg.properties.get("seq")
    seq = int(seq_text) if seq_text and seq_text.isdecimal() else None
    _svc(ctx).router.frames.add(Frame(camera, seq, msg.properties.get("captureTs"), msg.data))


@module.task
async def sender(ctx: Context[Settings, RouterState]) -> None:
    await _svc(ctx).sender()


@module.task
async def uploader(ctx: Context[Settings, RouterState]) -> None:
    await _svc(ctx).uploader()


@module.method("getQueueStatus")
async def get_queue_status(ctx: Context[Settings, RouterState], payload: object) -> object:
    return _svc(ctx).queue_status()


@module.method("flush")
async def flush(ctx: Context[Settings, RouterState], payload: object) -> object:
    """Send everything waiting now, batching windows aside (the budget still holds lower classes)."""
    svc = _svc(ctx)
    svc.link.next_try = 0.0
    sent = await svc.send_once(flush=True)
    status = svc.queue_status()
    if not svc.link.up or svc.link.forced_down:
        raise MethodError(
            503, "upstream link is down; messages stay stored", sent=sent, queues=status["queues"]
        )
    return {"sent": sent, "queues": status["queues"]}


@module.method("setBandwidthBudget")
async def set_bandwidth_budget(ctx: Context[Settings, RouterState], payload: object) -> object:
    """{"bytesPerHour": n} sets the cap until the next restart or twin change; null removes it."""
    if not isinstance(payload, dict) or "bytesPerHour" not in payload:
        raise MethodError(400, 'payload must be {"bytesPerHour": number or null}')
    value = payload["bytesPerHour"]
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf")
    ):
        raise MethodError(400, "bytesPerHour must be a positive number or null")
    svc = _svc(ctx)
    svc.set_budget(ctx.state.budget, None if value is None else float(value))
    await ctx.report({"bandwidthBudget": {"bytesPerHour": value}})
    return {"bytesPerHour": value}


@module.status_provider
def status(ctx: Context[Settings, RouterState]) -> dict[str, Any]:
    return {"queue": ctx.state.service.queue_status()}
