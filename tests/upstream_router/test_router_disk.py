"""The store on a full disk and inside its quota: errors not masked, evidence counted, WAL bounded."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from ur_factories import anomaly

from upstream_router.budget import Budget
from upstream_router.router import Policy, Router
from upstream_router.store import Store, StoreUnavailableError, Upload

SRC = {"module": "upstream_router", "version": "0"}


def fill_database(store: Store) -> None:
    """Make the next page the database needs fail with SQLITE_FULL, as a full disk does."""
    pages = int(store.db.execute("PRAGMA page_count").fetchone()[0])
    store.db.execute(f"PRAGMA max_page_count={pages}")


def test_a_put_on_a_full_disk_reports_the_full_disk_not_a_rollback_error(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db") as s:
        fill_database(s)
        with pytest.raises(StoreUnavailableError, match="full") as caught:
            for i in range(200):
                s.put(f"m{i}", "anomaly", b"x" * 4000)
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        assert not s.db.in_transaction


def test_after_space_is_freed_the_same_put_succeeds_and_nothing_half_written_stays(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db") as s:
        fill_database(s)
        stored = 0
        with pytest.raises(StoreUnavailableError):
            for i in range(200):
                s.put(f"m{i}", "anomaly", b"x" * 4000)
                stored += 1
        s.db.execute("PRAGMA max_page_count=1073741823")
        assert s.put(f"m{stored}", "anomaly", b"x" * 4000).stored
        assert s.totals() == (stored + 1, (stored + 1) * 4000)


def test_pending_evidence_counts_inside_the_byte_quota_and_gives_way_first(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db", max_bytes=10_000, evidence_share=0.5) as s:
        s.put("a", "anomaly", b"x" * 1000)
        s.put_upload(Upload("p/1.json", "a", "application/json", {}, b"y" * 4000))
        assert s.disk_bytes()["evidenceBytes"] == 4000
        s.put("s1", "summary", b"z" * 4000)
        result = s.put("s2", "summary", b"z" * 2000)  # 1000 + 4000 + 4000 + 2000 > 10000
        drops = dict(s.drops)
    assert result.stored and result.evicted == ()  # the evidence went, not a message
    assert drops == {("evidence", "store_full"): 1}


def test_evidence_over_its_share_is_given_up_counted_and_marked_never_the_event(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db", max_bytes=4000, evidence_share=0.25) as s:
        r = Router(s, Budget(None), Policy(), source=SRC, blob_url=lambda p: f"http://blob/c/{p}")
        env = anomaly(window=True)
        env["data"]["window"]["fields"]["Vibration"] = [7.5] * 200  # ~1.2 KB of evidence > 1000
        acc = r.accept("anomalies", env, 1.0)
        [item] = s.pending("anomaly", now=1.0)
        drops = dict(s.drops)
    stored = json.loads(item.body)["data"]
    assert acc.uploads == 0 and acc.result.stored and item.size < 1000
    assert stored["window"] is None and stored["evidenceDropped"] == "storeQuota"
    assert drops == {("evidence", "quota"): 1}


def test_the_wal_is_checkpointed_and_stays_within_its_limit(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db", max_bytes=200_000) as s:
        for round_ in range(10):
            seqs = []
            for i in range(40):
                s.put(f"m{round_}.{i}", "anomaly", b"x" * 2000)
            seqs = [it.seq for it in s.pending("anomaly", now=1e12)]
            s.ack(seqs)
        disk = s.disk_bytes()
    assert disk["walLimitBytes"] == 64 * 1024
    assert disk["walBytes"] <= disk["walLimitBytes"]


def test_space_of_delivered_messages_goes_back_to_the_disk(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db", max_bytes=1_000_000) as s:
        for i in range(100):
            s.put(f"m{i}", "anomaly", b"x" * 3000)
        full = s.disk_bytes()["dbBytes"] + s.disk_bytes()["walBytes"]
        s.ack([it.seq for it in s.pending("anomaly", now=1e12)])
        disk = s.disk_bytes()
    assert full >= 300_000
    assert disk["dbBytes"] + disk["walBytes"] < 100_000


def test_pending_evidence_gives_way_to_events_and_its_event_loses_the_url(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db", max_bytes=20_000, evidence_share=0.5) as s:
        r = Router(s, Budget(None), Policy(), source=SRC, blob_url=lambda p: f"http://blob/c/{p}")
        first = anomaly(window=True)
        first["data"]["window"]["fields"]["Vibration"] = [7.5] * 600  # ~3.6 KB of evidence
        r.accept("anomalies", first, 1.0)  # its window waits for upload
        s.max_bytes = 2_000  # the quota shrinks (a twin patch) below what the evidence holds
        second = anomaly(window=False, severity="critical")
        result = r.accept("anomalies", second, 2.0).result
        stored = {
            json.loads(it.body)["id"]: json.loads(it.body)["data"] for it in s.pending("anomaly", now=2.0)
        }
        stored |= {
            json.loads(it.body)["id"]: json.loads(it.body)["data"] for it in s.pending("safety", now=2.0)
        }
        left, drops = s.uploads_pending(), dict(s.drops)
    assert result.stored and left == 0
    assert drops == {("evidence", "store_full"): 1}
    assert stored[first["id"]]["blobUrl"] is None and stored[first["id"]]["evidenceDropped"] == "storeQuota"
    assert second["id"] in stored
