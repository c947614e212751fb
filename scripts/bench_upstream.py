#!/usr/bin/env python3
"""Bytes upstream for an hour of plant telemetry: filter + router logic vs OPC Publisher's Samples format.

One run, faster than real time: the plant model (seeded demo fault schedule) → PubSub telemetry →
inference's windows and the shipped ONNX model → anomaly_filter's engine → upstream_router's store,
scheduler and batching (JSON text, the router's default; gzip with --gzip). The same batches are also
measured in the other encoding, so both byte counts are reported. The same ticks are also counted as
OPC Publisher would send them in its legacy Samples format (one JSON message per value change) and as
raw PubSub network messages.

    .venv/bin/python scripts/bench_upstream.py --seconds 3600 [--seed 1] [--budget BYTES_PER_HOUR]
                                               [--gzip] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from anomaly_filter.engine import FilterEngine
from anomaly_filter.rules import parse_rules
from edgeloop_dev.replay import ModelScorer, demo_truth, plant_ticks, score_detections, shipped_rules
from upstream_router.batching import decode
from upstream_router.budget import Budget
from upstream_router.router import Policy, Router
from upstream_router.store import Store

AZURE_BLOB = "https://account.blob.core.windows.net/edgeloop-dataset/"


def run(seconds: float, seed: int, rate_hz: float, budget: float | None, compress: bool) -> dict[str, Any]:
    truth = demo_truth(seed, seconds)
    scorer = ModelScorer()
    engine = FilterEngine(parse_rules(shipped_rules()))
    samples_bytes = samples_msgs = pubsub_bytes = pubsub_msgs = 0
    sent_bytes: Counter[str] = Counter()
    sent_msgs: Counter[str] = Counter()
    delivered: list[dict[str, Any]] = []
    emitted_anomaly_ids: set[str] = set()
    blob_bytes = 0
    other_bytes = 0  # the same batches in the other encoding (gzip when sent as JSON, and back)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "q.db", sync="normal") as store:
        router = Router(
            store,
            Budget(budget),
            Policy(compress=compress),
            source={"module": "upstream_router", "version": "bench"},
            blob_url=lambda p: AZURE_BLOB + p,
        )

        def drain(now: float, flush: bool = False) -> None:
            nonlocal blob_bytes, other_bytes
            for up in store.due_uploads(now, limit=1000):  # the Blob endpoint is up in this run
                blob_bytes += len(up.data)
                store.upload_done(up.path, up.msg_id)
            while (enc := router.next_batch(now, flush=flush)) is not None:
                router.sent(enc, now)
                sent_bytes[enc.cls] += len(enc.payload)
                sent_msgs[enc.cls] += 1
                if enc.content_encoding == "gzip":
                    other_bytes += len(gzip.decompress(enc.payload))
                else:
                    other_bytes += len(gzip.compress(enc.payload, compresslevel=6, mtime=0))
                delivered.extend(decode(enc.payload, enc.content_encoding))

        now = 0.0
        for i, tick in enumerate(plant_ticks(truth.schedule, seconds, rate_hz)):
            now = tick.ts
            samples_bytes += tick.samples_bytes
            samples_msgs += tick.samples_messages
            pubsub_bytes += len(json.dumps(tick.message, separators=(",", ":")))
            pubsub_msgs += 1
            emits = engine.on_telemetry(tick.message)
            for env in scorer.feed(tick.message):
                emits += engine.on_score(env)
            for e in emits:
                if e.output not in ("anomalies", "summaries"):
                    continue  # actions go to opcua_writeback on site, not upstream
                env = {
                    "v": 1,
                    "kind": e.kind,
                    "id": f"{e.output}-{i}-{len(emitted_anomaly_ids)}-{id(e)}",
                    "ts": "",
                    "source": {"module": "anomaly_filter", "version": "bench"},
                    "correlationId": e.correlation_id,
                    "data": e.data,
                }
                if e.output == "anomalies":
                    emitted_anomaly_ids.add(env["id"])
                router.accept(e.output, env, now)
            drain(now)
        for e in engine.flush_summaries(None):
            router.accept(
                "summaries", {"v": 1, "kind": "summary", "id": f"final-{id(e)}", "data": e.data}, now
            )
        drain(now + 3600, flush=True)
    elapsed = time.perf_counter() - started
    delivered_anomalies = [e for e in delivered if e.get("kind") == "anomaly"]
    report = score_detections([e["data"] for e in delivered_anomalies], truth.faults(seconds))
    upstream = sum(sent_bytes.values())
    as_json, as_gzip = (other_bytes, upstream) if compress else (upstream, other_bytes)
    per_hour = 3600.0 / seconds
    return {
        "seconds": seconds,
        "rateHz": rate_hz,
        "seed": seed,
        "runtimeS": round(elapsed, 1),
        "speedup": round(seconds / elapsed, 1),
        "samplesFormat": {"messages": samples_msgs, "bytes": samples_bytes},
        "pubsubRaw": {"messages": pubsub_msgs, "bytes": pubsub_bytes},
        "upstream": {
            "messages": sum(sent_msgs.values()),
            "bytes": upstream,
            "byClass": {c: {"messages": sent_msgs[c], "bytes": sent_bytes[c]} for c in sorted(sent_bytes)},
            "compress": compress,
            "bytesJson": other_bytes if compress else upstream,
            "bytesGzip": upstream if compress else other_bytes,
            "budgetBytesPerHour": budget,
        },
        "blobEvidenceBytes": blob_bytes,
        "ratioVsSamples": round(samples_bytes / upstream, 1) if upstream else None,
        "perHour": {  # both encodings of the same batches, against Samples for the same hour
            "samplesBytes": round(samples_bytes * per_hour),
            "jsonBytes": round(as_json * per_hour),
            "gzipBytes": round(as_gzip * per_hour),
            "ratioJsonVsSamples": round(samples_bytes / as_json, 1) if as_json else None,
            "ratioGzipVsSamples": round(samples_bytes / as_gzip, 1) if as_gzip else None,
        },
        "ratioVsSamplesWithBlobs": round(samples_bytes / (upstream + blob_bytes), 1) if upstream else None,
        "ratioVsPubsub": round(pubsub_bytes / upstream, 1) if upstream else None,
        "anomalyEventsEmitted": len(emitted_anomaly_ids),
        "anomalyEventsDelivered": len({e["id"] for e in delivered_anomalies} & emitted_anomaly_ids),
        "groundTruth": report,
        "drops": {f"{c}/{r}": n for (c, r), n in router.store.drops.items()},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3600.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate-hz", type=float, default=10.0)
    ap.add_argument("--budget", type=float, default=None, help="bytes per hour (default: none)")
    ap.add_argument(
        "--gzip", action="store_true", help="send gzip batches (default: JSON text, as the router)"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    r = run(args.seconds, args.seed, args.rate_hz, args.budget, args.gzip)
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    gt, up, sm, ps = r["groundTruth"], r["upstream"], r["samplesFormat"], r["pubsubRaw"]
    lines = [
        f"{r['seconds']:.0f} s of plant telemetry at {r['rateHz']:g} Hz, seed {r['seed']}: "
        f"ran in {r['runtimeS']} s ({r['speedup']}x real time)",
        f"  OPC Publisher Samples : {sm['messages']:>9} messages {sm['bytes']:>12} bytes",
        f"  raw PubSub (ingest)   : {ps['messages']:>9} messages {ps['bytes']:>12} bytes",
        f"  edgeloop upstream     : {up['messages']:>9} messages {up['bytes']:>12} bytes "
        f"(gzip={up['compress']})",
        f"      same batches as JSON text {up['bytesJson']} bytes, as gzip {up['bytesGzip']} bytes",
        *(
            f"      {c:<8} {v['messages']:>6} messages {v['bytes']:>10} bytes"
            for c, v in up["byClass"].items()
        ),
        f"  per hour: Samples {r['perHour']['samplesBytes']} bytes; plain JSON batches "
        f"{r['perHour']['jsonBytes']} bytes ({r['perHour']['ratioJsonVsSamples']}x fewer), gzip batches "
        f"{r['perHour']['gzipBytes']} bytes ({r['perHour']['ratioGzipVsSamples']}x fewer)",
        f"  evidence blobs        : {r['blobEvidenceBytes']:>32} bytes",
        f"  ratio vs Samples      : {r['ratioVsSamples']}x  (with blobs {r['ratioVsSamplesWithBlobs']}x); "
        f"vs raw PubSub {r['ratioVsPubsub']}x",
        f"  anomaly events delivered {r['anomalyEventsDelivered']}/{r['anomalyEventsEmitted']}",
        f"  ground truth: {gt['detected']}/{gt['faults']} faults detected (recall {gt['recall']:.2f}, "
        f"precision {gt['precision']:.2f}, delay p50 {gt['delayS']['p50']} s, max {gt['delayS']['max']} s)",
        f"      by kind {gt['byKind']}, missed {gt['missed']}",
        f"  data quality: {gt['dataQualityDetected']}/{gt['dataQualityFaults']} bad/uncertain-status faults "
        f"raised dataQuality; false alarms on bad data {gt['falseAlarmsOnBadData']}",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
