"""A blocking TLS MQTT client on the hub's codec, for tests that need bytes the SDK would never send."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

from edgeloop_dev.hub.certs import client_ssl_context
from edgeloop_dev.hub.identity import IdentityStore, make_sas_token
from edgeloop_dev.hub.mqtt import codec

USERNAME_QUERY = "?api-version=2019-10-01&DeviceClientType=edgeloop-raw"


class RawClient:
    """One TLS connection speaking raw MQTT packets; `recv()` returns decoded packets."""

    def __init__(self, state_dir: Path, host: str, port: int = 8883, timeout: float = 5.0) -> None:
        self.state_dir = Path(state_dir)
        ctx = client_ssl_context(self.state_dir)
        raw = socket.create_connection((host, port), timeout=timeout)
        self.sock: ssl.SSLSocket = ctx.wrap_socket(raw, server_hostname=host)
        self.decoder = codec.Decoder()
        self._pending: list[codec.Packet] = []

    def send(self, packet: codec.Packet) -> None:
        """Encode and send a packet."""
        self.sock.sendall(codec.encode(packet))

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are."""
        self.sock.sendall(data)

    def recv(self, timeout: float = 5.0) -> codec.Packet | None:
        """The next packet, or None when the server closed the connection; TimeoutError if none came."""
        deadline = time.monotonic() + timeout
        while not self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no packet from the hub")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError as exc:
                raise TimeoutError("no packet from the hub") from exc
            except (ConnectionError, ssl.SSLError):
                return None
            if not data:
                return None
            self._pending.extend(self.decoder.feed(data))
        return self._pending.pop(0)

    def closed_by_server(self, timeout: float = 5.0) -> bool:
        """True when the server closes the connection (packets before that are skipped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.recv(max(0.01, deadline - time.monotonic())) is None:
                    return True
            except TimeoutError:
                return False
        return False

    def connect_module(self, module: str, *, key_override: str | None = None, keepalive: int = 60) -> int:
        """CONNECT as a module (valid SAS, or a forged `sig` in `key_override`); returns the CONNACK code."""
        store = IdentityStore(self.state_dir)
        if key_override is not None:
            token = "SharedAccessSignature sr=x&sig=" + key_override + "&se=9999999999"
        else:
            token = make_sas_token(store, module)
        username = f"{store.iothub_hostname}/{store.device_id}/{module}/{USERNAME_QUERY}"
        self.send(codec.Connect(f"{store.device_id}/{module}", username, token.encode(), keepalive))
        ack = self.recv()
        if not isinstance(ack, codec.Connack):
            raise AssertionError(f"expected CONNACK, got {ack!r}")
        return ack.return_code

    def close(self) -> None:
        """Close the socket."""
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
