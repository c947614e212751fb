"""What the filter's engine returns: one message to send per Emit (output, typed body, ids)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeloop_contracts import Contract


@dataclass(frozen=True)
class Emit:
    """One message to send: output name, typed body, correlation id and envelope id.

    The body is the contract (its KIND is the envelope kind), or its JSON data when the filter's own
    compliance rules reduced it. The envelope id is derived from the decision (or, for summaries, the
    content), so a message re-sent after a restart or a redelivered input carries the id downstream
    already deduplicates on."""

    output: str
    body: Contract | dict[str, Any]
    kind: str
    correlation_id: str | None = None
    message_id: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        """The body as JSON data, as it goes on the wire."""
        return self.body.to_data() if isinstance(self.body, Contract) else self.body
