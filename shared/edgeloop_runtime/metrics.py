"""Prometheus metrics with one naming scheme across modules, and the /metrics + /healthz server."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# Prometheus convention (and what edgeHub/edgeAgent expose): no `*_created` series beside counters
# and histograms. Process-wide, as prometheus_client has it.
disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Bound:
    """A metric whose `module` label is already filled in."""

    def __init__(self, metric: Counter | Gauge | Histogram, module: str, labelnames: Sequence[str]) -> None:
        self._metric = metric
        self._module = module
        self._plain = None if labelnames else metric.labels(module=module)

    def labels(self, **labels: str) -> Any:
        """The child metric for these labels (module is implied)."""
        return self._metric.labels(module=self._module, **labels)

    def __getattr__(self, name: str) -> Any:
        if self._plain is None:
            raise AttributeError(f"metric has labels; call .labels(...) before .{name}")
        return getattr(self._plain, name)


class Metrics:
    """A module's registry: the runtime's common metrics plus the module's own (`edgeloop_<module>_*`)."""

    def __init__(self, module: str, version: str) -> None:
        self.module = module
        self.registry = CollectorRegistry()
        info = self._gauge("edgeloop_module_info", "Module name and version.", ["version"])
        info.labels(version=version).set(1)
        self.up = self._gauge("edgeloop_up", "1 while the module runs and is healthy.", [])
        self.received = self._counter("edgeloop_messages_received_total", "Input messages.", ["input"])
        self.sent = self._counter("edgeloop_messages_sent_total", "Output messages.", ["output"])
        self.sent_bytes = self._counter("edgeloop_message_bytes_sent_total", "Output body bytes.", ["output"])
        self.send_failures = self._counter(
            "edgeloop_send_failures_total", "Failed sends by reason.", ["output", "reason"]
        )
        self.errors = self._counter(
            "edgeloop_message_errors_total", "Input messages whose handler failed.", ["input", "reason"]
        )
        self.deadletters = self._counter(
            "edgeloop_deadletter_total", "Messages sent to deadletter.", ["input"]
        )
        self.queue_length = self._gauge(
            "edgeloop_input_queue_length", "Messages waiting per input.", ["input"]
        )
        self.unacknowledged = self._gauge(
            "edgeloop_inputs_unacknowledged",
            "Inputs received whose acknowledgement to edgeHub waits for the module.",
            [],
        )
        self.dropped = self._counter(
            "edgeloop_input_dropped_total", "Input messages dropped by policy.", ["input", "reason"]
        )
        self.handler_seconds = self._histogram(
            "edgeloop_handler_duration_seconds", "Input handler time.", ["input"]
        )
        self.methods = self._counter(
            "edgeloop_method_calls_total", "Direct method calls by status.", ["method", "status"]
        )
        self.config_updates = self._counter(
            "edgeloop_config_updates_total", "Configuration updates by result.", ["result"]
        )
        self.task_restarts = self._counter(
            "edgeloop_task_restarts_total", "Background tasks restarted after a crash.", ["task"]
        )

    def _counter(self, name: str, doc: str, labels: Sequence[str]) -> Bound:
        return Bound(Counter(name, doc, ["module", *labels], registry=self.registry), self.module, labels)

    def _gauge(self, name: str, doc: str, labels: Sequence[str]) -> Bound:
        return Bound(Gauge(name, doc, ["module", *labels], registry=self.registry), self.module, labels)

    def _histogram(
        self, name: str, doc: str, labels: Sequence[str], buckets: Sequence[float] = LATENCY_BUCKETS
    ) -> Bound:
        metric = Histogram(name, doc, ["module", *labels], registry=self.registry, buckets=buckets)
        return Bound(metric, self.module, labels)

    def _own(self, name: str) -> str:
        return f"edgeloop_{self.module}_{name}"

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Bound:
        """A module-specific counter named `edgeloop_<module>_<name>`."""
        return self._counter(self._own(name), doc, labels)

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Bound:
        """A module-specific gauge named `edgeloop_<module>_<name>`."""
        return self._gauge(self._own(name), doc, labels)

    def histogram(
        self, name: str, doc: str, labels: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS
    ) -> Bound:
        """A module-specific histogram named `edgeloop_<module>_<name>`."""
        return self._histogram(self._own(name), doc, labels, buckets)

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


class MetricsServer:
    """Serves /metrics and /healthz for one module on aiohttp."""

    def __init__(self, metrics: Metrics, health: Callable[[], tuple[bool, dict[str, Any]]]) -> None:
        self._metrics = metrics
        self._health = health
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def _serve_metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _serve_health(self, _request: web.Request) -> web.Response:
        ok, detail = self._health()
        return web.Response(
            status=200 if ok else 503, text=json.dumps(detail, default=str), content_type="application/json"
        )

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0 = any free port) and return the port."""
        app = web.Application()
        app.router.add_get("/metrics", self._serve_metrics)
        app.router.add_get("/healthz", self._serve_health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else port
        port_file = os.environ.get("METRICS_PORT_FILE")
        if port_file:  # where the image HEALTHCHECK finds the port when METRICS_PORT is 0
            try:
                Path(port_file).write_text(f"{self.port}\n")  # noqa: ASYNC240 - a few bytes, once at start
            except OSError:
                pass
        return self.port

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
