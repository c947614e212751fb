"""The hub's brain: CONNECT/auth, sessions, routing module outputs to inputs and upstream, twins, methods."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from typing import Any

from edgeloop_dev.hub import topics
from edgeloop_dev.hub.bag import counted_size, encode_delivery_bag, input_topic, split_properties
from edgeloop_dev.hub.delivery import DeliveryQueues
from edgeloop_dev.hub.errors import AuthError, MethodError, ProtocolError, TwinError
from edgeloop_dev.hub.identity import IdentityStore
from edgeloop_dev.hub.metrics import HubMetrics, source_module
from edgeloop_dev.hub.mqtt import codec
from edgeloop_dev.hub.mqtt.server import MqttConnection
from edgeloop_dev.hub.sessions import Session, Sessions
from edgeloop_dev.hub.store import Store, StoredMessage, StoreError
from edgeloop_dev.hub.twins import Twins
from edgeloop_dev.hub.upstream import UpstreamLog
from edgeloop_dev.routes import Delivery, RoutableMessage, Router
from edgeloop_runtime.logs import get_logger

log = get_logger(__name__)

MAX_MESSAGE_SIZE = 256 * 1024  # edgeHub Constants.MaxMessageSize, counted by counted_size()
MAX_INFLIGHT = 1000  # unacknowledged input deliveries per session
MAX_KEEPALIVE_S = 1740
EDGEHUB_MODULE_ID = "$edgeHub"


class Hub:
    """Implements the server's Handler; every method runs on the hub's event loop."""

    def __init__(
        self,
        *,
        identities: IdentityStore,
        store: Store,
        router: Router,
        twins: Twins,
        upstream: UpstreamLog,
        metrics: HubMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.identities = identities
        self.device_id = identities.device_id
        self.store = store
        self.router = router
        self.twins = twins
        self.upstream = upstream
        self.metrics = metrics
        self.clock = clock
        self.sessions = Sessions(store)
        self.queues = DeliveryQueues()
        self._next_id = store.max_id()
        self._inserts: list[StoredMessage] = []
        self._deletes: list[int] = []
        self._acks: list[tuple[MqttConnection, int]] = []
        self._flush_handle: asyncio.Handle | None = None
        self._method_waits: dict[tuple[str, str], asyncio.Future[tuple[int, Any]]] = {}
        self._rid = 0
        for msg in store.load_messages():
            self.queues.get(msg.endpoint).push(msg)

    # ---- connection lifecycle -------------------------------------------------------------------

    def on_packet(self, conn: MqttConnection, packet: codec.Packet) -> None:
        """Dispatch one packet from a client."""
        if conn.client_id is None:
            if not isinstance(packet, codec.Connect):
                raise ProtocolError(f"first packet must be CONNECT, got {type(packet).__name__}")
            self._on_connect(conn, packet)
            return
        session = self.sessions.get(conn.client_id)
        if session is None or session.conn is not conn:
            conn.close("session taken over")
            return
        match packet:
            case codec.Publish():
                self._on_publish(session, conn, packet)
            case codec.Puback():
                msg = session.inflight.pop(packet.packet_id, None)
                if msg is not None:
                    self._deletes.append(msg.id)
                    self._schedule_flush()
                    if len(session.inflight) < MAX_INFLIGHT // 2:
                        self._pump(session)
            case codec.Subscribe():
                for topic_filter, _qos in packet.topics:
                    session.filters.add(topic_filter)
                self.sessions.save(session)
                conn.send(codec.Suback(packet.packet_id, tuple(min(q, 1) for _, q in packet.topics)))
                self._pump(session)
            case codec.Unsubscribe():
                for topic_filter in packet.topics:
                    session.filters.discard(topic_filter)
                self.sessions.save(session)
                conn.send(codec.Unsuback(packet.packet_id))
            case codec.Pingreq():
                conn.send(codec.Pingresp())
            case codec.Disconnect():
                conn.close("client sent DISCONNECT")
            case _:
                raise ProtocolError(f"unexpected {type(packet).__name__} from a client")

    def _on_connect(self, conn: MqttConnection, pkt: codec.Connect) -> None:
        try:
            device, module = self._authenticate(pkt)
        except AuthError as exc:
            self.metrics.client_refused(pkt.client_id, exc.code)
            log.warning(
                "connect refused", client=pkt.client_id, peer=conn.peer, code=exc.code, reason=str(exc)
            )
            conn.send(codec.Connack(exc.code))
            conn.close(f"CONNECT refused: {exc}")
            return
        conn.client_id = pkt.client_id
        conn.keepalive = min(pkt.keepalive, MAX_KEEPALIVE_S)
        session, present = self.sessions.open(pkt.client_id, device, module, pkt.clean_session)
        old = session.conn
        if old is not None and old is not conn:
            log.info("connection taken over", client=pkt.client_id, old_peer=old.peer, new_peer=conn.peer)
            old.abort("taken over by a new connection with the same client id")
        session.conn = conn
        conn.send(codec.Connack(codec.CONNACK_ACCEPTED, present))
        self.metrics.connected_clients.set(len(self.sessions.connected()))
        self.metrics.client_connected(pkt.client_id)
        log.info("client connected", client=pkt.client_id, peer=conn.peer, keepalive=pkt.keepalive)
        self._pump(session)

    def _authenticate(self, pkt: codec.Connect) -> tuple[str, str]:
        if pkt.protocol_name != "MQTT" or pkt.protocol_level != 4:
            raise AuthError(f"unsupported protocol {pkt.protocol_name!r} level {pkt.protocol_level}", 1)
        device, sep, module = pkt.client_id.partition("/")
        if not sep or not module or "/" in module:
            raise AuthError("client id must be {deviceId}/{moduleId}", 2)
        if device != self.device_id:
            raise AuthError(f"unknown device {device!r}", 2)
        expected = f"{self.identities.iothub_hostname}/{device}/{module}/".lower()
        if pkt.username is None or not pkt.username.lower().startswith(expected):
            raise AuthError("username must be {HostName}/{deviceId}/{moduleId}/?api-version=...", 4)
        self.identities.verify_sas(module, pkt.password, self.clock())
        return device, module

    def on_close(self, conn: MqttConnection, reason: str) -> None:
        """A connection ended: put its unacknowledged deliveries back in their queues."""
        if conn.client_id is None:
            return
        session = self.sessions.get(conn.client_id)
        if session is None or session.conn is not conn:
            return
        session.conn = None
        self._requeue_inflight(session)
        self.metrics.connected_clients.set(len(self.sessions.connected()))
        self.metrics.client_disconnected(conn.client_id)
        log.info("client disconnected", client=conn.client_id, reason=reason)

    def _requeue_inflight(self, session: Session) -> None:
        if not session.inflight:
            return
        self.metrics.count_unack("disconnect", session.module, len(session.inflight))
        by_endpoint: dict[str, list[StoredMessage]] = {}
        for msg in session.inflight.values():
            by_endpoint.setdefault(msg.endpoint, []).append(msg)
        session.inflight.clear()
        for endpoint, msgs in by_endpoint.items():
            self.queues.get(endpoint).push_front(msgs)

    def on_protocol_error(self, conn: MqttConnection, error: Exception) -> None:
        """Bad bytes or a bad packet: log and count; the server closes the connection."""
        self.metrics.protocol_errors.labels(type(error).__name__).inc()
        log.warning("protocol error, disconnecting", client=conn.client_id or conn.peer, error=str(error))

    def on_writable(self, conn: MqttConnection) -> None:
        """Resume deliveries paused by back-pressure."""
        if conn.client_id is not None:
            session = self.sessions.get(conn.client_id)
            if session is not None and session.conn is conn:
                self._pump(session)

    # ---- incoming publishes ---------------------------------------------------------------------

    def _on_publish(self, session: Session, conn: MqttConnection, pkt: codec.Publish) -> None:
        kind = topics.classify(pkt.topic)
        is_telemetry = isinstance(kind, topics.Telemetry)
        if (
            pkt.qos == 1
            and pkt.packet_id is not None
            and not is_telemetry
            and not isinstance(kind, topics.Unknown)
        ):
            conn.send_bytes(codec.encode(codec.Puback(pkt.packet_id)))
        match kind:
            case topics.Telemetry():
                if kind.device != session.device or kind.module != session.module:
                    raise ProtocolError(f"{session.client_id} may not publish as {kind.device}/{kind.module}")
                self._on_telemetry(session, pkt, kind.bag)
            case topics.TwinGet():
                started = time.perf_counter()
                body = json.dumps(self.twins.get(session.module)).encode()
                conn.send_bytes(codec.encode_publish(topics.twin_response_topic(200, kind.rid), body))
                self.metrics.twin_get(session.client_id, time.perf_counter() - started)
            case topics.TwinPatchReported():
                self._on_reported(session, conn, kind.rid, pkt.payload)
            case topics.MethodResponse():
                self._on_method_response(session, kind, pkt.payload)
            case topics.Unknown():
                raise ProtocolError(f"{kind.reason}: {pkt.topic[:200]!r}")
        if pkt.qos == 1 and pkt.packet_id is not None and is_telemetry:
            self._acks.append((conn, pkt.packet_id))  # sent after the store commit
            self._schedule_flush()

    def _on_telemetry(self, session: Session, pkt: codec.Publish, bag: str) -> None:
        system, app = split_properties(bag)
        system["connectionDeviceId"] = session.device
        system["connectionModuleId"] = session.module
        output = system.get("outputName", "")
        size = counted_size(pkt.payload, system, app)
        if size > MAX_MESSAGE_SIZE:
            self.metrics.count_dropped("message_size", session.module, output)
            log.warning(
                "message refused: larger than 256 KB as edgeHub counts it",
                client=session.client_id,
                output=output,
                size=size,
                limit=MAX_MESSAGE_SIZE,
            )
            return
        self.metrics.count_received(session.client_id, output, size)
        self.route(RoutableMessage(body=pkt.payload, system_properties=system, properties=app))

    def route(self, msg: RoutableMessage) -> None:
        """Route one message and hand it to every endpoint that matched (stored before any PUBACK)."""
        system = msg.system_properties
        src = system.get("connectionModuleId", "")
        output = system.get("outputName", "")
        deliveries: list[Delivery] = self.router.route(msg)
        if not deliveries:
            self.metrics.count_dropped("no_route", src, output)
            return
        now = self.clock()
        bag: str | None = None
        touched: set[str] = set()
        for d in deliveries:
            ep = d.endpoint
            if ep.kind == "upstream":
                self.upstream.append(msg.body, system, msg.properties, now)
                self.metrics.count_sent(src, "upstream", output, "", d.priority)
                continue
            if bag is None:
                bag = encode_delivery_bag(system, msg.properties)
            self._next_id += 1
            expires = math.inf if d.ttl_secs is None else now + d.ttl_secs
            endpoint = f"{ep.module}/{ep.input}"
            stored = StoredMessage(self._next_id, endpoint, d.priority, now, expires, bag, msg.body)
            self._inserts.append(stored)
            self.queues.get(endpoint).push(stored)
            touched.add(str(ep.module))
        # fast path first: a connected target's write is scheduled before the store commit runs
        # (the sender's PUBACK still waits for the commit)
        for module in touched:
            target = self.sessions.for_module(self.device_id, module)
            if target is not None:
                self._pump(target)
        self._schedule_flush()

    def _on_reported(self, session: Session, conn: MqttConnection, rid: str, payload: bytes) -> None:
        try:
            patch = json.loads(payload)
            started = time.perf_counter()
            version = self.twins.patch_reported(session.module, patch)
            self.metrics.reported_update(session.client_id, time.perf_counter() - started)
        except (ValueError, TwinError) as exc:
            self.metrics.twin_errors.labels("reported_patch").inc()
            log.warning("reported patch refused", client=session.client_id, error=str(exc))
            conn.send_bytes(codec.encode_publish(topics.twin_response_topic(400, rid), b""))
            return
        conn.send_bytes(codec.encode_publish(topics.twin_response_topic(204, rid, version), b""))
        body = json.dumps({**patch, "$version": version}).encode()
        system = {
            "connectionDeviceId": session.device,
            "connectionModuleId": session.module,
            "messageType": "twinChangeNotification",
            "messageSchema": "twinChangeNotification",
            "contentType": "application/json",
            "contentEncoding": "utf-8",
            "version": str(version),
        }
        self.route(RoutableMessage(body=body, system_properties=system, properties={}))

    # ---- store and delivery ---------------------------------------------------------------------

    def _pump(self, session: Session) -> None:
        conn = session.conn
        if conn is None or conn.closed or not session.inputs_subscribed:
            return
        now = self.clock()
        for q in self.queues.for_module(session.module):
            while len(session.inflight) < MAX_INFLIGHT and conn.writable:
                msg = q.pop(now, self._expired)
                if msg is None:
                    break
                pid = session.alloc_pid()
                session.inflight[pid] = msg
                topic = input_topic(session.device, session.module, q.input, msg.bag)
                conn.send_bytes(codec.encode_publish(topic, msg.body, 1, pid))
                src = source_module(msg.bag)
                self.metrics.count_sent(src, session.module, "", q.input, msg.priority)
                self.metrics.observe_process(src, session.module, msg.priority, now - msg.enqueued)

    def _expired(self, msg: StoredMessage) -> None:
        self._deletes.append(msg.id)
        self.metrics.count_dropped("ttl_expiry", source_module(msg.bag), "")
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Commit stored messages and deletions, write upstream events, then send the deferred PUBACKs."""
        self._flush_handle = None
        try:
            if self._inserts or self._deletes:
                self.store.write(self._inserts, self._deletes, self._next_id)
            self.upstream.flush()
        except (StoreError, OSError) as exc:
            self.metrics.store_errors.inc()
            log.error("store write failed; PUBACKs held back, retrying", error=str(exc))
            asyncio.get_running_loop().call_later(1.0, self._schedule_flush)
            return
        self._inserts.clear()
        self._deletes.clear()
        acks, self._acks = self._acks, []
        for conn, pid in acks:
            conn.send_bytes(codec.encode(codec.Puback(pid)))

    def expire_and_measure(self) -> None:
        """Periodic: drop expired stored messages and refresh edgehub_queue_length."""
        now = self.clock()
        for q in self.queues.all():
            q.expire(now, self._expired)
            for priority, n in q.lengths().items():
                self.metrics.set_queue_length(q.endpoint, priority, n)

    def queue_lengths(self) -> dict[str, int]:
        """Messages waiting (not in flight) per endpoint."""
        return {q.endpoint: len(q) for q in self.queues.all()}

    # ---- methods and desired pushes --------------------------------------------------------------

    async def invoke_method(self, module: str, method: str, payload: Any, timeout: float) -> tuple[int, Any]:
        """Call a direct method on a connected module and wait for its answer."""
        session = self.sessions.for_module(self.device_id, module)
        if session is None or session.conn is None:
            self.metrics.method_calls.labels("404").inc()
            raise MethodError(f"module {module!r} is not connected", 404)
        if not session.methods_subscribed:
            self.metrics.method_calls.labels("501").inc()
            raise MethodError(f"module {module!r} has not subscribed to direct methods", 501)
        self._rid += 1
        rid = format(self._rid, "x")
        fut: asyncio.Future[tuple[int, Any]] = asyncio.get_running_loop().create_future()
        key = (session.client_id, rid)
        self._method_waits[key] = fut
        started = time.perf_counter()
        body = json.dumps(payload).encode()
        session.conn.send_bytes(codec.encode_publish(topics.method_request_topic(method, rid), body))
        try:
            result = await asyncio.wait_for(fut, timeout)
        except TimeoutError as exc:
            self.metrics.method_calls.labels("504").inc()
            raise MethodError(f"module {module!r} did not answer {method!r} within {timeout} s", 504) from exc
        finally:
            self._method_waits.pop(key, None)
        self.metrics.method_call(session.client_id, result[0], time.perf_counter() - started)
        return result

    def _on_method_response(self, session: Session, resp: topics.MethodResponse, payload: bytes) -> None:
        fut = self._method_waits.get((session.client_id, resp.rid))
        if fut is None or fut.done():
            log.warning("method response for an unknown request", client=session.client_id, rid=resp.rid)
            return
        try:
            value: Any = json.loads(payload) if payload.strip() else None
        except ValueError:
            value = payload.decode("utf-8", "replace")
        fut.set_result((resp.status, value))

    def push_desired(self, module: str, patch: object) -> dict[str, Any]:
        """Merge a desired patch and push it (with `$version`) to the module if it listens."""
        payload = self.twins.patch_desired(module, patch)
        session = self.sessions.for_module(self.device_id, module)
        if session is not None and session.conn is not None and session.desired_subscribed:
            body = json.dumps(payload).encode()
            session.conn.send_bytes(
                codec.encode_publish(topics.desired_patch_topic(payload["$version"]), body)
            )
        return self.twins.get(module)

    def status(self) -> dict[str, Any]:
        """What is connected and what is stored."""
        return {
            "deviceId": self.device_id,
            "connected": sorted(s.module for s in self.sessions.connected()),
            "queues": self.queue_lengths(),
            "inflight": {s.module: len(s.inflight) for s in self.sessions.connected() if s.inflight},
        }
