#!/usr/bin/env python3
"""Benchmark: OPC UA changes → opcua_ingest → edgeHub → `telemetry` consumer, beside bare asyncua clients.

One plant (`load` scenario, N tags at 10 Hz) serves three runs in turn, each measured for --seconds:
  1. a bare asyncua client with the stock `datachange_notification` handler (what most samples do),
  2. a bare asyncua client taking whole publish responses (edgeloop_opcua.BatchSubscription): the ceiling,
  3. opcua_ingest as a module process through the local hub to a real-SDK sink.
Prints one side-by-side table: plant ticks and changes/s, values/s in and out, messages/s, drops, CPU per
process, and the machine it ran on (other load on the machine is shown: it skews every figure).

    .venv/bin/python scripts/bench_opcua.py --tags 1000 --seconds 15
    .venv/bin/python scripts/bench_opcua.py --runs module --endpoints 5 --tags 500   # 25,000/s, 5 servers

With --endpoints N, N plants (each --tags tags at 10 Hz) serve the module run, one session each; the bare
clients still read the first plant only. Plant figures are then summed over the plants (ticks/s averaged).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, pick_hub_host, wait_for
from edgeloop_dev.plant import PlantOptions, PlantProcess, free_port
from edgeloop_dev.plant.stats import read_stats
from edgeloop_dev.plant.testing import ModuleProcess, published_nodes

ROUTE = (
    "FROM /messages/modules/opcua_ingest/outputs/telemetry "
    "INTO BrokeredEndpoint('/modules/sink/inputs/telemetry')"
)


@dataclass
class Run:
    """One column of the table."""

    name: str
    seconds: float = 0.0
    plant: dict[str, float] = field(default_factory=dict)
    received: float = 0.0
    delivered: float | None = None
    messages: float = 0.0
    dropped: float | None = None
    mean_bytes: float | None = None
    max_bytes: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)
    rss_mib: float | None = None
    queue_end: float | None = None


def metric(url: str, name: str) -> float:
    """Sum of a Prometheus metric's samples (all labels)."""
    text = urllib.request.urlopen(url, timeout=30).read().decode()  # a loaded machine answers late
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


class PlantWindow:
    """Plant counters and CPU between `__init__` and `close()`."""

    def __init__(self, plant: PlantProcess) -> None:
        self.plant = plant
        self.proc = psutil.Process(plant.pid)
        self.s0 = self.fresh()
        self.c0 = self.proc.cpu_times()

    def fresh(self) -> dict[str, Any]:
        """The plant's counters right after its next save (once a second), so windows line up."""
        before = read_stats(self.plant.options.state_dir) or {}
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            stats = read_stats(self.plant.options.state_dir)
            if stats is not None and stats.get("monotonic") != before.get("monotonic"):
                return stats
            time.sleep(0.005)
        raise RuntimeError("the plant did not save plant-stats.json (is its update loop stuck?)")

    def close(self, tags: int, s1: dict[str, Any] | None = None) -> dict[str, float]:
        """Ticks/s, load-tag changes/s, mean update pass (ms) and CPU (% of a core) in the window."""
        s1 = s1 or self.fresh()
        c1 = self.proc.cpu_times()
        dt = s1["monotonic"] - self.s0["monotonic"]
        ticks = s1["ticks"] - self.s0["ticks"]
        busy = s1["busy_s"] - self.s0["busy_s"]
        cpu = (c1.user + c1.system - self.c0.user - self.c0.system) / dt * 100
        return {"ticks": ticks / dt, "changes": ticks * tags / dt, "pass_ms": busy / max(ticks, 1) * 1000,
                "cpu": cpu}  # fmt: skip


def run_probe(plant: PlantProcess, mode: str, args: argparse.Namespace) -> Run:
    """A bare asyncua client (a subprocess) against the plant."""
    argv = [sys.executable, "-m", "edgeloop_dev.plant.probe", plant.endpoint, "--tags", str(args.tags),
            "--mode", mode, "--seconds", str(args.seconds), "--warmup", str(args.warmup),
            "--publishing-ms", str(args.publishing_ms), "--sampling-ms", str(args.sampling_ms),
            "--queue-size", str(args.queue_size)]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(args.warmup + 1.0)
    window = PlantWindow(plant)
    out, _ = proc.communicate(timeout=args.seconds + args.warmup + 60)
    plant_figures = window.close(args.tags)
    res = json.loads(out.strip().splitlines()[-1])
    label = {"handler": "asyncua, datachange_notification", "batch": "asyncua, whole publish responses"}[mode]
    run = Run(label, res["seconds"], plant_figures)
    run.received = res["values"] / res["seconds"]
    run.messages = res["publishes"] / res["seconds"] if mode == "batch" else 0.0
    run.cpu = {"client": res["cpu_s"] / res["seconds"] * 100}
    return run


class PlantsWindow:
    """PlantWindow over several plants: changes and CPU summed, ticks averaged."""

    def __init__(self, plants: list[PlantProcess]) -> None:
        self.windows = [PlantWindow(p) for p in plants]

    def fresh(self) -> list[dict[str, Any]]:
        """Every plant's counters after its next save."""
        return [w.fresh() for w in self.windows]

    def close(self, tags: int, s1: list[dict[str, Any]] | None = None) -> dict[str, float]:
        """The plants' figures in the window, combined."""
        each = [w.close(tags, s) for w, s in zip(self.windows, s1 or self.fresh(), strict=True)]
        n = len(each)
        total = {k: sum(e[k] for e in each) for k in ("ticks", "changes", "pass_ms", "cpu")}
        return {**total, "ticks": total["ticks"] / n, "pass_ms": total["pass_ms"] / n}


def run_module(plants: list[PlantProcess], tmp: Path, args: argparse.Namespace) -> Run:
    """opcua_ingest through the local hub into a real-SDK sink, one session per plant."""
    hub = HubProcess(
        tmp / "hub",
        make_manifest({"t": ROUTE}, {"opcua_ingest": {}, "sink": {}}),
        args.host or pick_hub_host(),
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
            # one "SourceTimestamp" per Payload field: counting bytes keeps the sink's share of the CPU small
            counts["values"] += msg.data.count(b'"SourceTimestamp"')
            counts["messages"] += 1
            counts["bytes"] += len(msg.data)
            counts["max_bytes"] = max(counts["max_bytes"], len(msg.data))

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    pn = tmp / "pn.json"
    doc = []
    for i, plant in enumerate(plants):
        entries = published_nodes(plant.endpoint, (), load_tags_count=args.tags, sampling_ms=args.sampling_ms,
                                  publishing_ms=args.publishing_ms, QueueSize=args.queue_size)  # fmt: skip
        for entry in entries:
            entry["DataSetWriterId"] = (
                f"{entry['DataSetWriterId']}{i}" if len(plants) > 1 else entry["DataSetWriterId"]
            )
            doc.append(entry)
    pn.write_text(json.dumps(doc))
    mhost = args.host or "127.0.0.1"
    mport = free_port(mhost)
    env = {**hub.env("opcua_ingest"), "PUBLISHED_NODES_FILE": str(pn), "METRICS_PORT": str(mport),
           "METRICS_HOST": mhost, "PKI_DIR": str(tmp / "pki"), "LOG_LEVEL": "WARNING",
           "SEND_MAX_IN_FLIGHT": str(args.in_flight)}  # fmt: skip
    ingest = ModuleProcess("opcua_ingest", env, tmp / "ingest.log")
    murl = f"http://{mhost}:{mport}/metrics"
    run = Run("opcua_ingest → hub → sink" + (f" ({len(plants)} endpoints)" if len(plants) > 1 else ""))
    try:
        wait_for(lambda: counts["values"] > 0, 30)
        time.sleep(args.warmup)
        procs = {"ingest": psutil.Process(ingest.proc.pid), "hub": psutil.Process(hub.proc.pid),  # type: ignore[union-attr]
                 "sink": psutil.Process()}  # the SDK sink runs in this process  # fmt: skip
        window = PlantsWindow(plants)
        cpu0 = {k: p.cpu_times() for k, p in procs.items()}
        c0, t0 = dict(counts), time.monotonic()
        in0 = metric(murl, "edgeloop_opcua_ingest_values_received_total")
        time.sleep(args.seconds - 0.5)
        s1 = window.fresh()  # then our counters at once: the same window as the plant's
        dt = time.monotonic() - t0
        c1 = dict(counts)
        in1 = metric(murl, "edgeloop_opcua_ingest_values_received_total")
        cpu = {k: p.cpu_times() for k, p in procs.items()}
        run.plant = window.close(args.tags, s1)
        run.dropped = metric(murl, "edgeloop_opcua_ingest_dropped_values_total")
        run.queue_end = metric(murl, "edgeloop_opcua_ingest_queue_length")
        run.rss_mib = procs["ingest"].memory_info().rss / 2**20
    finally:
        stop.set()
        ingest.stop()
        sink.shutdown()
        hub.kill()
    run.seconds = dt
    run.received = (in1 - in0) / dt
    run.delivered = (c1["values"] - c0["values"]) / dt
    n = c1["messages"] - c0["messages"]
    run.messages = n / dt
    run.mean_bytes = (c1["bytes"] - c0["bytes"]) / max(n, 1)
    run.max_bytes = c1["max_bytes"]
    for k in procs:
        a, b = cpu0[k], cpu[k]
        run.cpu[k] = (b.user + b.system - a.user - a.system) / dt * 100
    return run


def machine() -> str:
    """CPU model, cores, memory and the load average right now."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    la = os.getloadavg()
    return (
        f"{model}, {psutil.cpu_count()} logical CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
        f"load average {la[0]:.1f} / {la[1]:.1f} / {la[2]:.1f}; Python {platform.python_version()}, "
        f"asyncua {version('asyncua')}"
    )


def table(runs: list[Run], args: argparse.Namespace, before: str) -> None:
    """Print the side-by-side table."""

    def num(v: float | None, fmt: str = ",.0f") -> str:
        return "-" if v is None else format(v, fmt)

    rows: list[tuple[str, list[str]]] = [
        ("plant ticks/s (target 10)", [num(r.plant.get("ticks"), ".2f") for r in runs]),
        ("plant load-tag changes/s", [num(r.plant.get("changes")) for r in runs]),
        ("plant update pass, mean ms", [num(r.plant.get("pass_ms"), ".1f") for r in runs]),
        ("values/s received from OPC UA", [num(r.received) for r in runs]),
        ("values/s delivered on telemetry", [num(r.delivered) for r in runs]),
        (
            "received / plant changes",
            [f"{r.received / r.plant['changes']:.1%}" if r.plant.get("changes") else "-" for r in runs],
        ),
        (
            "messages/s (publishes | telemetry)",
            [num(r.messages, ",.1f") if r.messages else "-" for r in runs],
        ),
        (
            "mean / max message bytes",
            [f"{num(r.mean_bytes)} / {num(r.max_bytes)}" if r.mean_bytes else "-" for r in runs],
        ),
        ("dropped by the module (whole run)", [num(r.dropped) for r in runs]),
        ("module queue length at the end", [num(r.queue_end) for r in runs]),
        ("CPU plant (% of one core)", [num(r.plant.get("cpu")) for r in runs]),
        ("CPU client / opcua_ingest", [num(r.cpu.get("client", r.cpu.get("ingest"))) for r in runs]),
        (
            "CPU per value received (us)",
            [
                num(r.cpu.get("client", r.cpu.get("ingest", 0.0)) * 1e4 / r.received, ".1f")
                if r.received
                else "-"
                for r in runs
            ],
        ),
        ("CPU local hub", [num(r.cpu.get("hub")) for r in runs]),
        ("CPU SDK sink (the bench process)", [num(r.cpu.get("sink")) for r in runs]),
        ("opcua_ingest RSS (MiB)", [num(r.rss_mib) for r in runs]),
    ]
    print(
        f"\nOPC UA ingest benchmark: {args.endpoints} x {args.tags} tags at 10 Hz "
        f"(goal {args.endpoints * args.tags * 10:,} values/s), "
        f"sampling {args.sampling_ms:g} ms, publishing {args.publishing_ms:g} ms, "
        f"QueueSize {args.queue_size}, {args.in_flight} sends in flight, "
        f"{args.seconds:g} s measured per run after {args.warmup:g} s warm-up"
    )
    print(f"machine at start: {before}")
    print(f"machine at end:   {machine()}")
    width = max(len(r[0]) for r in rows)
    colw = [max(len(r.name), 12) for r in runs]
    print("-" * (width + sum(w + 3 for w in colw)))
    print(" " * width + "".join(f" | {r.name:>{w}}" for r, w in zip(runs, colw, strict=True)))
    print("-" * (width + sum(w + 3 for w in colw)))
    for name, cells in rows:
        print(f"{name:<{width}}" + "".join(f" | {c:>{w}}" for c, w in zip(cells, colw, strict=True)))
    print("-" * (width + sum(w + 3 for w in colw)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tags", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--publishing-ms", type=float, default=100.0)
    ap.add_argument("--sampling-ms", type=float, default=100.0)
    ap.add_argument("--queue-size", type=int, default=10,
                    help="monitored-item QueueSize (OPC Publisher's default 1 loses changes whenever a "
                         "publish round trip outlasts the publishing interval)")  # fmt: skip
    ap.add_argument("--in-flight", type=int, default=4, help="opcua_ingest SEND_MAX_IN_FLIGHT")
    ap.add_argument("--runs", default="handler,batch,module", help="which columns, comma-separated")
    ap.add_argument("--endpoints", type=int, default=1, help="plants (OPC UA servers) the module run reads")
    ap.add_argument("--host", default="", help="loopback address for the plants and the hub (default: "
                    "plants on 127.0.0.1, the hub on a free 127.x.y.z)")  # fmt: skip
    args = ap.parse_args()
    before = machine()
    tmp = Path(tempfile.mkdtemp(prefix="bench-opcua-"))
    host = args.host or "127.0.0.1"
    plants = [
        PlantProcess(
            PlantOptions(
                state_dir=tmp / f"plant{i}", host=host, port=free_port(host), scenario="load", tags=args.tags
            )
        )
        for i in range(max(args.endpoints, 1))
    ]
    runs: list[Run] = []
    try:
        for plant in plants:
            plant.start()
        for which in args.runs.split(","):
            if which == "module":
                runs.append(run_module(plants, tmp, args))
            else:
                runs.append(run_probe(plants[0], which, args))
    finally:
        for plant in plants:
            plant.stop()
    table(runs, args, before)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
