"""opcua_ingest settings: where the published nodes come from, batching, PKI, reconnects, the watchdog."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from edgeloop_runtime import ModuleSettings


class Settings(ModuleSettings):
    """Env `PUBLISHED_NODES_FILE`, `PKI_DIR`...; twin `publishedNodes` (the file's JSON array)..."""

    published_nodes: list[Any] | None = None
    published_nodes_file: str | None = None
    publisher_id: str | None = None
    batch_interval_ms: float = Field(default=0.0, ge=0)  # 0 = flush each publish response as it arrives
    batch_max_bytes: int = Field(default=250_000, ge=4096, le=255_000)
    queue_size: int = Field(default=200_000, ge=100)
    send_max_in_flight: int = Field(default=4, ge=1, le=64)  # telemetry messages awaiting edgeHub's ack
    pki_dir: str = "/pki"
    auto_accept_untrusted: bool = False
    reconnect_min_backoff_s: float = Field(default=0.5, gt=0)
    # Kept short so data resumes within seconds of the server's return, however long it was away.
    reconnect_max_backoff_s: float = Field(default=4.0, gt=0)
    reconnect_security_backoff_s: float = Field(default=5.0, gt=0)  # after a refused certificate/identity
    report_interval_s: float = Field(default=5.0, gt=0)
    # A subscription owes a publish response (data or keep-alive) at least this often; silent past it plus the
    # margin, the subscription watchdog recreates it (and the session if that fails).
    subscription_keepalive_s: float = Field(default=5.0, ge=0.5, le=600)
    watchdog_margin_s: float = Field(default=2.0, ge=0)
