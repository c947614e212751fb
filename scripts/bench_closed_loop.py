"""Closed-loop latency with every module running: OPC UA source timestamp of a faulty value -> write-back
applied in the plant, and -> the anomaly event in upstream.jsonl (p50/p95/p99), at 100 ms publishing.

    .venv/bin/python scripts/bench_closed_loop.py --seconds 300 [--host 127.0.0.26] [--hops]

Runs the demo pipeline (plant in the `dense` scenario: a short fault every 6-9 s) without the dashboard,
then matches every applied write-back's audit event to the plant's own write record. `--hops` also
routes telemetry, scores and actions to `$upstream` and reports every hop of each decision's path
(edgeloop_dev/demo/hops.py); the taps add hub work, so compare end-to-end figures between runs alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from edgeloop_dev.demo.hops import TAP_ROUTES, chains, hop_ms
from edgeloop_dev.demo.observe import JsonlTail, parse_ts, upstream_envelopes
from edgeloop_dev.demo.run import Demo, DemoOptions
from edgeloop_dev.demo.summary import percentile
from edgeloop_dev.hub.harness import pick_hub_host
from edgeloop_dev.plant import free_port


def audits(state_dir: Path) -> list[dict[str, Any]]:
    """Every audit event that reached upstream."""
    events = JsonlTail(state_dir / "upstream.jsonl").read()
    return [
        e["data"] for ev in events for e in upstream_envelopes(ev, state_dir)[0] if e.get("kind") == "audit"
    ]


def plant_latencies(state_dir: Path) -> list[float]:
    """Source timestamp -> the plant's own record of the write, for every applied write-back (ms)."""
    writes = JsonlTail(state_dir / "plant" / "plant-writes.jsonl").read()
    used: set[int] = set()
    out = []
    for audit in audits(state_dir):
        if audit.get("result") != "applied":
            continue
        source = parse_ts(audit.get("sourceTimestamp"))
        node = str(audit.get("nodeId", ""))
        if source is None:
            continue
        for i, write in enumerate(writes):
            when = parse_ts(write.get("ts"))
            if i in used or when is None or when < source or not node.endswith(str(write.get("node"))):
                continue
            if write.get("value") == audit.get("value"):
                used.add(i)
                out.append((when - source) * 1000)
                break
    return out


def row(name: str, values: list[float]) -> str:
    def fmt(q: float) -> str:
        v = percentile(values, q)
        return "-" if v is None else f"{v:7.1f}"

    return f"| {name} | {len(values)} | {fmt(50)} | {fmt(95)} | {fmt(99)} | {fmt(100)} |"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument(
        "--host", default=None, help="loopback address for the hub and plant (default: a free one)"
    )
    parser.add_argument("--hops", action="store_true", help="tap telemetry, scores, actions: time per hop")
    args = parser.parse_args()
    host = args.host or pick_hub_host()
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="edgeloop-bench-")) / "run"
    options = DemoOptions(
        state_dir=state_dir,
        duration_s=args.seconds,
        seed=args.seed,
        host=host,
        plant_port=free_port(host),
        tui=False,
        scenario="dense",
        routes=TAP_ROUTES if args.hops else {},
    )
    demo = Demo(options, Console(stderr=True))
    summary = asyncio.run(demo.run())
    s = demo.state
    print(
        f"\nclosed loop, {args.seconds:.0f} s, dense faults, every module running; "
        f"{platform.machine()}, {os.cpu_count()} cores"
    )
    print(
        f"faults injected {summary.faults_injected}, detected {summary.faults_detected}, write-backs applied "
        f"{summary.writebacks_applied}, refused {summary.writebacks_refused}\n"
    )
    print("| latency from OPC UA source timestamp (ms) | n | p50 | p95 | p99 | max |")
    print("|---|---|---|---|---|---|")
    print(row("-> write-back applied in the plant (plant's write record)", plant_latencies(state_dir)))
    print(row("-> write-back acknowledged (audit appliedAt)", s.writeback_latency_ms))
    print(row("-> anomaly event enqueued upstream", s.upstream_latency_ms))
    hops: dict[str, list[float]] = {}
    if args.hops:
        events = JsonlTail(state_dir / "upstream.jsonl").read()
        writes = JsonlTail(state_dir / "plant" / "plant-writes.jsonl").read()
        hops = hop_ms(chains(events, writes))
        print("\n| hop of an applied write-back's path (ms) | n | p50 | p95 | p99 | max |")
        print("|---|---|---|---|---|---|")
        for name, values in hops.items():
            print(row(name, values))
    (state_dir / "bench_closed_loop.json").write_text(
        json.dumps(
            {
                "summary": summary.to_dict(),
                "writeback_ms": s.writeback_latency_ms,
                "upstream_ms": s.upstream_latency_ms,
                "hops_ms": hops,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
