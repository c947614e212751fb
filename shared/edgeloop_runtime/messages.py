"""Messages as the runtime sees them, independent of the SDK's classes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .envelope import Envelope, parse_envelope
from .errors import ContractError


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

    def text(self) -> str:
        """The body as text, or ContractError."""
        encoding = (self.content_encoding or "utf-8").lower()
        try:
            return self.data.decode(encoding)
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
