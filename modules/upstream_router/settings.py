"""upstream_router settings: store, budget, batching, link test hook, Blob Storage target."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from edgeloop_runtime import ModuleSettings
from edgeloop_runtime.compliance import CompliancePolicy

from .classes import DEFAULT_ALARM_MIN_SEVERITY
from .router import DEFAULT_INTERVALS, Policy


class Settings(ModuleSettings):
    """Every field is an env var (UPPER_SNAKE) and a desired property (camelCase)."""

    # Empty: queue.db in the module's STATE_DIR (by default state/upstream_router/queue.db).
    store_path: str = ""
    store_max_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    store_max_messages: int = Field(default=1_000_000, gt=0)
    store_policy: Literal["drop_lowest_oldest", "reject_new"] = "drop_lowest_oldest"
    store_sync: Literal["full", "normal"] = "full"
    # Share of storeMaxBytes that evidence waiting for upload may take; the rest is for messages.
    store_evidence_share: float = Field(default=0.25, gt=0, lt=1)
    bandwidth_bytes_per_hour: float | None = Field(default=None, gt=0)
    burst_seconds: float = Field(default=60.0, gt=0)
    compress: bool = False  # JSON text upstream (readable by az and routing queries); gzip is opt-in
    batch_interval_seconds: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_INTERVALS))
    max_batch_messages: int = Field(default=200, ge=1)
    max_message_bytes: int = Field(default=250_000, ge=1024, le=262_143)
    thin_after: int = Field(default=2, ge=1)
    send_timeout_seconds: float = Field(default=10.0, gt=0)
    # Test hook: false makes every upstream send fail as a real outage would.
    link_up: bool = True
    blob_connection_string: SecretStr | None = None
    blob_container: str = Field(default="edgeloop-dataset", min_length=3, max_length=63)
    blob_api_version: str | None = None
    blob_timeout_seconds: float = Field(default=10.0, gt=0)
    blob_wait_seconds: float = Field(default=10.0, ge=0)
    blob_retry_max_seconds: float = Field(default=300.0, gt=0)
    # Plant alarms (input `alarms`): an active one of this OPC UA severity (1..1000) or more is class `alarm`
    # (right after `safety`, never held back by the budget); the rest are class `event`.
    alarm_min_severity: int = Field(default=DEFAULT_ALARM_MIN_SEVERITY, ge=1, le=1000)
    frames_per_camera: int = Field(default=30, ge=1)
    # What may go upstream, applied to every input (anomalies, alarms, summaries, audit, drift, deadletter):
    # `streams` by input name (`allow`, `redact`), `redactKeys` everywhere (credentials by default).
    compliance: CompliancePolicy = Field(default_factory=CompliancePolicy)

    def policy(self, *, uploads: bool) -> Policy:
        """The routing policy these settings describe."""
        return Policy(
            compress=self.compress,
            batch_interval_s={**DEFAULT_INTERVALS, **self.batch_interval_seconds},
            max_batch_messages=self.max_batch_messages,
            max_message_bytes=self.max_message_bytes,
            blob_wait_s=self.blob_wait_seconds,
            thin_after=self.thin_after,
            upload_blobs=uploads,
            alarm_min_severity=self.alarm_min_severity,
        )
