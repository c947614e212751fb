"""The hub's opt-in heap-growth dump (EDGELOOP_HUB_TRACEMALLOC): parsed strictly, written per allocation site."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from edgeloop_dev.hub.app import TRACEMALLOC_ENV, _dump_heap_growth, _tracemalloc_interval
from edgeloop_dev.hub.errors import ConfigError


def test_unset_means_no_tracing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRACEMALLOC_ENV, raising=False)
    assert _tracemalloc_interval() is None


def test_interval_is_read_in_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRACEMALLOC_ENV, "30")
    assert _tracemalloc_interval() == 30.0


@pytest.mark.parametrize("raw", ["soon", "0", "-5"])
def test_bad_interval_names_the_variable(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(TRACEMALLOC_ENV, raw)
    with pytest.raises(ConfigError, match=TRACEMALLOC_ENV):
        _tracemalloc_interval()


def test_dump_names_the_site_that_grew(tmp_path: Path) -> None:
    tracemalloc.start(8)
    try:
        baseline = tracemalloc.take_snapshot()
        kept = [bytes(4096) for _ in range(64)]  # the growth the dump must point at
        _dump_heap_growth(tmp_path / "heap.txt", baseline)
    finally:
        tracemalloc.stop()
    text = (tmp_path / "heap.txt").read_text()
    assert text.startswith("== ")
    assert "test_heap_dump.py" in text and len(kept) == 64
