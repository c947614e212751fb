"""`batch` (upstream_router/upstream): several stored events of one class as one upstream message."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from .base import Contract

BATCH_NS = uuid.UUID("6f1c7a52-4e59-4b8e-9a35-6a0f0f9d1e21")


class Batch(Contract, kw_only=True):
    """Events of one priority class, oldest first; each event is a whole envelope as it was stored."""

    KIND = "batch"

    class_: str = msgspec.field(name="class")
    count: int
    events: list[dict[str, Any]]


def batch_id(event_ids: list[str]) -> str:
    """A batch's message id, derived from its events so a re-send of the same batch keeps it."""
    return str(uuid.uuid5(BATCH_NS, ",".join(event_ids)))
