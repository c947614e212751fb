"""Property bags in MQTT topics: decode what the SDK publishes, encode what edgeHub delivers."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote, unquote

# What the SDK writes into an outgoing telemetry bag -> edgeHub's system property name (dialect §2.3, §4.2).
INCOMING_SYSTEM: dict[str, str] = {
    "$.on": "outputName",
    "$.mid": "messageId",
    "$.cid": "cid",
    "$.uid": "userId",
    "$.ct": "contentType",
    "$.ce": "contentEncoding",
    "$.ifid": "iothub-interface-id",
    "$.exp": "absolute-expiry-time",
    "$.to": "to",
    "$.schema": "messageSchema",
    "$.ctime": "creationTime",
    "$.sub": "dt-subject",
}

# edgeHub's OutgoingSystemPropertiesMap, in its order (dialect §2.4). `outputName` is not forwarded.
OUTGOING_SYSTEM: tuple[tuple[str, str], ...] = (
    ("absolute-expiry-time", "$.exp"),
    ("cid", "$.cid"),
    ("messageId", "$.mid"),
    ("to", "$.to"),
    ("userId", "$.uid"),
    ("ack", "ack"),
    ("contentType", "$.ct"),
    ("contentEncoding", "$.ce"),
    ("messageSchema", "$.schema"),
    ("iothub-operation", "iothub-operation"),
    ("creationTime", "$.ctime"),
    ("connectionDeviceId", "$.cdid"),
    ("connectionModuleId", "$.cmid"),
    ("dt-subject", "$.sub"),
)


# Caches hold property NAMES only (a few per application): values such as message and correlation ids are
# new in every message, and an 8192-entry cache of them grew the hub by ~3 MiB before it filled.
NAME_CACHE_SIZE = 256
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def escape(s: str) -> str:
    """Percent-encode like .NET's Uri.EscapeDataString (unreserved: A-Z a-z 0-9 - _ . ~)."""
    return s if _UNRESERVED.fullmatch(s) else quote(s, safe="")


def _unquote(s: str) -> str:
    return unquote(s) if "%" in s else s


@lru_cache(maxsize=NAME_CACHE_SIZE)
def escape_name(s: str) -> str:
    """`escape` for property names and input names, which repeat: cached, bounded."""
    return escape(s)


@lru_cache(maxsize=NAME_CACHE_SIZE)
def _unquote_name(s: str) -> str:
    return _unquote(s)


def decode_bag(bag: str) -> list[tuple[str, str | None]]:
    """Split a bag on `&` and the first `=`, percent-decoding each side (`+` stays `+`)."""
    if not bag:
        return []
    out: list[tuple[str, str | None]] = []
    for part in bag.split("&"):
        if not part:
            continue
        key, sep, value = part.partition("=")
        out.append((_unquote_name(key), _unquote(value) if sep else None))
    return out


def split_properties(bag: str) -> tuple[dict[str, str], dict[str, str]]:
    """Return (system properties by edgeHub name, application properties) from an SDK telemetry bag."""
    system: dict[str, str] = {}
    app: dict[str, str] = {}
    for key, value in decode_bag(bag):
        name = INCOMING_SYSTEM.get(key)
        if name is not None:
            system[name] = value or ""
        else:
            app[key] = value if value is not None else ""
    return system, app


def encode_delivery_bag(system: dict[str, str], app: dict[str, str]) -> str:
    """Encode a delivery bag as edgeHub does: user properties first, then the copied system properties."""
    parts = [f"{escape_name(k)}={escape(v)}" for k, v in app.items()]
    for name, key in OUTGOING_SYSTEM:
        value = system.get(name)
        if value is not None:
            parts.append(f"{escape_name(key)}={escape(value)}")
    return "&".join(parts)


def input_topic(device: str, module: str, input_name: str, bag: str) -> str:
    """Topic of an input delivery; without properties there is no trailing `/`."""
    base = f"devices/{device}/modules/{module}/inputs/{escape_name(input_name)}"
    return f"{base}/{bag}" if bag else base


def counted_size(body: bytes, system: dict[str, str], app: dict[str, str]) -> int:
    """Message size as edgeHub's ValidateMessageSize counts it: body plus every property key and value."""
    total = len(body)
    for k, v in system.items():
        total += len(k) + len(v)
    for k, v in app.items():
        total += len(k) + len(v)
    return total
