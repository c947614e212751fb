"""Classify the topics a module publishes to, and build the ones the hub publishes (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote


@dataclass(frozen=True, slots=True)
class Telemetry:
    """`devices/{d}/modules/{m}/messages/events/{bag}`."""

    device: str
    module: str
    bag: str


@dataclass(frozen=True, slots=True)
class TwinGet:
    """`$iothub/twin/GET/?$rid=R`."""

    rid: str


@dataclass(frozen=True, slots=True)
class TwinPatchReported:
    """`$iothub/twin/PATCH/properties/reported/?$rid=R`."""

    rid: str


@dataclass(frozen=True, slots=True)
class MethodResponse:
    """`$iothub/methods/res/{status}/?$rid=R`."""

    status: int
    rid: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """Anything else; `reason` says why it was not understood."""

    reason: str


Incoming = Telemetry | TwinGet | TwinPatchReported | MethodResponse | Unknown

INPUTS_FILTER_SUFFIX = "/inputs/#"
METHODS_FILTER = "$iothub/methods/POST/#"
TWIN_RESPONSE_FILTER = "$iothub/twin/res/#"
DESIRED_FILTER = "$iothub/twin/PATCH/properties/desired/#"


def query(q: str) -> dict[str, str]:
    """Parse `?$rid=..&$version=..` style queries; `+` stays literal."""
    out: dict[str, str] = {}
    for part in q.lstrip("?").split("&"):
        if part:
            k, _, v = part.partition("=")
            out[unquote(k)] = unquote(v)
    return out


def _rid(rest: str) -> str | None:
    # rest looks like "?$rid=abc" (the SDK always puts the query after a "/")
    if not rest.startswith("?"):
        return None
    rid = query(rest).get("$rid")
    return rid or None


def classify(topic: str) -> Incoming:
    """Say what a module's PUBLISH topic is."""
    if topic.startswith("devices/"):
        parts = topic.split("/", 6)
        if len(parts) >= 6 and parts[2] == "modules" and parts[4] == "messages" and parts[5] == "events":
            return Telemetry(parts[1], parts[3], parts[6] if len(parts) > 6 else "")
        return Unknown("telemetry topic must be devices/{d}/modules/{m}/messages/events/")
    if topic.startswith("$iothub/twin/"):
        head, _, rest = topic.rpartition("/")
        rid = _rid(rest)
        if rid is None:
            return Unknown("twin topic without ?$rid=")
        if head == "$iothub/twin/GET":
            return TwinGet(rid)
        if head == "$iothub/twin/PATCH/properties/reported":
            return TwinPatchReported(rid)
        return Unknown(f"unsupported twin operation {head!r}")
    if topic.startswith("$iothub/methods/res/"):
        parts = topic.split("/")
        if len(parts) == 5:
            rid = _rid(parts[4])
            try:
                status = int(parts[3])
            except ValueError:
                return Unknown("method response status is not an integer")
            if rid is not None:
                return MethodResponse(status, rid)
        return Unknown("method response topic must be $iothub/methods/res/{status}/?$rid={rid}")
    return Unknown("unknown topic")


def twin_response_topic(status: int, rid: str, version: int | None = None) -> str:
    """`$iothub/twin/res/{status}/?$rid=R[&$version=V]`."""
    suffix = f"&$version={version}" if version is not None else ""
    return f"$iothub/twin/res/{status}/?$rid={rid}{suffix}"


def desired_patch_topic(version: int) -> str:
    """`$iothub/twin/PATCH/properties/desired/?$version=V`."""
    return f"$iothub/twin/PATCH/properties/desired/?$version={version}"


def method_request_topic(name: str, rid: str) -> str:
    """`$iothub/methods/POST/{name}/?$rid=R`."""
    return f"$iothub/methods/POST/{name}/?$rid={rid}"


def filter_matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic-filter matching with `+` and `#`."""
    fparts = topic_filter.split("/")
    tparts = topic.split("/")
    for i, f in enumerate(fparts):
        if f == "#":
            return True
        if i >= len(tparts):
            return False
        if f != "+" and f != tparts[i]:
            return False
    return len(fparts) == len(tparts)
