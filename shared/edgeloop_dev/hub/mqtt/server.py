"""Asyncio TLS server for MQTT 3.1.1: framing, keep-alive and write coalescing; the hub decides the rest.

Why hand-written: no Python broker answers `$iothub/...` topics per connection. amqtt refuses any client
PUBLISH to a topic starting with `$` (the SDK publishes `$iothub/twin/...` and `$iothub/methods/res/...`)
and would broadcast twin responses and method requests to every module, since all of them subscribe to
the same `$iothub/...` filters; hbmqtt/distmqtt are abandoned and mqttools/mqtt5 speak only MQTT 5
(see ../shared/reference/edgehub-mqtt-dialect.md §5). The IoT-Hub-specific logic (per-connection
request/response, persistent sessions keyed by `{device}/{module}`, routing) is most of the work anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from typing import Protocol

from edgeloop_dev.hub.mqtt import codec
from edgeloop_runtime.logs import get_logger

log = get_logger(__name__)

CONNECT_TIMEOUT_S = 10.0


class Handler(Protocol):
    """What the server asks of the hub for each connection."""

    def on_packet(self, conn: MqttConnection, packet: codec.Packet) -> None:
        """Handle one decoded packet (CONNECT included)."""

    def on_close(self, conn: MqttConnection, reason: str) -> None:
        """The connection is gone (cleanly or not)."""

    def on_protocol_error(self, conn: MqttConnection, error: Exception) -> None:
        """The client sent something undecodable; the connection is closed right after."""

    def on_writable(self, conn: MqttConnection) -> None:
        """The transport's write buffer drained below its low-water mark."""


class MqttConnection(asyncio.Protocol):
    """One client connection: decodes what arrives, coalesces what leaves into one write per tick."""

    def __init__(self, handler: Handler, max_packet: int) -> None:
        self.handler = handler
        self.decoder = codec.Decoder(max_packet, server=True)
        self.transport: asyncio.Transport | None = None
        self.client_id: str | None = None  # set by the hub once CONNECT is accepted
        self.keepalive = 0
        self.last_rx = time.monotonic()
        self.opened = time.monotonic()
        self.peer = "?"
        self.writable = True
        self.closed = False
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=4 * 1024 * 1024, low=1024 * 1024)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    def data_received(self, data: bytes) -> None:
        self.last_rx = time.monotonic()
        try:
            packets = self.decoder.feed(data)
        except codec.CodecError as exc:
            self._protocol_error(exc)
            return
        for packet in packets:
            if self.closed:
                return
            try:
                self.handler.on_packet(self, packet)
            except Exception as exc:  # a bug or bad input must only cost this client its connection
                log.exception("packet handling failed", client=self.client_id or self.peer)
                self._protocol_error(exc)
                return

    def _protocol_error(self, exc: Exception) -> None:
        if self.closed:
            return
        self.handler.on_protocol_error(self, exc)
        self.close(f"protocol error: {exc}")

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            self.handler.on_close(self, f"connection lost: {exc}" if exc else "connection closed by peer")

    def pause_writing(self) -> None:
        self.writable = False

    def resume_writing(self) -> None:
        self.writable = True
        if not self.closed:
            self.handler.on_writable(self)

    def send_bytes(self, data: bytes) -> None:
        """Queue bytes for the end-of-tick write."""
        if self.closed:
            return
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush)

    def send(self, packet: codec.Packet) -> None:
        """Encode and queue a packet."""
        self.send_bytes(codec.encode(packet))

    def flush(self) -> None:
        """Write everything queued in one TLS record batch."""
        self._flush_scheduled = False
        if self._out and self.transport is not None and not self.closed:
            data = b"".join(self._out)
            self._out.clear()
            self.transport.write(data)

    def close(self, reason: str) -> None:
        """Flush, close the transport and tell the hub (once)."""
        if self.closed:
            return
        self.flush()
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        self.handler.on_close(self, reason)

    def abort(self, reason: str) -> None:
        """Drop the connection without flushing (takeover of a stale connection)."""
        if self.closed:
            return
        self.closed = True
        self._out.clear()
        if self.transport is not None:
            self.transport.abort()
        self.handler.on_close(self, reason)


class MqttServer:
    """TLS listener plus a watchdog that enforces CONNECT arrival and keep-alive (1.5x) timeouts."""

    def __init__(
        self, handler: Handler, host: str, port: int, ssl_ctx: ssl.SSLContext | None, max_packet: int
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.ssl_ctx = ssl_ctx
        self.max_packet = max_packet
        self.connections: set[MqttConnection] = set()
        self._server: asyncio.Server | None = None
        self._watchdog: asyncio.Task[None] | None = None

    def _factory(self) -> MqttConnection:
        conn = MqttConnection(self.handler, self.max_packet)
        self.connections.add(conn)
        return conn

    async def start(self) -> None:
        """Bind and start serving."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._factory, self.host, self.port, ssl=self.ssl_ctx, reuse_address=True, backlog=512
        )
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])
        self._watchdog = asyncio.create_task(self._watch(), name="mqtt-watchdog")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            for conn in list(self.connections):
                if conn.closed:
                    self.connections.discard(conn)
                elif conn.client_id is None and now - conn.opened > CONNECT_TIMEOUT_S:
                    conn.close("no CONNECT within the connect timeout")
                elif conn.keepalive and now - conn.last_rx > conn.keepalive * 1.5:
                    conn.close(f"keep-alive timeout ({conn.keepalive} s x 1.5)")

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.close("hub shutting down")
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
