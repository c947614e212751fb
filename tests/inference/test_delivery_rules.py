"""Delivery rules that need no server: a single-file MODEL_PATH cannot take deliveries, retention keeps the
newest versions and the protected ones, SAS tokens never appear."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from inference.models.delivery import Deliveries, DeliverySpec, prune, redact


async def test_a_single_file_model_path_refuses_deliveries_naming_the_setting(tmp_path: Path) -> None:
    reports: list[dict[str, Any]] = []

    async def load(name: str) -> tuple[str | None, str | None]:
        return "1", None

    async def report(patch: dict[str, Any]) -> None:
        reports.append(patch)

    deliveries = Deliveries(load, report)
    spec = DeliverySpec(version="2", url="https://example.invalid/m.onnx?sig=secret", sha256="a" * 64)
    deliveries.apply(tmp_path / "defect_model.onnx", {"defect_detector": spec}, 3, {})
    await asyncio.gather(*(task for task, _stop in deliveries._tasks.values()))
    state = deliveries.state["defect_detector"]
    assert (state["state"], state["reason"]) == ("failed", "setting")
    assert f"MODEL_PATH={tmp_path / 'defect_model.onnx'}" in state["error"]
    assert "secret" not in str(reports) and state["url"] == "https://example.invalid/m.onnx"
    await deliveries.close()


def test_retention_keeps_the_newest_and_the_protected_versions(tmp_path: Path) -> None:
    for v in ("1", "2", "3", "4", "10"):
        (tmp_path / "m" / v).mkdir(parents=True)
    assert prune(tmp_path / "m", 2, {"1"}) == ["2", "3"]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["1", "10", "4"]


def test_a_sas_url_is_shown_without_its_query() -> None:
    url = "https://acct.blob.core.windows.net/models/m/2/model.onnx?sv=2021&sig=abc%2F"
    assert redact(url) == "https://acct.blob.core.windows.net/models/m/2/model.onnx"
