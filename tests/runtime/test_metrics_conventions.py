"""Module metrics follow Prometheus conventions: counters and histograms carry no `*_created` series."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from edgeloop_runtime.metrics import Metrics


def test_no_created_series_are_exported() -> None:
    metrics = Metrics("probe", "1")
    metrics.received.labels(input="in").inc()
    metrics.handler_seconds.labels(input="in").observe(0.01)
    metrics.counter("things_total", "Things.").inc()
    names = {
        s.name for family in text_string_to_metric_families(metrics.render().decode()) for s in family.samples
    }
    assert "edgeloop_messages_received_total" in names and "edgeloop_handler_duration_seconds_count" in names
    assert not [name for name in names if name.endswith("_created")]
