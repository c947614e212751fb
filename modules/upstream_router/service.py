"""The router's I/O loops: send batches upstream over the link, upload evidence to Blob Storage."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from edgeloop_runtime import Context, EdgeloopError, HubConnectionError, get_logger

from .batching import Encoded
from .blob import BlobRefusedError, BlobTarget
from .budget import Budget
from .classes import CLASSES
from .folder import FolderTarget
from .link import Link
from .router import Router
from .settings import Settings
from .store import StoreUnavailableError

_log = get_logger(__name__)


class RouterService:
    """Owns the router, the link, the Blob target and the metrics; the module's handlers call into it."""

    def __init__(
        self, ctx: Context[Settings, Any], router: Router, blob: BlobTarget | FolderTarget | None
    ) -> None:
        self.ctx = ctx
        self.router = router
        self.blob = blob
        self.link = Link(forced_down=not ctx.settings.link_up)
        self.wake = asyncio.Event()
        # A batch delivered while the disk was too full to forget it: forgotten before anything else is
        # sent, never sent again (a new batch would carry its events under another message id).
        self.unforgotten: Encoded | None = None
        m = ctx.metrics
        self.m_bytes = m.counter("upstream_bytes_total", "Bytes sent upstream, by class.", ["cls"])
        self.m_msgs = m.counter("upstream_messages_total", "Messages sent upstream, by class.", ["cls"])
        self.m_events = m.counter(
            "upstream_events_total", "Events sent upstream (inside batches), by class.", ["cls"]
        )
        self.m_depth = m.gauge("queue_depth", "Messages waiting, by class.", ["cls"])
        self.m_age = m.gauge(
            "queue_oldest_age_seconds", "Age of the oldest waiting message, by class.", ["cls"]
        )
        self.m_drops = m.counter("drops_total", "Messages dropped, by class and reason.", ["cls", "reason"])
        self.m_link = m.gauge("link_up", "1 while the upstream link works.")
        self.m_send_fail = m.counter("send_failures_total", "Upstream send failures, by reason.", ["reason"])
        self.m_uploads = m.counter("blob_uploads_total", "Evidence blobs uploaded.")
        self.m_upload_fail = m.counter("blob_failures_total", "Blob upload failures, by reason.", ["reason"])
        self.m_uploads_pending = m.gauge("blob_uploads_pending", "Blob uploads waiting.")
        self.m_store_full = m.counter(
            "store_unavailable_total", "Inputs held back because the store could not write (disk full)."
        )
        self.m_disk = m.gauge("store_disk_bytes", "What the store occupies, by part.", ["part"])
        self._drops_seen: dict[tuple[str, str], int] = dict(router.store.drops)
        self.m_link.set(1)

    # --- metrics -------------------------------------------------------------------------------
    def refresh_metrics(self, now: float) -> None:
        """Queue depth and age, drops, link state and pending uploads into the registry."""
        for cls, d in self.router.store.depth(now).items():
            self.m_depth.labels(cls=cls).set(d["messages"])
            self.m_age.labels(cls=cls).set(d["oldestAgeS"])
        for key, n in self.router.store.drops.items():
            seen = self._drops_seen.get(key, 0)
            if n > seen:
                self.m_drops.labels(cls=key[0], reason=key[1]).inc(n - seen)
                self._drops_seen[key] = n
        self.m_link.set(1 if self.link.up and not self.link.forced_down else 0)
        self.m_uploads_pending.set(self.router.store.uploads_pending())
        for part, size in self.router.store.disk_bytes().items():
            self.m_disk.labels(part=part).set(size)

    # --- sending -------------------------------------------------------------------------------
    async def send_once(self, *, flush: bool = False) -> int:
        """Send what is due until nothing is, the link fails or the budget holds; returns messages sent."""
        sent = 0
        if self.unforgotten is not None:
            if not self._forget(self.unforgotten):
                return sent
            self.unforgotten = None
            sent += 1
        while True:
            now = time.time()
            if not self.link.can_try(now):
                return sent
            enc = self.router.next_batch(now, flush=flush)
            if enc is None:
                return sent
            try:
                if self.link.forced_down:
                    raise HubConnectionError("upstream link is down (linkUp=false)")
                await asyncio.wait_for(
                    self.ctx.send_bytes(
                        "upstream",
                        enc.payload,
                        content_type="application/json",
                        content_encoding=enc.content_encoding,
                        message_id=enc.message_id,
                        properties=enc.properties,
                    ),
                    timeout=self.ctx.settings.send_timeout_seconds,
                )
            except (EdgeloopError, TimeoutError) as exc:
                reason = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
                self.m_send_fail.labels(reason=reason).inc()
                if self.link.up:
                    _log.warning("upstream send failed; link down, storing", error=str(exc) or reason)
                self.link.failed(time.time(), str(exc) or reason)
                self.m_link.set(0)
                return sent
            if not self.link.up:
                _log.info("upstream link back; draining", outage_failures=self.link.failures)
            self.link.succeeded()
            if not self._forget(enc):
                self.unforgotten = enc
                return sent
            sent += 1

    def _forget(self, enc: Encoded) -> bool:
        """Record a delivered batch (forget its items, count it); False while the disk is too full to."""
        try:
            self.router.sent(enc, time.time())
        except StoreUnavailableError as exc:
            # Delivered, but the disk is too full to forget it: kept in memory and forgotten first
            # once the store can write; the sender itself keeps running.
            self.m_store_full.inc()
            _log.warning("delivered batch not yet forgotten: store cannot write", error=str(exc))
            return False
        self.m_bytes.labels(cls=enc.cls).inc(len(enc.payload))
        self.m_msgs.labels(cls=enc.cls).inc()
        self.m_events.labels(cls=enc.cls).inc(len(enc.seqs))
        return True

    async def sender(self) -> None:
        """The send loop: woken by new input, a finished upload, or every 0.25 s."""
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=0.25)
            except TimeoutError:
                pass
            self.wake.clear()
            await self.send_once()
            self.refresh_metrics(time.time())

    # --- uploads -------------------------------------------------------------------------------
    async def uploader(self) -> None:
        """The upload loop: due uploads oldest first; a failure backs the next try off."""
        while True:
            await asyncio.sleep(0.2)
            if self.blob is None:
                continue
            for up in self.router.store.due_uploads(time.time()):
                try:
                    await self.blob.upload(up.path, up.data, up.content_type, up.metadata)
                except EdgeloopError as exc:
                    reason = "refused" if isinstance(exc, BlobRefusedError) else "unavailable"
                    self.m_upload_fail.labels(reason=reason).inc()
                    cap = self.ctx.settings.blob_retry_max_seconds
                    delay = cap if reason == "refused" else min(cap, 0.5 * 2 ** min(up.attempts, 12))
                    self.router.store.upload_failed(up.path, time.time() + delay, str(exc))
                    _log.warning(
                        "blob upload failed; will retry", path=up.path, error=str(exc), retry_in_s=delay
                    )
                    break
                self.router.store.upload_done(up.path, up.msg_id)
                self.m_uploads.inc()
                self.wake.set()

    # --- methods -------------------------------------------------------------------------------
    def queue_status(self) -> dict[str, Any]:
        """The answer to getQueueStatus."""
        now = time.time()
        return {
            **self.router.status(now),
            "link": {
                "up": self.link.up and not self.link.forced_down,
                "forcedDown": self.link.forced_down,
                "failures": self.link.failures,
                "outages": self.link.outages,
                "lastError": self.link.last_error,
            },
            "classes": list(CLASSES),
        }

    def set_budget(self, budget: Budget, bytes_per_hour: float | None) -> None:
        """Change the bytes-per-hour cap now."""
        budget.set_rate(bytes_per_hour, time.time())
        self.wake.set()
