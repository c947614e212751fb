"""A message the engine decided to send; an anomaly event's heavy part is finished only when read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Finish = Callable[[dict[str, Any]], dict[str, Any]]


class Emit:
    """One message to send: output name, envelope kind, data, correlation id and envelope id.

    The envelope id is derived from the decision (or, for summaries, the content), so a message
    re-sent after a restart or a redelivered input carries the id downstream already deduplicates on.
    `finish` (an anomaly event's raw window and compliance) runs on the first read of `data`, so the
    write requests of the same decision go out before that work; the engine finishes every emit of a
    step before it changes state again, so `data` is always as it was at the decision."""

    __slots__ = ("_data", "_finish", "correlation_id", "kind", "message_id", "output")

    def __init__(
        self,
        output: str,
        kind: str,
        data: dict[str, Any],
        correlation_id: str | None = None,
        message_id: str | None = None,
        *,
        finish: Finish | None = None,
    ) -> None:
        self.output = output
        self.kind = kind
        self._data = data
        self._finish = finish
        self.correlation_id = correlation_id
        self.message_id = message_id

    @property
    def data(self) -> dict[str, Any]:
        """The message body (finished on first read)."""
        if self._finish is not None:
            self._data, self._finish = self._finish(self._data), None
        return self._data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Emit):
            return NotImplemented
        return (self.output, self.kind, self.data, self.correlation_id, self.message_id) == (
            other.output, other.kind, other.data, other.correlation_id, other.message_id
        )  # fmt: skip

    __hash__ = None  # type: ignore[assignment]  # mutable data, like the dataclass it replaces

    def __repr__(self) -> str:
        fields = (self.output, self.kind, self.data, self.correlation_id, self.message_id)
        return "Emit(" + ", ".join(repr(f) for f in fields) + ")"
