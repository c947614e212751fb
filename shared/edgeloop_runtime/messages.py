"""Messages as the runtime sees them, independent of the SDK's classes."""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from .envelope import Envelope, parse_envelope
from .errors import ContractError

# Content codings (not charsets) the runtime undoes before reading a body.
GZIP_ENCODINGS = ("gzip", "x-gzip")


@dataclass(frozen=True, slots=True)
class InputMessage:
    """A message delivered to one of the module's inputs."""

    input_name: str
    data: bytes
    message_id: str | None = None
    correlation_id: str | None = None
    content_type: str | None = None
    content_encoding: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    delivery: str | None = None  # the ticket that lets edgeHub forget it once handled (see acks.py)

    @property
    def sender(self) -> str | None:
        """The module that sent it, as edgeHub reports it (`$.cmid`)."""
        return self.properties.get("$.cmid")

    def body(self) -> bytes:
        """The body with any content coding undone: a `gzip` body (an oversize output sent with
        `oversize="compress"`) is decompressed; other encodings name a charset and stay as they are."""
        if (self.content_encoding or "").lower() not in GZIP_ENCODINGS:
            return self.data
        try:
            return gzip.decompress(self.data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ContractError(f"body says gzip but does not decompress: {exc}") from exc

    def text(self) -> str:
        """The body as text (gzip undone; the charset is content_encoding, else utf-8), or ContractError."""
        encoding = (self.content_encoding or "utf-8").lower()
        if encoding in GZIP_ENCODINGS:
            encoding = "utf-8"
        try:
            return self.body().decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ContractError(f"body is not valid {encoding} text: {exc}") from exc

    def json(self) -> Any:
        """The body parsed as JSON, or ContractError."""
        try:
            return json.loads(self.text())
        except json.JSONDecodeError as exc:
            raise ContractError(f"body is not valid JSON: {exc.msg} at position {exc.pos}") from exc

    def envelope(self, *kinds: str) -> Envelope:
        """The body as an edgeloop envelope (optionally of the given kinds), or ContractError."""
        env = parse_envelope(self.json())
        if env is None:
            raise ContractError("body is not an edgeloop envelope (v=1 with data)")
        if kinds and env.kind not in kinds:
            raise ContractError(f"envelope kind {env.kind!r} is not one of {list(kinds)}")
        return env


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message the module sends on one of its outputs."""

    data: bytes
    message_id: str | None = None
    correlation_id: str | None = None
    content_type: str | None = None
    content_encoding: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MethodRequest:
    """A direct method call addressed to the module."""

    request_id: str
    name: str
    payload: Any
