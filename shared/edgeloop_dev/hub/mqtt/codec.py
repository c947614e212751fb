"""Sans-io MQTT 3.1.1 packet encoder and incremental decoder (the subset azure-iot-device uses)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from edgeloop_dev.hub.errors import ProtocolError

# Control packet types (MQTT 3.1.1 §2.2.1).
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14

# CONNACK return codes (§3.2.2.3).
CONNACK_ACCEPTED = 0
CONNACK_BAD_PROTOCOL = 1
CONNACK_ID_REJECTED = 2
CONNACK_UNAVAILABLE = 3
CONNACK_BAD_CREDENTIALS = 4
CONNACK_NOT_AUTHORIZED = 5

DEFAULT_MAX_PACKET = 1024 * 1024  # largest remaining length accepted; the 256 KB rule is checked later


class CodecError(ProtocolError):
    """The bytes are not a well-formed MQTT 3.1.1 packet."""


@dataclass(frozen=True, slots=True)
class Connect:
    """CONNECT: who the client is and how it wants its session kept."""

    client_id: str
    username: str | None = None
    password: bytes | None = None
    keepalive: int = 60
    clean_session: bool = False
    protocol_name: str = "MQTT"
    protocol_level: int = 4
    will_topic: str | None = None
    will_payload: bytes | None = None


@dataclass(frozen=True, slots=True)
class Connack:
    """CONNACK: the server's answer to CONNECT (remaining length exactly 2)."""

    return_code: int
    session_present: bool = False


@dataclass(frozen=True, slots=True)
class Publish:
    """PUBLISH in either direction; `packet_id` is set for QoS 1."""

    topic: str
    payload: bytes
    qos: int = 0
    packet_id: int | None = None
    dup: bool = False
    retain: bool = False


@dataclass(frozen=True, slots=True)
class Puback:
    """PUBACK for a QoS 1 PUBLISH."""

    packet_id: int


@dataclass(frozen=True, slots=True)
class Subscribe:
    """SUBSCRIBE: topic filters with their requested QoS."""

    packet_id: int
    topics: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Suback:
    """SUBACK: one granted QoS (or 0x80 failure) per requested filter."""

    packet_id: int
    return_codes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """UNSUBSCRIBE: topic filters to drop."""

    packet_id: int
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unsuback:
    """UNSUBACK."""

    packet_id: int


@dataclass(frozen=True, slots=True)
class Pingreq:
    """PINGREQ (keep-alive)."""


@dataclass(frozen=True, slots=True)
class Pingresp:
    """PINGRESP."""


@dataclass(frozen=True, slots=True)
class Disconnect:
    """DISCONNECT: the client closes cleanly."""


Packet = (
    Connect
    | Connack
    | Publish
    | Puback
    | Subscribe
    | Suback
    | Unsubscribe
    | Unsuback
    | Pingreq
    | Pingresp
    | Disconnect
)

_U16 = struct.Struct("!H")


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _string(s: str) -> bytes:
    raw = s.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise CodecError("string longer than 65535 bytes")
    return _U16.pack(len(raw)) + raw


def _binary(b: bytes) -> bytes:
    if len(b) > 0xFFFF:
        raise CodecError("binary field longer than 65535 bytes")
    return _U16.pack(len(b)) + b


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _remaining_length(len(body)) + body


def encode_publish(
    topic: str, payload: bytes, qos: int = 0, packet_id: int | None = None, dup: bool = False
) -> bytes:
    """Encode a PUBLISH quickly (the hot path: no dataclass needed)."""
    raw_topic = topic.encode("utf-8")
    if qos:
        if packet_id is None:
            raise CodecError("QoS 1 PUBLISH needs a packet id")
        head = _U16.pack(len(raw_topic)) + raw_topic + _U16.pack(packet_id)
    else:
        head = _U16.pack(len(raw_topic)) + raw_topic
    first = 0x30 | (qos << 1) | (0x08 if dup else 0)
    return bytes((first,)) + _remaining_length(len(head) + len(payload)) + head + payload


def encode(packet: Packet) -> bytes:
    """Encode one packet to bytes; raises CodecError for values MQTT cannot carry."""
    match packet:
        case Publish():
            return encode_publish(packet.topic, packet.payload, packet.qos, packet.packet_id, packet.dup)
        case Puback():
            return bytes((0x40, 2)) + _U16.pack(packet.packet_id)
        case Connack():
            return bytes((0x20, 2, 1 if packet.session_present else 0, packet.return_code))
        case Suback():
            return _packet(0x90, _U16.pack(packet.packet_id) + bytes(packet.return_codes))
        case Unsuback():
            return bytes((0xB0, 2)) + _U16.pack(packet.packet_id)
        case Pingreq():
            return bytes((0xC0, 0))
        case Pingresp():
            return bytes((0xD0, 0))
        case Disconnect():
            return bytes((0xE0, 0))
        case Subscribe():
            body = _U16.pack(packet.packet_id) + b"".join(_string(t) + bytes((q,)) for t, q in packet.topics)
            return _packet(0x82, body)
        case Unsubscribe():
            body = _U16.pack(packet.packet_id) + b"".join(_string(t) for t in packet.topics)
            return _packet(0xA2, body)
        case Connect():
            flags = 0 if not packet.clean_session else 0x02
            payload = _string(packet.client_id)
            if packet.will_topic is not None:
                flags |= 0x04
                payload += _string(packet.will_topic) + _binary(packet.will_payload or b"")
            if packet.username is not None:
                flags |= 0x80
                payload += _string(packet.username)
            if packet.password is not None:
                flags |= 0x40
                payload += _binary(packet.password)
            header = _string(packet.protocol_name) + bytes((packet.protocol_level, flags))
            return _packet(0x10, header + _U16.pack(packet.keepalive) + payload)
    raise CodecError(f"cannot encode {packet!r}")


class _Reader:
    """Bounds-checked cursor over one packet's variable header and payload."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise CodecError("packet truncated")
        v = self.data[self.pos]
        self.pos += 1
        return v

    def u16(self) -> int:
        if self.pos + 2 > len(self.data):
            raise CodecError("packet truncated")
        (v,) = _U16.unpack_from(self.data, self.pos)
        self.pos += 2
        return int(v)

    def binary(self) -> bytes:
        n = self.u16()
        if self.pos + n > len(self.data):
            raise CodecError("field longer than its packet")
        v = self.data[self.pos : self.pos + n]
        self.pos += n
        return v

    def string(self) -> str:
        raw = self.binary()
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CodecError("string is not valid UTF-8") from exc
        if "\x00" in s:
            raise CodecError("string contains U+0000")
        return s

    def rest(self) -> bytes:
        v = self.data[self.pos :]
        self.pos = len(self.data)
        return v

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def expect_end(self, what: str) -> None:
        if not self.at_end():
            raise CodecError(f"{what} has trailing bytes")


def _decode_connect(r: _Reader) -> Connect:
    name = r.string()
    level = r.u8()
    flags = r.u8()
    if flags & 0x01:
        raise CodecError("CONNECT reserved flag set")
    keepalive = r.u16()
    client_id = r.string()
    will_topic: str | None = None
    will_payload: bytes | None = None
    if flags & 0x04:
        will_topic = r.string()
        will_payload = r.binary()
    elif flags & 0x38:
        raise CodecError("CONNECT will QoS/retain set without will flag")
    username = r.string() if flags & 0x80 else None
    password = r.binary() if flags & 0x40 else None
    r.expect_end("CONNECT")
    return Connect(
        client_id, username, password, keepalive, bool(flags & 0x02), name, level, will_topic, will_payload
    )


def _decode_body(ptype: int, flags: int, body: bytes) -> Packet:
    r = _Reader(body)
    if ptype == PUBLISH:
        qos = (flags >> 1) & 0x03
        if qos == 3:
            raise CodecError("PUBLISH with QoS 3")
        if qos == 2:
            raise CodecError("QoS 2 is not supported")
        topic = r.string()
        if not topic or "+" in topic or "#" in topic:
            raise CodecError("PUBLISH topic is empty or has wildcards")
        pid = r.u16() if qos else None
        if pid == 0:
            raise CodecError("packet id 0")
        return Publish(topic, r.rest(), qos, pid, bool(flags & 0x08), bool(flags & 0x01))
    if ptype in (PUBACK, UNSUBACK):
        pid = r.u16()
        r.expect_end("ack")
        return Puback(pid) if ptype == PUBACK else Unsuback(pid)
    if ptype in (SUBSCRIBE, UNSUBSCRIBE):
        if flags != 0x02:
            raise CodecError("SUBSCRIBE/UNSUBSCRIBE fixed-header flags must be 0010")
        pid = r.u16()
        if pid == 0:
            raise CodecError("packet id 0")
        if ptype == SUBSCRIBE:
            topics: list[tuple[str, int]] = []
            while not r.at_end():
                t = r.string()
                q = r.u8()
                if q > 2:
                    raise CodecError("SUBSCRIBE requested QoS > 2")
                topics.append((t, q))
            if not topics:
                raise CodecError("SUBSCRIBE without topics")
            return Subscribe(pid, tuple(topics))
        names: list[str] = []
        while not r.at_end():
            names.append(r.string())
        if not names:
            raise CodecError("UNSUBSCRIBE without topics")
        return Unsubscribe(pid, tuple(names))
    if ptype == CONNECT:
        return _decode_connect(r)
    if ptype == CONNACK:
        ack_flags, rc = r.u8(), r.u8()
        r.expect_end("CONNACK")
        return Connack(rc, bool(ack_flags & 0x01))
    if ptype == SUBACK:
        pid = r.u16()
        return Suback(pid, tuple(r.rest()))
    if ptype in (PINGREQ, PINGRESP, DISCONNECT):
        r.expect_end("empty packet")
        return Pingreq() if ptype == PINGREQ else Pingresp() if ptype == PINGRESP else Disconnect()
    raise CodecError(f"unsupported packet type {ptype}")


class Decoder:
    """Incremental decoder: feed bytes as they arrive, get whole packets back."""

    __slots__ = ("_buf", "_expect_connect", "max_packet")

    def __init__(self, max_packet: int = DEFAULT_MAX_PACKET, *, server: bool = False) -> None:
        self._buf = bytearray()
        self.max_packet = max_packet
        self._expect_connect = server  # a server's first packet must be CONNECT

    def feed(self, data: bytes) -> list[Packet]:
        """Return every packet completed by `data`; raises CodecError on malformed input."""
        self._buf += data
        out: list[Packet] = []
        buf = self._buf
        pos = 0
        n = len(buf)
        while n - pos >= 1:
            first = buf[pos]
            ptype, flags = first >> 4, first & 0x0F
            if ptype == 0 or ptype == 15:
                raise CodecError(f"reserved packet type {ptype}")
            if ptype != PUBLISH and ptype not in (SUBSCRIBE, UNSUBSCRIBE, PUBREL) and flags:
                raise CodecError(f"packet type {ptype} with non-zero flags")
            if self._expect_connect and ptype != CONNECT:
                raise CodecError(f"first packet must be CONNECT, got type {ptype}")
            length = 0
            shift = 0
            i = pos + 1
            while True:
                if i >= n:
                    if i - pos - 1 >= 4:
                        raise CodecError("remaining length longer than 4 bytes")
                    self._compact(pos)
                    return out
                byte = buf[i]
                length |= (byte & 0x7F) << shift
                i += 1
                if not byte & 0x80:
                    break
                shift += 7
                if shift >= 28:
                    raise CodecError("remaining length longer than 4 bytes")
            if length > self.max_packet:
                raise CodecError(f"packet of {length} bytes exceeds the {self.max_packet}-byte limit")
            if n - i < length:
                break
            self._expect_connect = False
            out.append(_decode_body(ptype, flags, bytes(buf[i : i + length])))
            pos = i + length
        self._compact(pos)
        return out

    def _compact(self, pos: int) -> None:
        if pos:
            del self._buf[:pos]
