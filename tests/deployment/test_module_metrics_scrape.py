"""Every module's /metrics, scraped while the whole pipeline runs, follows Prometheus conventions."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from edgeloop_dev.azurite import missing_reason
from edgeloop_dev.chaos.pipeline import ChaosPipeline, PipelineOptions

pytestmark = [pytest.mark.xdist_group("chaos"), pytest.mark.timeout(240)]
# No `*_created` series (prometheus_client's default), no percent (ratios are 0..1), no precomputed rates
# (counters `*_total`; PromQL's rate() computes them).
OFFENDING = re.compile(r"(_created|_percent|_per_second)$|_percent_|_per_second_")


def offenders(exposition: str) -> list[str]:
    """The family and sample names of one /metrics page that break the conventions."""
    names = set()
    for family in text_string_to_metric_families(exposition):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return sorted(n for n in names if OFFENDING.search(n))


def scrape(url: str) -> str:
    """One /metrics page."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode())


def test_the_rule_catches_each_kind_of_offender() -> None:
    page = (
        "# TYPE a_per_second gauge\na_per_second 1\n"
        "# TYPE b_utilization_percent gauge\nb_utilization_percent 50\n"
        "# TYPE c counter\nc_total 1\nc_created 1.7e9\n"
        "# TYPE d_utilization_ratio gauge\nd_utilization_ratio 0.5\n"
    )
    assert offenders(page) == ["a_per_second", "b_utilization_percent", "c_created"]


async def test_every_running_module_exposes_only_conventional_names(tmp_path: Path) -> None:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    async with ChaosPipeline(PipelineOptions(state_dir=tmp_path / "run")) as pipe:
        pages: dict[str, str] = {}
        for status in pipe.sup.status().modules:
            if status.name in pipe.modules and status.metrics_port:
                url = f"http://127.0.0.1:{status.metrics_port}/metrics"
                pages[status.name] = await asyncio.to_thread(scrape, url)
    assert set(pages) >= {"opcua_ingest", "inference", "anomaly_filter", "upstream_router", "opcua_writeback"}
    assert {name: offenders(page) for name, page in pages.items() if offenders(page)} == {}
    assert "edgeloop_opcua_ingest_values_total" in pages["opcua_ingest"]  # the rate is rate() over this
