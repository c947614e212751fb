#!/usr/bin/env python3
"""Benchmark: OPC UA value changes → opcua_ingest → edgeHub → `telemetry` consumer, with CPU per process.

Runs the plant (`load` scenario, N tags at 10 Hz), the local hub, opcua_ingest as a module process and a
real-SDK sink; counts values arriving at the sink and samples CPU with psutil.

    .venv/bin/python scripts/bench_opcua.py --tags 1000 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import queue
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, pick_hub_host, wait_for
from edgeloop_dev.plant import PlantOptions, PlantProcess, free_port
from edgeloop_dev.plant.testing import ModuleProcess, published_nodes

ROUTE = (
    "FROM /messages/modules/opcua_ingest/outputs/telemetry "
    "INTO BrokeredEndpoint('/modules/sink/inputs/telemetry')"
)


def metric(url: str, name: str) -> float:
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tags", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--publishing-ms", type=float, default=100.0)
    ap.add_argument("--sampling-ms", type=float, default=100.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-opcua-"))
    plant = PlantProcess(
        PlantOptions(state_dir=tmp / "plant", port=free_port(), scenario="load", tags=args.tags)
    )
    plant.start()
    hub = HubProcess(
        tmp / "hub", make_manifest({"t": ROUTE}, {"opcua_ingest": {}, "sink": {}}), pick_hub_host()
    )
    hub.start()
    sink = SdkModule(hub.env("sink")).connect()
    counts = {"values": 0, "messages": 0, "bytes": 0, "max_bytes": 0}
    stop = threading.Event()

    def consume() -> None:
        while not stop.is_set():
            try:
                msg = sink.next_input(timeout=0.5)
            except queue.Empty:
                continue
            body = json.loads(msg.data)
            counts["values"] += sum(len(d["Payload"]) for d in body["Messages"])
            counts["messages"] += 1
            counts["bytes"] += len(msg.data)
            counts["max_bytes"] = max(counts["max_bytes"], len(msg.data))

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    pn = tmp / "pn.json"
    doc = published_nodes(plant.endpoint, (), load_tags_count=args.tags, sampling_ms=args.sampling_ms,
                          publishing_ms=args.publishing_ms)  # fmt: skip
    pn.write_text(json.dumps(doc))
    mport = free_port()
    env = {**hub.env("opcua_ingest"), "PUBLISHED_NODES_FILE": str(pn), "METRICS_PORT": str(mport),
           "METRICS_HOST": "127.0.0.1", "PKI_DIR": str(tmp / "pki"), "LOG_LEVEL": "WARNING"}  # fmt: skip
    ingest = ModuleProcess("opcua_ingest", env, tmp / "ingest.log")
    murl = f"http://127.0.0.1:{mport}/metrics"
    try:
        wait_for(lambda: counts["values"] > 0, 30)
        time.sleep(args.warmup)
        procs = {
            "plant (asyncua server)": psutil.Process(plant.pid),
            "opcua_ingest": psutil.Process(ingest.proc.pid),
            "local hub": psutil.Process(hub.proc.pid) if hub.proc else None,
        }
        cpu0 = {k: p.cpu_times() for k, p in procs.items() if p}
        c0, t0 = dict(counts), time.monotonic()
        in0 = metric(murl, "edgeloop_opcua_ingest_values_received_total")
        time.sleep(args.seconds)
        dt = time.monotonic() - t0
        c1 = dict(counts)
        in1 = metric(murl, "edgeloop_opcua_ingest_values_received_total")
        dropped = metric(murl, "edgeloop_opcua_ingest_dropped_values_total")
        rss = psutil.Process(ingest.proc.pid).memory_info().rss / 2**20
        cpu = {}
        for k, p in procs.items():
            if p:
                a, b = cpu0[k], p.cpu_times()
                cpu[k] = (b.user + b.system - a.user - a.system) / dt * 100
    finally:
        stop.set()
        ingest.stop()
        sink.shutdown()
        hub.kill()
        plant.stop()
    ideal = args.tags * 1000.0 / 100.0
    print(
        f"\nopcua_ingest benchmark: {args.tags} tags at 10 Hz, sampling {args.sampling_ms:g} ms, publishing "
        f"{args.publishing_ms:g} ms, {dt:.1f} s measured after {args.warmup:g} s warm-up"
        f" ({psutil.cpu_count()} CPUs, load average {psutil.getloadavg()[0]:.1f})"
    )
    rows = [
        ("ideal tag changes/s (tags x 10 Hz)", f"{ideal:,.0f}"),
        ("values/s received by opcua_ingest", f"{(in1 - in0) / dt:,.0f}"),
        ("values/s delivered on telemetry (sink)", f"{(c1['values'] - c0['values']) / dt:,.0f}"),
        ("network messages/s", f"{(c1['messages'] - c0['messages']) / dt:,.1f}"),
        (
            "mean / max message size (bytes)",
            f"{(c1['bytes'] - c0['bytes']) / max(c1['messages'] - c0['messages'], 1):,.0f}"
            f" / {c1['max_bytes']:,}",
        ),
        ("dropped values (all reasons, whole run)", f"{dropped:,.0f}"),
        ("opcua_ingest RSS (MiB)", f"{rss:,.0f}"),
        *((f"CPU {k} (% of one core)", f"{v:,.0f}") for k, v in cpu.items()),
    ]
    width = max(len(r[0]) for r in rows)
    print("-" * (width + 16))
    for name, value in rows:
        print(f"{name:<{width}}  {value:>12}")
    print("-" * (width + 16))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
