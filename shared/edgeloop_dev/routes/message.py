"""What routing sees of a message: body, system and application properties, and its derived source."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final, Literal

# System property names as edgeHub's routing uses them (Routing.Core/SystemProperties.cs).
CONNECTION_DEVICE_ID: Final = "connectionDeviceId"
CONNECTION_MODULE_ID: Final = "connectionModuleId"
OUTPUT_NAME: Final = "outputName"
MESSAGE_TYPE: Final = "messageType"
CONTENT_TYPE: Final = "contentType"
CONTENT_ENCODING: Final = "contentEncoding"
TWIN_CHANGE_NOTIFICATION: Final = "twinChangeNotification"

SOURCE_TELEMETRY: Final = "/messages"
SOURCE_TWIN_CHANGES: Final = "/twinChangeNotifications"

_JSON_ENCODINGS: Final = {"utf-8": "utf-8-sig", "utf-16": "utf-16", "utf-32": "utf-32"}


class _Invalid:
    """Marker: the body cannot be queried (not JSON + utf-8/16/32, or not a JSON object)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<body not queryable>"


BODY_NOT_QUERYABLE: Final = _Invalid()
_UNPARSED: Final = object()


def message_source(system_properties: dict[str, str]) -> str:
    """The edgeHub message source of a message (RoutingMessageConverter.GetMessageSource)."""
    if system_properties.get(MESSAGE_TYPE) == TWIN_CHANGE_NOTIFICATION:
        return SOURCE_TWIN_CHANGES
    module = system_properties.get(CONNECTION_MODULE_ID)
    if module:
        output = system_properties.get(OUTPUT_NAME)
        if output:
            return f"/messages/modules/{module}/outputs/{output}"
        return f"/messages/modules/{module}"
    return SOURCE_TELEMETRY


def decode_json_object(body: bytes, encoding: str) -> object:
    """The body parsed as a JSON object (as JObject.Parse), or BODY_NOT_QUERYABLE."""
    try:
        parsed = json.loads(body.decode(encoding))
    except (ValueError, RecursionError):
        return BODY_NOT_QUERYABLE
    return parsed if isinstance(parsed, dict) else BODY_NOT_QUERYABLE


@dataclass(slots=True, eq=False)
class RoutableMessage:
    """A message as the router sees it. The JSON body is parsed at most once, and only if a route asks."""

    body: bytes
    system_properties: dict[str, str]
    properties: dict[str, str]
    _source: str | None = field(default=None, init=False, repr=False)
    _source_key: str | None = field(default=None, init=False, repr=False)
    _props_ci: dict[str, str] | None = field(default=None, init=False, repr=False)
    _system_ci: dict[str, str] | None = field(default=None, init=False, repr=False)
    _json: object = field(default=_UNPARSED, init=False, repr=False)
    _any_json: object = field(default=_UNPARSED, init=False, repr=False)

    @property
    def source(self) -> str:
        """The message source, e.g. `/messages/modules/{m}/outputs/{o}` (see message_source)."""
        if self._source is None:
            self._source = message_source(self.system_properties)
        return self._source

    @property
    def source_key(self) -> str:
        """The source, lower-cased, plus `/`: what route source prefixes are matched against."""
        if self._source_key is None:
            self._source_key = self.source.lower() + "/"
        return self._source_key

    def app_property(self, lower_name: str) -> str | None:
        """An application property by lower-cased name (edgeHub's property bags ignore case)."""
        if self._props_ci is None:
            self._props_ci = {k.lower(): v for k, v in self.properties.items()}
        return self._props_ci.get(lower_name)

    def system_property(self, lower_name: str) -> str | None:
        """A system property by lower-cased name (case-insensitive, as in edgeHub)."""
        if self._system_ci is None:
            self._system_ci = {k.lower(): v for k, v in self.system_properties.items()}
        return self._system_ci.get(lower_name)

    def json_body(self) -> object:
        """The parsed body for `$body` queries, or BODY_NOT_QUERYABLE.

        Only `contentType` `application/json` with `contentEncoding` utf-8, utf-16 or utf-32 (both
        case-insensitive) can be queried, as in edgeHub; anything else gives Undefined.
        """
        if self._json is _UNPARSED:
            ctype = self.system_properties.get(CONTENT_TYPE, "")
            encoding = _JSON_ENCODINGS.get(self.system_properties.get(CONTENT_ENCODING, "").lower())
            if ctype.lower() != "application/json" or encoding is None:
                self._json = BODY_NOT_QUERYABLE
            else:
                self._json = decode_json_object(self.body, encoding)
        return self._json

    def twin_change_body(self) -> object:
        """The body of a twin-change notification as JSON (declared encoding, else utf-8)."""
        if self._any_json is _UNPARSED:
            declared = self.json_body()
            if declared is not BODY_NOT_QUERYABLE:
                self._any_json = declared
            else:
                self._any_json = decode_json_object(self.body, "utf-8-sig")
        return self._any_json


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A route's sink: `$upstream`, or a module input (`BrokeredEndpoint("/modules/{m}/inputs/{i}")`)."""

    kind: Literal["upstream", "module"]
    module: str | None = None
    input: str | None = None

    def __str__(self) -> str:
        if self.kind == "upstream":
            return "$upstream"
        return f'BrokeredEndpoint("/modules/{self.module}/inputs/{self.input}")'


UPSTREAM: Final = Endpoint("upstream")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery of a message to one endpoint, at the best priority of the routes that chose it."""

    endpoint: Endpoint
    priority: int
    ttl_secs: int | None  # None: kept until delivered
    route_name: str
