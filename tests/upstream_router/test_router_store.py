"""The on-disk store: durable, bounded, with the drop policy applied and every drop counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ur_factories import anomaly, summary

from upstream_router.store import Store, Upload


def body(env: dict[str, object]) -> bytes:
    return json.dumps(env).encode()


def test_messages_survive_reopening(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db") as s:
        s.put("a", "anomaly", b"x" * 10, now=1.0)
        s.put_upload(Upload("p/1.json", "a", "application/json", {"asset": "pump"}, b"{}"))
    with Store(tmp_path / "q.db") as s:
        assert [it.id for it in s.pending("anomaly", now=2.0)] == ["a"]
        assert [u.path for u in s.due_uploads(2.0)] == ["p/1.json"]


def test_same_id_is_stored_once(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db") as s:
        assert s.put("a", "anomaly", b"x").stored
        r = s.put("a", "anomaly", b"x")
        assert r.duplicate and not r.stored
        assert s.totals() == (1, 1)


def test_full_store_drops_lowest_class_oldest_first(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db", max_messages=3) as s:
        s.put("s1", "summary", b"1", now=1)
        s.put("s2", "summary", b"2", now=2)
        s.put("a1", "anomaly", b"3", now=3)
        r = s.put("a2", "anomaly", b"4", now=4)
        assert r.stored and r.evicted == (("s1", "summary"),)
        s.put("d1", "drift", b"5", now=5)
        assert sorted(it.id for c in ("anomaly", "drift", "summary") for it in s.pending(c, now=9)) == [
            "a1",
            "a2",
            "d1",
        ]
        assert s.drops[("summary", "store_full")] == 2


def test_lower_class_is_refused_rather_than_evicting_a_higher_one(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db", max_messages=2) as s:
        s.put("a1", "anomaly", b"1")
        s.put("x1", "audit", b"2")
        r = s.put("s1", "summary", b"3")
        assert not r.stored and r.evicted == ()
        assert s.drops[("summary", "store_full")] == 1
        assert s.totals()[0] == 2


def test_byte_bound_applies_and_drops_are_persisted(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db", max_bytes=100) as s:
        s.put("s1", "summary", b"x" * 60)
        s.put("a1", "anomaly", b"y" * 60)
    with Store(tmp_path / "q.db") as s:
        assert s.drops[("summary", "store_full")] == 1


def test_reject_new_policy_keeps_what_is_stored(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db", max_messages=1, policy="reject_new") as s:
        s.put("s1", "summary", b"1")
        assert not s.put("a1", "anomaly", b"2").stored
        assert s.drops[("anomaly", "store_full")] == 1


def test_held_message_is_released_when_its_uploads_are_done(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db") as s:
        s.put("a", "anomaly", body(anomaly()), hold_until=100.0, now=1.0)
        s.put_upload(Upload("p/1.json", "a", "application/json", {}, b"{}"))
        s.put_upload(Upload("p/1.jpg", "a", "image/jpeg", {}, b"\xff"))
        assert s.pending("anomaly", now=2.0) == []
        s.upload_done("p/1.json", "a")
        assert s.pending("anomaly", now=2.0) == []
        s.upload_done("p/1.jpg", "a")
        assert len(s.pending("anomaly", now=2.0)) == 1


def test_failed_upload_is_retried_later(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db") as s:
        s.put_upload(Upload("p/1.json", "a", "application/json", {}, b"{}"))
        s.upload_failed("p/1.json", next_try=50.0, error="refused")
        assert s.due_uploads(10.0) == []
        [u] = s.due_uploads(60.0)
        assert u.attempts == 1


@pytest.mark.parametrize("n", [pytest.param(1, id="one"), pytest.param(50, id="fifty")])
def test_depth_reports_messages_bytes_and_age(tmp_path: Path, n: int) -> None:
    with Store(tmp_path / "q.db") as s:
        for i in range(n):
            s.put(f"s{i}", "summary", body(summary(minute=i % 50)), now=10.0 + i)
        d = s.depth(now=100.0)
        assert d["summary"]["messages"] == n
        assert d["summary"]["oldestAgeS"] == pytest.approx(90.0)
        assert d["anomaly"]["messages"] == 0
