"""The router through the local hub with the real SDK and real Azurite: evidence, outages, crashes, budget."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from ur_factories import anomaly, envelope, summary
from ur_process import ModuleProcess

from edgeloop_dev.azurite import Azurite
from edgeloop_dev.hub.errors import MethodError as HubMethodError
from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.hub.upstream_decode import message_body

ROUTER = "upstream_router"
INPUTS = ("anomalies", "summaries", "audit", "drift", "deadletter")


def manifest(router_desired: dict[str, Any] | None = None) -> dict[str, Any]:
    routes = {
        f"to_{i}": f'FROM /messages/modules/src/outputs/{i} INTO BrokeredEndpoint("/modules/{ROUTER}/inputs/{i}")'
        for i in INPUTS
    }
    routes["up"] = f"FROM /messages/modules/{ROUTER}/outputs/upstream INTO $upstream"
    return make_manifest(routes, {"src": {}, ROUTER: router_desired or {}})


def upstream_events(hub: HubProcess) -> list[dict[str, Any]]:
    """Every event the router delivered, unpacked from batches, in arrival order, with its class."""
    out = []
    for rec in hub.upstream():
        ev = rec["event"]
        if ev["module"] != ROUTER:
            continue
        system = ev["properties"]["system"]
        payload = message_body(rec, hub.state_dir)
        cls = ev["properties"]["application"]["class"]
        events = payload["data"]["events"] if payload.get("kind") == "batch" else [payload]
        out.extend({**e, "_class": cls, "_mid": system.get("message_id")} for e in events)
    return out


def queue_status(hub: HubProcess) -> dict[str, Any]:
    """The router's getQueueStatus answer, or {} while it is not connected yet."""
    try:
        answer = hub.invoke(ROUTER, "getQueueStatus")
    except HubMethodError:
        return {}
    return answer["payload"] if answer["status"] == 200 else {}


def depth(hub: HubProcess, cls: str) -> float:
    status = queue_status(hub)
    return status["queues"][cls]["messages"] if status else -1


def ids(events: list[dict[str, Any]]) -> set[str]:
    return {e["id"] for e in events}


@pytest.fixture
def router_env(tmp_path: Path) -> dict[str, str]:
    return {
        "STORE_PATH": str(tmp_path / "router" / "queue.db"),
        "BATCH_INTERVAL_SECONDS": json.dumps({"drift": 0.2, "summary": 0.5}),
        "BLOB_WAIT_SECONDS": "5",
    }


def send_all(src: SdkModule, items: list[tuple[str, dict[str, Any]]]) -> None:
    for output, env in items:
        src.send_json(output, env, message_id=env["id"])


def test_anomalies_reach_upstream_with_blob_urls_and_the_blob_holds_the_window(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    module_process: Callable[..., ModuleProcess],
    router_env: dict[str, str],
    azurite: Azurite,
) -> None:
    hub = hub_factory(manifest())
    container = f"ds-{uuid.uuid4().hex[:8]}"
    module_process(
        ROUTER,
        {
            **hub.env(ROUTER),
            **router_env,
            "BLOB_CONNECTION_STRING": azurite.connection_string,
            "BLOB_CONTAINER": container,
        },
    )
    src = sdk_module(hub.env("src"), inputs=False)
    sent = [anomaly(), anomaly(severity="critical"), anomaly(window=False)]
    send_all(src, [("anomalies", e) for e in sent] + [("summaries", summary())])
    events = wait_for(lambda: (evs := upstream_events(hub)) and len(ids(evs)) >= 4 and evs, timeout=30)
    by_id = {e["id"]: e for e in events}
    assert by_id[sent[1]["id"]]["_class"] == "safety" and by_id[sent[0]["id"]]["_class"] == "anomaly"
    svc = BlobServiceClient.from_connection_string(azurite.connection_string)
    for env in sent[:2]:
        data = by_id[env["id"]]["data"]
        assert data["window"] is None
        url = data["blobUrl"]
        assert url.startswith(
            f"http://127.0.0.1:{azurite.port}/devstoreaccount1/{container}/pump/2027-01-15/pca-3/"
        )
        path = url.split(f"/{container}/", 1)[1]
        blob = svc.get_blob_client(container, path)
        doc = json.loads(blob.download_blob().readall())
        assert doc["window"] == env["data"]["window"] and doc["label"] is None
        assert blob.get_blob_properties().metadata["label"] == "unlabelled"
    assert "blobUrl" not in by_id[sent[2]["id"]]["data"]


def test_link_down_then_back_nothing_lost_drained_in_priority_order(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    module_process: Callable[..., ModuleProcess],
    router_env: dict[str, str],
) -> None:
    hub = hub_factory(manifest({"linkUp": False}))
    module_process(ROUTER, {**hub.env(ROUTER), **router_env})
    src = sdk_module(hub.env("src"), inputs=False)
    items: list[tuple[str, dict[str, Any]]] = []
    for i in range(10):
        items += [
            ("summaries", summary(minute=i)),
            ("drift", envelope("drift", {"drifted": ["Flow"], "i": i})),
            ("anomalies", anomaly(window=False)),
            ("audit", envelope("audit", {"result": "applied", "i": i})),
        ]
    send_all(src, items)
    wait_for(lambda: depth(hub, "summary") == 10, timeout=20)
    assert queue_status(hub)["link"]["up"] is False
    assert upstream_events(hub) == []
    flush = hub.invoke(ROUTER, "flush")
    assert flush["status"] == 503
    hub.push_desired(ROUTER, {"linkUp": True})
    events = wait_for(lambda: (evs := upstream_events(hub)) and len(ids(evs)) >= 40 and evs, timeout=30)
    assert ids(events) == {env["id"] for _, env in items}
    order = [e["_class"] for e in events]
    first = {c: order.index(c) for c in ("audit", "anomaly", "drift", "summary")}
    last = {c: len(order) - 1 - order[::-1].index(c) for c in first}
    assert (
        last["audit"] < first["anomaly"]
        and last["anomaly"] < first["drift"]
        and last["drift"] < first["summary"]
    )


def test_killed_mid_drain_and_restarted_nothing_lost_duplicates_keep_their_id(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    module_process: Callable[..., ModuleProcess],
    router_env: dict[str, str],
) -> None:
    hub = hub_factory(manifest({"linkUp": False, "maxBatchMessages": 5, "compress": False}))
    env = {**hub.env(ROUTER), **router_env}
    proc = module_process(ROUTER, env)
    src = sdk_module(hub.env("src"), inputs=False)
    sent = [anomaly(window=False) for _ in range(300)]
    send_all(src, [("anomalies", e) for e in sent])
    wait_for(lambda: depth(hub, "anomaly") == 300, timeout=30)
    hub.push_desired(ROUTER, {"linkUp": True})
    wait_for(lambda: len(upstream_events(hub)) >= 20, timeout=20, interval=0.01)
    proc.kill9()
    delivered_before = len(ids(upstream_events(hub)))
    assert delivered_before < 300, "the kill came too late to be mid-drain"
    module_process(ROUTER, env)
    events = wait_for(lambda: (evs := upstream_events(hub)) and len(ids(evs)) >= 300 and evs, timeout=30)
    assert ids(events) == {e["id"] for e in sent}
    mids: dict[str, set[str]] = {}
    for e in events:
        mids.setdefault(e["id"], set()).add(e["_mid"])
    dup = {k: (m, [e["_mid"] for e in events if e["id"] == k]) for k, m in mids.items() if len(m) > 1}
    assert not dup, f"a re-sent event must keep its message id: {list(dup.items())[:3]}"


def test_killed_mid_intake_burst_and_restarted_nothing_lost(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    module_process: Callable[..., ModuleProcess],
    router_env: dict[str, str],
) -> None:
    hub = hub_factory(manifest())
    env = {**hub.env(ROUTER), **router_env}
    proc = module_process(ROUTER, env)
    src = sdk_module(hub.env("src"), inputs=False)
    wait_for(lambda: queue_status(hub), timeout=20)
    sent = [anomaly(window=False) for _ in range(200)]
    send_all(src, [("anomalies", e) for e in sent[:100]])
    proc.kill9()
    send_all(src, [("anomalies", e) for e in sent[100:]])
    module_process(ROUTER, env)
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: len(ids(upstream_events(hub))) >= 200, timeout=30)
    missing = {e["id"] for e in sent} - ids(upstream_events(hub))
    lost = sorted(i for i, e in enumerate(sent) if e["id"] in missing)
    assert not lost, f"{len(lost)} lost: {lost[:20]}"


def test_store_full_policy_applies_and_drops_are_counted(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    module_process: Callable[..., ModuleProcess],
    router_env: dict[str, str],
) -> None:
    hub = hub_factory(manifest({"linkUp": False, "storeMaxMessages": 20}))
    module_process(ROUTER, {**hub.env(ROUTER), **router_env})
    src = sdk_module(hub.env("src"), inputs=False)
    sums = [summary(minute=i % 50) for i in range(15)]
    anomalies = [anomaly(window=False) for _ in range(10)]
    send_all(src, [("summaries", e) for e in sums] + [("anomalies", e) for e in anomalies])
    wait_for(lambda: depth(hub, "anomaly") == 10, timeout=20)
    status = queue_status(hub)
    assert status["queues"]["summary"]["messages"] == 10
    assert status["drops"] == {"summary/store_full": 5}
    hub.push_desired(ROUTER, {"linkUp": True})
    events = wait_for(lambda: (evs := upstream_events(hub)) and len(ids(evs)) >= 20 and evs, timeout=20)
    assert {e["id"] for e in anomalies} <= ids(events)
    assert ids(events) & {e["id"] for e in sums} == {e["id"] for e in sums[5:]}


def test_over_budget_summaries_are_thinned_and_anomalies_go_on_time(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    module_process: Callable[..., ModuleProcess],
    router_env: dict[str, str],
) -> None:
    hub = hub_factory(manifest({"bandwidthBytesPerHour": 36000, "burstSeconds": 10}))  # 10 B/s, 100 B bucket
    module_process(ROUTER, {**hub.env(ROUTER), **router_env})
    src = sdk_module(hub.env("src"), inputs=False)
    first = summary(minute=59)
    send_all(src, [("summaries", first)])  # spends the whole bucket
    wait_for(lambda: first["id"] in ids(upstream_events(hub)), timeout=20)
    sums = [summary(minute=i, value=float(i)) for i in range(12)]
    send_all(src, [("summaries", e) for e in sums])
    wait_for(lambda: queue_status(hub).get("drops", {}).get("summary/thinned"), timeout=20)
    urgent = anomaly(window=False)
    send_all(src, [("anomalies", urgent)])
    # on time = while the budget is spent: the anomaly is upstream and none of the held summaries is
    wait_for(lambda: urgent["id"] in ids(upstream_events(hub)), timeout=10)
    assert ids(upstream_events(hub)) & {e["id"] for e in sums} == set()
    hub.invoke(ROUTER, "setBandwidthBudget", {"bytesPerHour": None})
    events = wait_for(lambda: [e for e in upstream_events(hub) if e["_class"] == "summary"][1:], timeout=20)
    merged = events[0]["data"]
    assert merged["merged"] >= 3 and merged["fields"]["Flow"]["count"] == 10 * merged["merged"]


def test_bad_input_goes_to_deadletter_and_nothing_dies(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    module_process: Callable[..., ModuleProcess],
    router_env: dict[str, str],
) -> None:
    hub = hub_factory(manifest())
    module_process(ROUTER, {**hub.env(ROUTER), **router_env})
    src = sdk_module(hub.env("src"), inputs=False)
    src.send("anomalies", b"\xff not json", content_type="application/json", content_encoding="utf-8")
    src.send_json("anomalies", {"no": "envelope"})
    wait_for(lambda: queue_status(hub), timeout=20)
    bad = hub.invoke(ROUTER, "setBandwidthBudget", {"bytesPerHour": -5})
    assert bad["status"] == 400
    good = anomaly(window=False)
    send_all(src, [("anomalies", good)])
    src.send(
        "deadletter",
        b"\x00\x01 raw",
        properties={
            "edgeloopError": "ContractError: bad",
            "edgeloopInput": "scores",
            "edgeloopOriginalMessageId": "m9",
        },
    )
    wait_for(lambda: good["id"] in ids(upstream_events(hub)), timeout=20)
    [dead] = wait_for(lambda: [e for e in upstream_events(hub) if e["kind"] == "deadletter"], timeout=20)
    assert dead["_class"] == "audit" and dead["data"]["error"] == "ContractError: bad"
    assert dead["data"]["originalMessageId"] == "m9" and dead["data"]["from"] == "src"


def test_blob_endpoint_hanging_event_goes_anyway_and_the_upload_is_retried(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    module_process: Callable[..., ModuleProcess],
    router_env: dict[str, str],
    azurite: Azurite,
) -> None:
    hub = hub_factory(manifest())
    container = f"ds-{uuid.uuid4().hex[:8]}"
    env = {
        **hub.env(ROUTER),
        **router_env,
        "BLOB_CONNECTION_STRING": azurite.connection_string,
        "BLOB_CONTAINER": container,
        "BLOB_TIMEOUT_SECONDS": "1",
        "BLOB_WAIT_SECONDS": "2",
        "BLOB_RETRY_MAX_SECONDS": "2",
    }
    module_process(ROUTER, env)
    src = sdk_module(hub.env("src"), inputs=False)
    wait_for(lambda: queue_status(hub), timeout=20)
    azurite.pause()
    try:
        env_a = anomaly()
        send_all(src, [("anomalies", env_a)])
        [event] = wait_for(lambda: [e for e in upstream_events(hub) if e["id"] == env_a["id"]], timeout=20)
        assert event["data"]["blobUrl"]
        assert queue_status(hub)["uploadsPending"] == 1
    finally:
        azurite.resume()
    wait_for(lambda: queue_status(hub)["uploadsPending"] == 0, timeout=30)
    path = event["data"]["blobUrl"].split(f"/{container}/", 1)[1]
    svc = BlobServiceClient.from_connection_string(azurite.connection_string)
    doc = json.loads(svc.get_blob_client(container, path).download_blob().readall())
    assert doc["window"] == env_a["data"]["window"]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 3 MB tmpfs (skipped, with the reason, where mounting is not permitted)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def held_back(hub: HubProcess) -> list[dict[str, Any]]:
    """Inputs the router holds unacknowledged (getStatus), or [] while it is not connected."""
    try:
        answer = hub.invoke(ROUTER, "getStatus")
    except HubMethodError:
        return []
    return list(answer["payload"].get("heldBack", [])) if answer["status"] == 200 else []


def test_disk_full_is_back_pressure_and_nothing_is_lost_once_space_is_freed(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    module_process: Callable[..., ModuleProcess],
    tmp_path: Path,
    small_disk: Path,
) -> None:
    hub = hub_factory(manifest({"linkUp": False}))
    env = {
        **hub.env(ROUTER),
        "STORE_PATH": str(small_disk / "queue.db"),
        "STORE_MAX_BYTES": str(2 * 1024 * 1024),  # the quota fits the disk; the filler does not
        "STATE_DIR": str(tmp_path / "s"),
    }
    module_process(ROUTER, env)
    src = sdk_module(hub.env("src"), inputs=False)
    wait_for(lambda: queue_status(hub), timeout=20)
    stat = os.statvfs(small_disk)
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 100 * 1024))  # 100 KB left
    sent = [anomaly(window=True) for _ in range(300)]
    for e in sent:
        e["data"]["window"]["fields"]["Vibration"] = [7.5 + i / 1000 for i in range(60)]
    send_all(src, [("anomalies", e) for e in sent])
    held = wait_for(lambda: held_back(hub), timeout=60)
    assert "full" in held[0]["reason"]
    status = queue_status(hub)
    assert status["queues"]["anomaly"]["messages"] < 300  # the disk really did fill
    filler.unlink()
    hub.push_desired(ROUTER, {"linkUp": True})
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: len(ids(upstream_events(hub)) & {e["id"] for e in sent}) >= 300, timeout=120)
    lost = {e["id"] for e in sent} - ids(upstream_events(hub))
    assert not lost, f"{len(lost)} of 300 anomalies lost"
    assert not [e for e in upstream_events(hub) if e["kind"] == "deadletter"]


def test_audit_drift_and_dead_letters_go_upstream_redacted(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    module_process: Callable[..., ModuleProcess],
    router_env: dict[str, str],
) -> None:
    policy = {"streams": {"drift": {"allow": ["model", "psi"]}}, "redactKeys": ["password", "operator"]}
    hub = hub_factory(manifest({"compliance": policy}))
    module_process(ROUTER, {**hub.env(ROUTER), **router_env})
    src = sdk_module(hub.env("src"), inputs=False)
    wait_for(lambda: queue_status(hub), timeout=20)
    audit = envelope("audit", {"requestId": "r1", "request": {"operator": "bob"}})
    drift = envelope("drift", {"model": "pca", "psi": 0.3, "rawSamples": [1, 2, 3]})
    send_all(src, [("audit", audit), ("drift", drift)])
    secret = json.dumps({"data": {"asset": "pump", "password": "hunter2"}}).encode()
    src.send(
        "deadletter",
        gzip.compress(secret),
        content_type="application/json",
        content_encoding="gzip",
        properties={"edgeloopError": "ContractError: bad", "edgeloopOriginalMessageId": "m7"},
    )
    events = wait_for(lambda: (evs := upstream_events(hub)) and len(evs) >= 3 and evs, timeout=30)
    text = json.dumps(events)
    assert "hunter2" not in text and "bob" not in text and "rawSamples" not in text
    [dead] = [e for e in events if e["kind"] == "deadletter"]
    assert dead["data"]["body"]["data"]["asset"] == "pump"


def test_a_compressed_oversize_anomaly_from_the_filter_reaches_upstream(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    module_process: Callable[..., ModuleProcess],
    router_env: dict[str, str],
) -> None:
    hub = hub_factory(manifest())
    module_process(ROUTER, {**hub.env(ROUTER), **router_env})
    src = sdk_module(hub.env("src"), inputs=False)
    wait_for(lambda: queue_status(hub), timeout=20)
    wide = anomaly(window=False, evidence={"rule": "vib", "fields": [f"Sensor{i:05d}" for i in range(30000)]})
    body = json.dumps(wide).encode()
    assert len(body) > 256 * 1024  # what anomaly_filter sends with oversize="compress"
    src.send(
        "anomalies",
        gzip.compress(body),
        message_id=wide["id"],
        content_type="application/json",
        content_encoding="gzip",
    )
    wait_for(lambda: wide["id"] in ids(upstream_events(hub)), timeout=30)
    assert not [e for e in upstream_events(hub) if e["kind"] == "deadletter"]
