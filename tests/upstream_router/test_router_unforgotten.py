"""A batch delivered while the disk is too full to forget it is forgotten first, never sent a second time."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ur_factories import summary

from edgeloop_runtime.metrics import Metrics
from upstream_router.batching import decode
from upstream_router.budget import Budget
from upstream_router.router import Policy, Router
from upstream_router.service import RouterService
from upstream_router.store import Store, StoreUnavailableError

SRC = {"module": "upstream_router", "version": "0"}


class Upstream:
    """The runtime's send seam: what went upstream, by message id and the events inside."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str]]] = []

    async def send_bytes(self, _output: str, payload: bytes, **kw: Any) -> None:
        events = [e["id"] for e in decode(payload, kw.get("content_encoding"))]
        self.sent.append((kw["message_id"], events))


def test_a_delivered_batch_the_store_could_not_forget_is_not_sent_again(tmp_path: Path) -> None:
    async def scenario() -> list[tuple[str, list[str]]]:
        with Store(tmp_path / "q.db") as store:
            router = Router(store, Budget(None), Policy(), source=SRC, blob_url=lambda p: p)  # type: ignore[arg-type]
            up = Upstream()
            ctx = SimpleNamespace(
                settings=SimpleNamespace(link_up=True, send_timeout_seconds=5.0),
                metrics=Metrics("upstream_router", "test"),
                send_bytes=up.send_bytes,
            )
            svc = RouterService(ctx, router, None)  # type: ignore[arg-type]
            now = time.time()
            router.accept("summaries", summary(minute=0), now - 3600)
            ack, full = store.ack, True

            def ack_on_a_full_disk(seqs: list[int]) -> None:
                if full:
                    raise StoreUnavailableError("database or disk is full")
                ack(seqs)

            store.ack = ack_on_a_full_disk  # type: ignore[method-assign]
            await svc.send_once(flush=True)  # delivered, not forgotten
            router.accept("summaries", summary(minute=1), now - 3600)  # a new batch would now hold both
            await svc.send_once(flush=True)  # still full: nothing more goes
            full = False
            await svc.send_once(flush=True)  # forgets the first, then sends only the new summary
            return up.sent

    sent = asyncio.run(scenario())
    events = [e for _mid, evs in sent for e in evs]
    assert len(events) == len(set(events)) == 2, sent
