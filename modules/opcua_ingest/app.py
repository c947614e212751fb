"""opcua_ingest on the runtime: settings, configuration from file or twin, sessions, metrics, reports."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgeloop_opcua import Pki
from edgeloop_runtime import Context, Module, get_logger
from edgeloop_runtime.errors import ConfigError, MethodError
from edgeloop_runtime.metrics import Bound

from . import methods as api
from .emission import EVENT_PROPERTIES, split_events
from .opcua import EndpointSession, EndpointState
from .plan import EndpointPlan, IngestPlan
from .publishednodes import (
    parse_published_nodes,
    read_published_nodes_file,
    write_published_nodes_file,
)
from .service import IngestPipeline, IngestStats
from .settings import Settings

_log = get_logger(__name__)


@dataclass
class IngestState:
    """The pipeline's inputs, the plan in force and the document it came from, sessions, PKI, metrics."""

    stats: IngestStats
    publisher: str
    send: Callable[[dict[str, Any]], Awaitable[None]]
    m_items: Bound
    m_values: Bound
    m_values_in: Bound
    m_msgs: Bound
    m_queue: Bound
    m_dropped: Bound
    m_conn: Bound
    m_reconn: Bound
    m_watchdog: Bound
    m_heartbeats: Bound
    m_rejected: Bound
    plan: IngestPlan | None = None
    plan_error: str | None = None
    doc: api.Doc | None = None
    settings_for_plan: Settings | None = None
    last_change: dict[str, Any] | None = None
    pipeline: IngestPipeline | None = None
    pki: Pki | None = None
    sessions: dict[str, EndpointState] = field(default_factory=dict)
    reconfigure: asyncio.Event = field(default_factory=asyncio.Event)
    dirty: asyncio.Event = field(default_factory=asyncio.Event)
    method_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


module = Module("opcua_ingest", Settings, IngestState)


def _plan(settings: Settings) -> tuple[IngestPlan, Any]:
    """The plan and the document it comes from (the twin's publishedNodes, else the file, else none)."""
    if settings.published_nodes is not None:
        return parse_published_nodes(
            settings.published_nodes, origin="publishedNodes"
        ), settings.published_nodes
    if settings.published_nodes_file:
        doc = read_published_nodes_file(Path(settings.published_nodes_file))
        return parse_published_nodes(doc, origin="PUBLISHED_NODES_FILE"), doc
    return IngestPlan(), []


@module.on_start
async def start(ctx: Context[Settings, IngestState]) -> IngestState:
    """Create the pipeline and the metrics."""
    publisher = ctx.settings.publisher_id or "_".join(
        filter(None, (os.environ.get("IOTEDGE_DEVICEID"), os.environ.get("IOTEDGE_MODULEID", "opcua_ingest")))
    )

    async def send(message: dict[str, Any]) -> None:
        values, events = split_events(message)
        if events is not None:  # alarms first: they are what an operator must see
            await ctx.send("telemetry", events, envelope=False, properties=dict(EVENT_PROPERTIES))
        if values is not None:
            await ctx.send("telemetry", values, envelope=False)

    return IngestState(
        stats=IngestStats(),
        publisher=publisher,
        send=send,
        m_items=ctx.metrics.gauge("monitored_items", "Monitored items created.", ["endpoint"]),
        m_values=ctx.metrics.counter("values_total", "Values sent on telemetry (per second: rate()).", []),
        m_values_in=ctx.metrics.counter("values_received_total", "Value changes received from servers.", []),
        m_msgs=ctx.metrics.counter("messages_total", "Network messages sent.", []),
        m_queue=ctx.metrics.gauge("queue_length", "Values waiting to be batched.", []),
        m_dropped=ctx.metrics.counter("dropped_values_total", "Values dropped, by reason.", ["reason"]),
        m_conn=ctx.metrics.gauge("connected", "1 while the endpoint's session is up.", ["endpoint"]),
        m_reconn=ctx.metrics.counter("reconnects_total", "Reconnect attempts.", ["endpoint"]),
        m_watchdog=ctx.metrics.counter(
            "subscription_watchdog_resets_total",
            "Subscriptions recreated because the server was silent past their keep-alive budget.",
            ["endpoint"],
        ),
        m_heartbeats=ctx.metrics.counter("heartbeats_total", "Heartbeat (last known value) resends.", []),
        m_rejected=ctx.metrics.counter(
            "certificates_rejected_total", "Server certificates refused and saved to rejected/.", []
        ),
    )


@module.on_config
async def configure(ctx: Context[Settings, IngestState], settings: Settings) -> None:
    """Validate the published nodes; a bad patch is refused (the old plan stays), a bad start runs empty."""
    try:
        plan, doc = _plan(settings)
    except ConfigError as exc:
        if ctx.state.plan is not None:
            raise
        _log.error("published nodes invalid; running with none until fixed", error=str(exc))
        ctx.record_error("publishedNodes", exc)
        ctx.state.plan_error = str(exc)
        plan, doc = IngestPlan(), None
    else:
        ctx.state.plan_error = None
        for reason in plan.refused:
            _log.error("publishednodes entry refused; the other entries are served", reason=reason)
    ctx.state.plan = plan
    ctx.state.doc = doc
    ctx.state.settings_for_plan = settings
    ctx.state.reconfigure.set()
    ctx.state.dirty.set()


async def _change(
    ctx: Context[Settings, IngestState], name: str, edit: Callable[[api.Doc], api.Doc]
) -> dict[str, Any]:
    """Apply one configuration method: edit the document, validate it, persist it to the file, re-plan."""
    st = ctx.state
    async with st.method_lock:
        s = st.settings_for_plan or ctx.settings
        if s.published_nodes is not None:
            raise MethodError(
                409, f"{name}: the configuration comes from the twin's publishedNodes; change it there"
            )
        if not s.published_nodes_file:
            raise MethodError(
                409, f"{name}: set PUBLISHED_NODES_FILE, where method changes persist (OPC Publisher's --pf)"
            )
        if st.doc is None:
            raise MethodError(409, f"{name}: the file is invalid ({st.plan_error}); fix it first")
        new = edit(list(st.doc))
        old: IngestPlan = st.plan or IngestPlan()
        try:
            plan = parse_published_nodes(new, origin=name)
        except ConfigError as exc:
            raise MethodError(400, str(exc)) from exc
        if len(plan.refused) > len(old.refused):
            raise MethodError(400, f"{name}: refused", refused=list(plan.refused))
        write_published_nodes_file(Path(s.published_nodes_file), new)
        st.plan, st.doc, st.plan_error, st.last_change = plan, new, None, {"method": name, "at": _now()}
        _log.info("published nodes changed by method", method=name, endpoints=len(plan.endpoints))
        st.reconfigure.set()
        st.dirty.set()
        return {}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@module.method("PublishNodes_V1")
async def publish_nodes(ctx: Context[Settings, IngestState], payload: Any) -> Any:
    """OPC Publisher's PublishNodes_V1: add nodes to a DataSetWriter (persisted to the file)."""
    return await _change(ctx, "PublishNodes_V1", lambda doc: api.publish_nodes(doc, payload))


@module.method("UnpublishNodes_V1")
async def unpublish_nodes(ctx: Context[Settings, IngestState], payload: Any) -> Any:
    """OPC Publisher's UnpublishNodes_V1: remove nodes (or a whole DataSetWriter)."""
    return await _change(ctx, "UnpublishNodes_V1", lambda doc: api.unpublish_nodes(doc, payload))


@module.method("UnpublishAllNodes_V1")
async def unpublish_all_nodes(ctx: Context[Settings, IngestState], payload: Any) -> Any:
    """OPC Publisher's UnpublishAllNodes_V1: remove a DataSetWriter, or everything for `{}`."""
    return await _change(ctx, "UnpublishAllNodes_V1", lambda doc: api.unpublish_all_nodes(doc, payload))


@module.method("AddOrUpdateEndpoints_V1")
async def add_or_update_endpoints(ctx: Context[Settings, IngestState], payload: Any) -> Any:
    """OPC Publisher's AddOrUpdateEndpoints_V1: replace or remove the nodes of several DataSetWriters."""
    return await _change(
        ctx, "AddOrUpdateEndpoints_V1", lambda doc: api.add_or_update_endpoints(doc, payload)
    )


@module.method("GetConfiguredEndpoints_V1")
async def get_configured_endpoints(ctx: Context[Settings, IngestState], payload: Any) -> Any:
    """OPC Publisher's GetConfiguredEndpoints_V1: the configured DataSetWriters, without nodes or secrets."""
    return api.get_configured_endpoints(ctx.state.doc or [])


@module.method("GetConfiguredNodesOnEndpoint_V1")
async def get_configured_nodes_on_endpoint(ctx: Context[Settings, IngestState], payload: Any) -> Any:
    """OPC Publisher's GetConfiguredNodesOnEndpoint_V1: the nodes of one DataSetWriter."""
    return api.get_configured_nodes_on_endpoint(ctx.state.doc or [], payload)


@module.method("GetDiagnosticInfo_V1")
async def get_diagnostic_info(ctx: Context[Settings, IngestState], payload: Any) -> Any:
    """OPC Publisher's GetDiagnosticInfo_V1: per endpoint, connection and monitored items (module totals)."""
    st = ctx.state
    plan = st.plan or IngestPlan()
    stats = st.stats
    out = []
    for ep in plan.endpoints:
        es = st.sessions.get(ep.url)
        out.append({
            "endpoint": {
                "endpointUrl": ep.url, "useSecurity": ep.security_mode != "None",
                "opcAuthenticationMode": ep.auth_mode, "opcAuthenticationUsername": ep.username,
                "dataSetWriterGroup": ep.subscriptions[0].writer_group if ep.subscriptions else None,
            },
            "opcEndpointConnected": es is not None and es.state == "connected",
            "connectionRetries": es.reconnects if es else 0,
            "monitoredOpcNodesSucceededCount": es.monitored_items if es else 0,
            "monitoredOpcNodesFailedCount": len(es.node_errors) if es else 0,
            "subscriptionWatchdogResets": es.watchdog_resets if es else 0,
            "ingressValueChanges": stats.values_in,  # module-wide, as are the counters below
            "outgressIoTMessageCount": stats.messages_out,
            "encoderNotificationsDropped": sum(stats.dropped.values()),
        })  # fmt: skip
    return out


@module.task
async def ingest(ctx: Context[Settings, IngestState]) -> None:
    """Run the pipeline and one session per endpoint; re-plan on every accepted configuration."""
    st = ctx.state
    s = st.settings_for_plan or ctx.settings
    pipeline = IngestPipeline(
        st.send, publisher_id=st.publisher, max_bytes=s.batch_max_bytes, flush_interval_s=1.0,
        queue_size=s.queue_size, stats=st.stats, max_in_flight=s.send_max_in_flight,
    )  # fmt: skip
    st.pipeline = pipeline
    sessions: dict[EndpointPlan, asyncio.Task[None]] = {}
    states = st.sessions
    async with asyncio.TaskGroup() as tg:
        tg.create_task(pipeline.run(), name="pipeline")
        tg.create_task(_export(ctx), name="metrics")
        try:
            while True:
                await st.reconfigure.wait()
                st.reconfigure.clear()
                s = st.settings_for_plan or ctx.settings
                plan = st.plan or IngestPlan()
                _batching(pipeline, s, plan)
                _reconcile(ctx, s, plan, pipeline, sessions, states, tg)
        finally:
            for task in sessions.values():
                task.cancel()


def _batching(pipeline: IngestPipeline, s: Settings, plan: IngestPlan) -> None:
    """When network messages go: publishednodes.json's BatchTriggerInterval / BatchSize, else the module's
    batchIntervalMs; with neither interval, each publish response as soon as it is batched."""
    interval = plan.batch_trigger_ms if plan.batch_trigger_ms is not None else s.batch_interval_ms
    pipeline.batch_size = plan.batch_size or 0
    pipeline.flush_on_response = not interval
    flush = interval or plan.min_publishing_ms()
    pipeline.flush_interval_s = min(max(flush / 1000.0, 0.001 if interval else 0.02), 3600.0)


def _reconcile(
    ctx: Context[Settings, IngestState],
    s: Settings,
    plan: IngestPlan,
    pipeline: IngestPipeline,
    sessions: dict[EndpointPlan, asyncio.Task[None]],
    states: dict[str, EndpointState],
    tg: asyncio.TaskGroup,
) -> None:
    wanted = set(plan.endpoints)
    for ep in list(sessions):
        if ep not in wanted:
            sessions.pop(ep).cancel()
            states.pop(ep.url, None)
            for writer, fields in ep.writers().items():
                for name in fields:
                    pipeline.filters.forget(writer, name)
    pki = ctx.state.pki
    if pki is None or (pki.root, pki.auto_accept) != (Path(s.pki_dir), s.auto_accept_untrusted):
        pki = ctx.state.pki = Pki(Path(s.pki_dir), "opcua_ingest", s.auto_accept_untrusted)
    for ep in plan.endpoints:
        if ep in sessions:
            continue
        session = EndpointSession(
            ep,
            pipeline,
            pki,
            min_backoff_s=s.reconnect_min_backoff_s,
            max_backoff_s=s.reconnect_max_backoff_s,
            security_backoff_s=s.reconnect_security_backoff_s,
            keepalive_s=s.subscription_keepalive_s,
            watchdog_margin_s=s.watchdog_margin_s,
            on_change=lambda _st: ctx.state.dirty.set(),
        )
        states[ep.url] = session.status
        sessions[ep] = tg.create_task(session.run(), name=f"session:{ep.url}")
    _log.info("published nodes applied", endpoints=len(plan.endpoints), nodes=plan.node_count)


async def _export(ctx: Context[Settings, IngestState]) -> None:
    """Metrics every second; reported properties on change (at most every second) and periodically."""
    st = ctx.state
    stats = st.stats
    last = IngestStats()
    last_dropped: dict[str, int] = {}
    last_reconnects: dict[str, int] = {}
    last_resets: dict[str, int] = {}
    last_t = time.monotonic()
    last_report = 0.0
    last_rejections = 0
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(st.dirty.wait(), 1.0)
        now = time.monotonic()
        dt = max(now - last_t, 1e-3)
        st.m_values.inc(stats.values_out - last.values_out)
        st.m_values_in.inc(stats.values_in - last.values_in)
        st.m_msgs.inc(stats.messages_out - last.messages_out)
        st.m_heartbeats.inc(stats.heartbeats - last.heartbeats)
        vps, mps = (stats.values_out - last.values_out) / dt, (stats.messages_out - last.messages_out) / dt
        for reason, n in stats.dropped.items():
            st.m_dropped.labels(reason=reason).inc(n - last_dropped.get(reason, 0))
            last_dropped[reason] = n
        last = IngestStats(stats.values_in, stats.values_out, stats.messages_out, 0, stats.heartbeats)
        last_t = now
        pki = st.pki
        if pki is not None and pki.rejections != last_rejections:
            st.m_rejected.inc(max(pki.rejections - last_rejections, 0))
            last_rejections = pki.rejections
            st.dirty.set()
        pipeline = st.pipeline
        st.m_queue.set(len(pipeline.queue) if pipeline else 0)
        for url, es in list(st.sessions.items()):
            st.m_items.labels(endpoint=url).set(es.monitored_items)
            st.m_conn.labels(endpoint=url).set(1 if es.state == "connected" else 0)
            st.m_reconn.labels(endpoint=url).inc(es.reconnects - last_reconnects.get(url, 0))
            last_reconnects[url] = es.reconnects
            st.m_watchdog.labels(endpoint=url).inc(max(es.watchdog_resets - last_resets.get(url, 0), 0))
            last_resets[url] = es.watchdog_resets
        if st.dirty.is_set() or now - last_report >= ctx.settings.report_interval_s:
            st.dirty.clear()
            last_report = now
            await ctx.report({"ingest": _reported(st, vps, mps)})


def _reported(st: IngestState, vps: float, mps: float) -> dict[str, Any]:
    plan = st.plan or IngestPlan()
    stats = st.stats
    return {
        "publishedNodes": {
            "status": "invalid" if st.plan_error else ("partial" if plan.refused else "applied"),
            "error": st.plan_error,
            "refused": list(plan.refused[:50]),
            "lastChange": st.last_change,
            "endpoints": len(plan.endpoints),
            "nodes": plan.node_count,
        },
        "endpoints": {url.replace(".", "_"): es.report() for url, es in st.sessions.items()},
        "valuesPerSecond": round(vps, 1),
        "messagesPerSecond": round(mps, 2),
        "dropped": dict(stats.dropped),
        "pki": st.pki.report() if st.pki else None,
    }
