"""Routing logic: priority order, batching, compression, the budget, thinning and blob evidence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from ur_factories import anomaly, envelope, summary

from upstream_router.batching import decode
from upstream_router.budget import Budget
from upstream_router.frames import Frame, FrameBuffer
from upstream_router.link import Link
from upstream_router.router import Policy, Router
from upstream_router.store import Store

SRC = {"module": "upstream_router", "version": "0"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "q.db") as s:
        yield s


def router(store: Store, *, bph: float | None = None, **policy: object) -> Router:
    return Router(store, Budget(bph), Policy(**policy), source=SRC, blob_url=lambda p: f"http://blob/c/{p}")  # type: ignore[arg-type]


def drain(r: Router, now: float, *, flush: bool = True) -> list[tuple[str, list[dict[str, object]]]]:
    out = []
    while (enc := r.next_batch(now, flush=flush)) is not None:
        out.append((enc.cls, decode(enc.payload, enc.content_encoding)))
        r.sent(enc, now)
    return out


def test_drains_in_priority_order(store: Store) -> None:
    r = router(store, upload_blobs=False)
    r.accept("summaries", summary(), 1)
    r.accept("drift", envelope("drift", {"drifted": ["Flow"]}), 1)
    r.accept("anomalies", anomaly(), 1)
    r.accept("audit", envelope("audit", {"result": "applied"}), 1)
    r.accept("anomalies", anomaly(severity="critical"), 1)
    assert [c for c, _ in drain(r, 2)] == ["safety", "audit", "anomaly", "drift", "summary"]


def test_batches_keep_event_ids_and_gzip(store: Store) -> None:
    r = router(store)
    envs = [summary(minute=i) for i in range(20)]
    for e in envs:
        r.accept("summaries", e, 1)
    enc = r.next_batch(2, flush=True)
    assert enc is not None and enc.content_encoding == "gzip"
    events = decode(enc.payload, "gzip")
    assert [e["id"] for e in events] == [e["id"] for e in envs]
    assert len(enc.payload) < sum(len(json.dumps(e)) for e in envs) / 4


def test_batch_id_is_stable_across_resends(store: Store) -> None:
    r = router(store)
    for i in range(3):
        r.accept("summaries", summary(minute=i), 1)
    a = r.next_batch(2, flush=True)
    b = r.next_batch(3, flush=True)
    assert a is not None and b is not None and a.message_id == b.message_id


def test_uncompressed_json_is_an_option(store: Store) -> None:
    r = router(store, compress=False)
    r.accept("summaries", summary(), 1)
    enc = r.next_batch(2, flush=True)
    assert enc is not None and enc.content_encoding == "utf-8"
    assert json.loads(enc.payload)["kind"] == "summary"


def test_one_event_too_large_as_json_text_goes_gzip(store: Store) -> None:
    r = router(store, compress=False, max_message_bytes=3000)
    wide = summary()
    wide["data"]["fields"] = {
        f"Sensor{i:04d}": {"min": 0.0, "max": 1.0, "mean": 0.5, "count": 10} for i in range(400)
    }
    r.accept("summaries", wide, 1)
    enc = r.next_batch(2, flush=True)
    assert enc is not None and enc.content_encoding == "gzip" and len(enc.payload) <= 3000
    assert [e["kind"] for e in decode(enc.payload, enc.content_encoding)] == ["summary"]


def test_low_classes_wait_for_their_batch_interval(store: Store) -> None:
    r = router(store, batch_interval_s={"summary": 60.0})
    r.accept("summaries", summary(), 100)
    assert r.next_batch(130) is None
    assert r.next_batch(161) is not None


def test_large_batches_are_split_under_the_message_limit(store: Store) -> None:
    r = router(store, compress=False, max_message_bytes=3000)
    for i in range(30):
        r.accept("summaries", summary(minute=i % 50), 1)
    sent = drain(r, 2)
    assert sum(len(evs) for _, evs in sent) == 30 and len(sent) > 1


def test_over_budget_summaries_wait_and_thin_but_anomalies_go(store: Store) -> None:
    r = router(store, bph=36_000, upload_blobs=False)  # 10 bytes/s, 600-byte bucket
    for i in range(10):
        r.accept("summaries", summary(minute=i, value=float(i)), 1)
    r.accept("anomalies", anomaly(), 1)
    sent = drain(r, 2)
    assert [c for c, _ in sent] == ["anomaly"]
    assert store.drops[("summary", "thinned")] == 9
    [merged] = store.pending("summary", now=3)
    data = merged.envelope()["data"]
    assert (
        data["merged"] == 10
        and data["fields"]["Flow"]["max"] == 9.0
        and data["fields"]["Flow"]["count"] == 100
    )
    assert [c for c, _ in drain(r, 3600)] == ["summary"]


def test_anomaly_window_goes_to_a_blob_and_the_event_carries_its_url(store: Store) -> None:
    r = router(store, blob_wait_s=10)
    env = anomaly()
    acc = r.accept("anomalies", env, 1)
    assert acc.uploads == 1
    assert r.next_batch(2) is None  # held for its upload
    [up] = store.due_uploads(2)
    assert up.path.startswith("pump/2027-01-15/pca-3/") and up.metadata["label"] == "unlabelled"
    assert json.loads(up.data)["window"]["fields"]["Vibration"] == [7.5]
    store.upload_done(up.path, up.msg_id)
    [(_, [event])] = drain(r, 3)
    assert event["id"] == env["id"]
    assert event["data"]["blobUrl"] == f"http://blob/c/{up.path}" and event["data"]["window"] is None


def test_held_anomaly_goes_anyway_after_the_wait(store: Store) -> None:
    r = router(store, blob_wait_s=10)
    r.accept("anomalies", anomaly(), 1)
    assert r.next_batch(5) is None
    assert r.next_batch(12) is not None


def test_vision_anomaly_uploads_the_frame(store: Store) -> None:
    frames = FrameBuffer(per_camera=3)
    for seq in range(5):
        frames.add(Frame("cam1", seq, None, bytes([seq])))
    r = Router(store, Budget(None), Policy(), source=SRC, blob_url=lambda p: p, frames=frames)
    r.accept("anomalies", anomaly(window=False, evidence={"cameraId": "cam1", "seq": 3}), 1)
    [up] = store.due_uploads(2)
    assert up.content_type == "image/jpeg" and up.data == bytes([3])


def test_frames_with_people_are_not_uploaded(store: Store) -> None:
    frames = FrameBuffer()
    frames.add(Frame("cam1", 1, None, b"\xff"))
    r = Router(store, Budget(None), Policy(), source=SRC, blob_url=lambda p: p, frames=frames)
    r.accept(
        "anomalies", anomaly(window=False, evidence={"cameraId": "cam1", "seq": 1, "frameAllowed": False}), 1
    )
    assert store.due_uploads(2) == []


def test_budget_never_holds_high_classes_and_refills() -> None:
    b = Budget(3600.0, burst_s=10)  # 1 byte/s, 10-byte bucket
    assert b.allows("summary", 10, 0)
    b.spend(100, 0)
    assert b.allows("anomaly", 1000, 0) and not b.allows("summary", 5, 50)
    assert b.allows("summary", 5, 200)


def test_link_backs_off_and_recovers() -> None:
    link = Link(min_backoff_s=1, max_backoff_s=4)
    link.failed(0, "timeout")
    assert not link.up and not link.can_try(0.1)
    for _ in range(5):
        link.failed(0, "timeout")
    assert link.next_try <= 5.0
    link.succeeded()
    assert link.up and link.can_try(0) and link.outages == 1
