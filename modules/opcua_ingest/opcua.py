"""The asyncua adapter: one session per endpoint, its subscriptions, and reconnection with capped back-off."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asyncua import Client, ua

from edgeloop_opcua import (
    BatchSubscription,
    Pki,
    SecurityMode,
    SecurityRejectedError,
    create_batch_subscription,
    discard_subscription,
    fastdecode,
    map_error,
    most_secure_endpoint,
    resolve_node_id,
    secure_client,
    subscription_parameters,
)
from edgeloop_runtime import get_logger

from .cyclic import CyclicNode, cyclic_reads
from .events import EventTarget, condition_refresh, event_item_request, on_events
from .items import item_request, late_items, sample_callback, stamping
from .metadata import field_types, metadata_message, version_time
from .plan import EndpointPlan, SubscriptionPlan
from .service import BAD_NO_COMMUNICATION, IngestPipeline

_log = get_logger(__name__)


@dataclass
class EndpointState:
    """What the module reports and exports for one endpoint."""

    url: str
    state: str = "connecting"  # connecting | connected | reconnecting | stopped
    reconnects: int = 0
    last_error: str | None = None
    monitored_items: int = 0
    node_errors: dict[str, str] = field(default_factory=dict)
    connected_since: float | None = None
    watchdog_resets: int = 0  # subscriptions recreated because the server went silent on them
    security: str = "None"  # the policy/mode in use

    def report(self) -> dict[str, Any]:
        """The reported-properties view."""
        return {
            "state": self.state,
            "reconnects": self.reconnects,
            "watchdogResets": self.watchdog_resets,
            "security": self.security,
            "lastError": self.last_error,
            "monitoredItems": self.monitored_items,
            "nodeErrors": dict(list(self.node_errors.items())[:50]),
        }


class EndpointSession:
    """Keeps one endpoint's session and subscriptions alive and feeds value changes to the pipeline.

    A lost connection marks the gap (every field of the endpoint's writers once with BadNoCommunication),
    then reconnects with back-off from `min_backoff_s` doubling to `max_backoff_s` (at least
    `security_backoff_s` after a refused certificate or identity); subscriptions are created afresh on every
    new session, and the trust list is read again on every attempt.

    The subscription watchdog: a server owes each subscription a publish response (data or keep-alive) at
    least every revised publishing interval x revised max keep-alive count. A subscription silent for longer
    than that plus `watchdog_margin_s` (dropped by the server while the session lives on, or a publish loop
    that ended) has its writers' fields marked Bad once and is recreated on the same session; when that fails,
    the session is recreated too.
    """

    def __init__(
        self,
        plan: EndpointPlan,
        pipeline: IngestPipeline,
        pki: Pki,
        *,
        min_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        security_backoff_s: float = 5.0,
        timeout_s: float = 5.0,
        keepalive_s: float = 5.0,
        watchdog_margin_s: float = 2.0,
        on_change: Callable[[EndpointState], None] | None = None,
    ) -> None:
        self.plan = plan
        self.pipeline = pipeline
        self.pki = pki
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.security_backoff_s = security_backoff_s
        self.timeout_s = timeout_s
        self.keepalive_s = keepalive_s
        self.watchdog_margin_s = watchdog_margin_s
        self.status = EndpointState(plan.url)
        # per subscription with MetaDataUpdateTime: the metadata message and when it last went out
        self._metadata: dict[int, tuple[SubscriptionPlan, dict[str, Any], float]] = {}
        self._cyclic: dict[tuple[str, str], CyclicNode] = {}  # UseCyclicRead nodes of this session
        self._seen: dict[int, dict[int, float]] = {}  # per subscription plan: item handle -> last value
        self._on_change = on_change or (lambda _s: None)

    def _set(self, state: str, error: str | None = None) -> None:
        self.status.state = state
        if error is not None:
            self.status.last_error = error
        self._on_change(self.status)

    async def run(self) -> None:
        """Connect, subscribe and stay connected until cancelled."""
        if not fastdecode.install():  # publish responses' value items without asyncua's generic decoder
            _log.warning(
                "fast publish decoding unavailable with this asyncua; using its own decoder (slower)"
            )
        delay = self.min_backoff_s
        writers = list(self.plan.writers())
        try:
            while True:
                try:
                    await self._session()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    err = map_error(exc, self.plan.url)
                    if self.status.connected_since is not None:
                        delay = self.min_backoff_s  # it was up: the back-off starts over
                    if self.status.state == "connected":
                        _log.warning("connection lost", endpoint=self.plan.url, error=str(err))
                    else:
                        _log.error("cannot connect", endpoint=self.plan.url, error=str(err))
                    self.status.connected_since = None
                    self.pipeline.submit_gap(writers, BAD_NO_COMMUNICATION)
                    self.status.reconnects += 1
                    rejected = isinstance(err, SecurityRejectedError)
                    self._set("securityRejected" if rejected else "reconnecting", str(err))
                    wait = max(delay, self.security_backoff_s) if rejected else delay
                    await asyncio.sleep(wait)
                    delay = min(delay * 2, self.max_backoff_s)
                    continue
                delay = self.min_backoff_s
        finally:
            self._set("stopped")

    async def _session(self) -> None:
        client = Client(self.plan.url, timeout=self.timeout_s, watchdog_intervall=1.0)
        client.session_timeout = 60_000
        lost = asyncio.Event()
        lost_reason: list[str] = []

        async def on_lost(exc: Exception) -> None:
            lost_reason.append(str(map_error(exc, self.plan.url)))
            lost.set()

        client.connection_lost_callback = on_lost
        await self._secure(client)
        await asyncio.wait_for(client.connect(auto_reconnect=False), self.timeout_s * 2)
        self._cyclic = {}
        reads: asyncio.Task[None] | None = None
        try:
            namespaces = await client.get_namespace_array()

            def on_status(status: ua.StatusCode) -> None:
                if status.is_bad():
                    lost_reason.append(f"{self.plan.url}: subscription status {status.name}")
                    lost.set()

            subs = [
                await self._subscribe(client, sp, namespaces, on_status) for sp in self.plan.subscriptions
            ]
            if self._cyclic:
                reads = asyncio.create_task(
                    cyclic_reads(client, list(self._cyclic.values()), self.pipeline.submit_many)
                )

                def on_reads_done(task: asyncio.Task[None]) -> None:
                    if not task.cancelled() and task.exception() is not None:
                        lost_reason.append(str(map_error(task.exception(), self.plan.url)))  # type: ignore[arg-type]
                        lost.set()

                reads.add_done_callback(on_reads_done)
            self.status.monitored_items = sum(n for _sub, n in subs)
            self.status.connected_since = time.monotonic()
            self._set("connected", None)
            self.status.last_error = None
            _log.info("subscribed", endpoint=self.plan.url, items=self.status.monitored_items,
                      subscriptions=len(subs), errors=len(self.status.node_errors))  # fmt: skip
            await self._watch(client, [sub for sub, _n in subs], namespaces, on_status, lost)
            raise ConnectionError(lost_reason[0] if lost_reason else "connection lost")
        finally:
            if reads is not None:
                reads.cancel()
                with contextlib.suppress(BaseException):
                    await reads
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 2.0)

    async def _secure(self, client: Client) -> None:
        user = self.plan.username if self.plan.auth_mode == "UsernamePassword" else None
        mode, policy = self.plan.security_mode, self.plan.security_policy
        chosen: SecurityMode
        if mode == "Best" or (mode != "None" and policy in (None, "None")):
            # No policy named (or "Best"): the server's most secure endpoint, as OPC Publisher's UseSecurity.
            probe = Client(self.plan.url, timeout=self.timeout_s)
            endpoints = await asyncio.wait_for(probe.connect_and_get_server_endpoints(), self.timeout_s * 2)
            chosen, policy = most_secure_endpoint(endpoints, mode, policy if policy != "None" else None)
        elif mode == "None":
            chosen = "None"
        else:
            chosen = mode
        identity: dict[str, Any] = {}
        if self.plan.auth_mode == "Certificate" and self.plan.username:
            cert, key = self.pki.user_identity(self.plan.username)
            identity = {"user_certificate": cert, "user_key": key, "user_key_password": self.plan.password}
        if chosen == "None" or policy in (None, "None"):
            self.status.security = "None"
            await secure_client(client, self.pki, "None", user, self.plan.password, **identity)
            return
        self.status.security = f"{policy}/{chosen}"
        await secure_client(
            client, self.pki, chosen, user, self.plan.password, policy=str(policy), **identity
        )

    async def _watch(
        self,
        client: Client,
        subs: list[BatchSubscription],
        namespaces: list[str],
        on_status: Callable[[ua.StatusCode], None],
        lost: asyncio.Event,
    ) -> None:
        """Until the connection is lost: recreate every subscription that outlives its keep-alive budget."""
        plans = list(self.plan.subscriptions)
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), 0.5)
            now = time.monotonic()
            self._metadata_due(now)
            for k, sub in enumerate(subs):
                if lost.is_set():
                    break
                sp = plans[k]
                limit = sub.keepalive_budget_s() + self.watchdog_margin_s
                silent = sub.silent_for(now)
                if silent > limit:
                    reason = (
                        f"subscription {sub.subscription_id} ({sp.writer_id}, {sp.publishing_ms:g} ms) "
                        f"silent for {silent:.1f} s, past its keep-alive budget of {limit:.1f} s: recreated"
                    )
                elif sp.item_watchdog_s > 0 and (late := late_items(sp, self._seen.get(id(sp)), now)):
                    reason = late
                else:
                    continue
                self.status.watchdog_resets += 1
                behavior = self.plan.watchdog_behavior
                _log.warning(
                    "subscription watchdog", endpoint=self.plan.url, reason=reason, behavior=behavior
                )
                self.pipeline.submit_gap([sp.writer_id], BAD_NO_COMMUNICATION)
                if behavior == "Diagnostic":  # report only; look again after another budget
                    sub.last_publish_at = now
                    seen = self._seen.get(id(sp), {})
                    seen.update(dict.fromkeys(seen, now))
                    self._set("connected", reason.replace("recreated", "reported (Diagnostic)"))
                    continue
                if behavior == "FailFast":  # the whole session goes, as OPC Publisher's FailFast
                    raise ConnectionError(reason.replace("recreated", "session recreated (FailFast)"))
                self._set("connected", reason)
                await discard_subscription(client, sub)
                subs[k], _n = await self._subscribe(client, sp, namespaces, on_status)

    async def _subscribe(
        self,
        client: Client,
        sp: SubscriptionPlan,
        namespaces: list[str],
        on_status: Callable[[ua.StatusCode], None],
    ) -> tuple[BatchSubscription, int]:
        handles: dict[int, tuple[str, str, str]] = {}  # client handle -> writer, group, field
        targets: dict[int, EventTarget] = {}  # client handle -> writer, group, event field names
        on_items = sample_callback(handles, self.pipeline.submit_many)
        if sp.item_watchdog_s > 0:  # OpcNodeWatchdogTimespan: when each item last had a value
            seen = self._seen[id(sp)] = {}
            on_items = stamping(on_items, seen)
        sub = await create_batch_subscription(
            client,
            subscription_parameters(sp.publishing_ms, self.keepalive_s, sp.keepalive_count),
            on_items,
            on_status,
            on_events(targets, self.pipeline.submit_events),
        )
        if sp.key_frame_count:
            self.pipeline.batcher.key_frames[sp.writer_id] = sp.key_frame_count
        if sp.send_keepalive:
            sub.on_keepalive = lambda: self.pipeline.submit_keepalive(sp.writer_id, sp.writer_group)
        requests, plans = [], []
        cyclic = 0
        for handle, node in enumerate(sp.nodes, start=1):
            key = f"{sp.writer_id}/{node.field}"
            try:
                nid = resolve_node_id(node.node_id, namespaces)
            except ValueError as exc:
                self.status.node_errors[key] = f"{node.node_id}: {exc}"
                continue
            if node.cyclic:  # no monitored item: read at its sampling interval (cyclic.py)
                self._cyclic[(sp.writer_id, node.field)] = (sp.writer_id, sp.writer_group, node, nid)
                self.pipeline.filters.register(sp.writer_id, sp.writer_group, node)
                cyclic += 1
                continue
            if node.is_event:
                try:
                    requests.append(event_item_request(nid, handle, node, namespaces))
                except ValueError as exc:
                    self.status.node_errors[key] = f"{node.node_id}: EventFilter: {exc}"
                    continue
                targets[handle] = (
                    sp.writer_id,
                    sp.writer_group,
                    tuple(n for _t, _p, n in node.event_selects),
                )
            else:
                requests.append(item_request(nid, handle, node))
                handles[handle] = (sp.writer_id, sp.writer_group, node.field)
            plans.append((handle, node, nid))
        results = await sub.create_monitored_items(requests) if requests else []
        ok = cyclic
        for (_handle, node, nid), result in zip(plans, results, strict=True):
            key = f"{sp.writer_id}/{node.field}"
            if isinstance(result, ua.StatusCode):
                self.status.node_errors[key] = f"{node.node_id}: {result.name}"
                _log.error(
                    "monitored item refused", endpoint=self.plan.url, node=node.node_id, status=result.name
                )
                continue
            self.status.node_errors.pop(key, None)
            ok += 1
            if node.is_event:
                continue
            span = await self._eu_span(client, nid) if node.deadband_type == "Percent" else None
            self.pipeline.filters.register(sp.writer_id, sp.writer_group, node, span)
        if sp.item_watchdog_s > 0:
            created = time.monotonic()
            for handle in handles:
                self._seen[id(sp)].setdefault(handle, created)
        if sp.metadata_ms > 0:
            done = [
                (n.field, nid)
                for (_h, n, nid), r in zip(plans, results, strict=True)
                if not n.is_event and not isinstance(r, ua.StatusCode)
            ]
            await self._send_metadata(client, sp, done)
        if targets and ok:
            # The alarms active now, after every (re)connect and every recreated subscription.
            await condition_refresh(client, sub.subscription_id)
        return sub, ok

    async def _send_metadata(
        self, client: Client, sp: SubscriptionPlan, fields: list[tuple[str, ua.NodeId]]
    ) -> None:
        """The writer's `ua-metadata` now (types read from the server) and again every MetaDataUpdateTime."""
        try:
            types = await field_types(client, [nid for _f, nid in fields])
        except Exception as exc:  # the metadata then says the types are unknown
            _log.warning("cannot read the field types for metadata", endpoint=self.plan.url, error=str(exc))
            types = [(None, 22, -1)] * len(fields)
        msg = metadata_message(
            self.pipeline.batcher.publisher_id, sp.writer_id, sp.writer_group,
            [(f, *t) for (f, _n), t in zip(fields, types, strict=True)],
            name=sp.dataset_name, description=sp.dataset_description, version=version_time(),
        )  # fmt: skip
        self.pipeline.submit_metadata(msg)
        self._metadata[id(sp)] = (sp, msg, time.monotonic())

    def _metadata_due(self, now: float) -> None:
        """Resend each writer's metadata every MetaDataUpdateTime."""
        for key, (sp, msg, last) in list(self._metadata.items()):
            if now - last >= sp.metadata_ms / 1000.0:
                self.pipeline.submit_metadata({**msg, "MessageId": str(uuid.uuid4())})
                self._metadata[key] = (sp, msg, now)

    async def _eu_span(self, client: Client, nid: ua.NodeId) -> float | None:
        """The EURange width for a Percent deadband (applied here: not every server implements it)."""
        try:
            rng = await (await client.get_node(nid).get_child("0:EURange")).read_value()
            return float(rng.High - rng.Low)
        except Exception:
            _log.warning("no EURange; the Percent deadband is not applied", node=nid.to_string())
            return None
