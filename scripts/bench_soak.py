"""Sustained load through the whole pipeline: 1,000 extra tags at 10 Hz plus one camera at 5 frames/s.

    .venv/bin/python scripts/bench_soak.py --minutes 10 [--host 127.0.0.26]

Samples CPU and memory of every process (plant, hub, each module) every 5 s, plots them to PNG, states
the memory growth per hour after warm-up (least squares over the run after the first `--warmup` s), and
reads every `*dropped*` counter of the hub and the modules at the end.

`--tracemalloc 300` makes the hub and every module append, every 300 s, the 15 allocation sites that grew
most since they started to `tracemalloc.txt` in their state folders (under the `state:` printed at the
end): slower, so for finding a leak, never for the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import psutil
from rich.console import Console

from edgeloop_dev.demo.run import Demo, DemoOptions
from edgeloop_dev.hub.harness import pick_hub_host
from edgeloop_dev.plant import free_port
from edgeloop_dev.supervisor import Supervisor

SAMPLE_EVERY_S = 5.0
MODULES = (
    "opcua_ingest",
    "camera_ingest",
    "inference",
    "anomaly_filter",
    "upstream_router",
    "opcua_writeback",
)


class Sampler:
    """CPU (% of one core) and RSS (MiB) per process name, over time; dropped counters from /metrics."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.t0 = time.monotonic()
        self.last = 0.0
        self.samples: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        self.procs: dict[int, psutil.Process] = {}
        self.dropped: dict[str, dict[str, float]] = {}
        self.ports: dict[str, int] = {}

    def _proc(self, pid: int) -> psutil.Process:
        if pid not in self.procs:
            self.procs[pid] = psutil.Process(pid)
            self.procs[pid].cpu_percent(None)
        return self.procs[pid]

    def tick(self, supervisor: Supervisor) -> None:
        now = time.monotonic()
        if now - self.last < SAMPLE_EVERY_S:
            return
        self.last = now
        snapshot = supervisor.status()
        pids = {s.name: s.pid for s in (snapshot.hub, *snapshot.modules) if s.pid}
        if self.demo.plant is not None and self.demo.plant.pid:
            pids["plant"] = self.demo.plant.pid
        for s in snapshot.modules:
            if s.metrics_port:
                self.ports[s.name] = s.metrics_port
        for name, pid in pids.items():
            try:
                proc = self._proc(pid)
                self.samples[name].append(
                    (now - self.t0, proc.cpu_percent(None), proc.memory_info().rss / 2**20)
                )
            except psutil.Error:
                continue
        self.read_dropped()

    def read_dropped(self) -> None:
        for name, port in self.ports.items():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
                    text = resp.read().decode()
            except OSError:
                continue
            counts: dict[str, float] = {}
            for line in text.splitlines():
                if not line.startswith("#") and "dropped" in line.split("{")[0]:
                    key, _, value = line.rpartition(" ")
                    counts[key] = float(value)
            self.dropped[name] = counts


def growth_mib_per_hour(points: list[tuple[float, float, float]], warmup_s: float) -> float | None:
    """Least-squares slope of RSS after warm-up, in MiB per hour."""
    data = [(t, rss) for t, _, rss in points if t >= warmup_s]
    if len(data) < 3:
        return None
    n = len(data)
    mean_t = sum(t for t, _ in data) / n
    mean_r = sum(r for _, r in data) / n
    var = sum((t - mean_t) ** 2 for t, _ in data)
    slope = sum((t - mean_t) * (r - mean_r) for t, r in data) / var if var else 0.0
    return slope * 3600


def module_env(fps: float, tracemalloc_s: float, arenas: int = 0) -> dict[str, dict[str, str]]:
    """Per-module environment overrides: the camera's rate, the heap-growth dump and glibc's arena cap
    when asked for (the hub and the plant take the last two from this process's environment)."""
    env: dict[str, dict[str, str]] = {"camera_ingest": {"FPS": str(fps), "LOOP": "true"}}
    if arenas > 0:
        os.environ["MALLOC_ARENA_MAX"] = str(arenas)
        for name in MODULES:
            env.setdefault(name, {})["MALLOC_ARENA_MAX"] = str(arenas)
    if tracemalloc_s > 0:
        os.environ["EDGELOOP_HUB_TRACEMALLOC"] = str(tracemalloc_s)
        for name in MODULES:
            env.setdefault(name, {})["EDGELOOP_TRACEMALLOC"] = str(tracemalloc_s)
    return env


def plot(sampler: Sampler, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (cpu, mem) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, constrained_layout=True)
    for name, points in sorted(sampler.samples.items()):
        ts = [p[0] / 60 for p in points]
        cpu.plot(ts, [p[1] for p in points], label=name)
        mem.plot(ts, [p[2] for p in points], label=name)
    cpu.set_ylabel("CPU, % of one core")
    mem.set_ylabel("RSS, MiB")
    mem.set_xlabel("minutes")
    cpu.legend(fontsize=8, ncol=4)
    cpu.set_title("1,000 tags at 10 Hz + 1 camera at 5 frames/s through every module")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--fps", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=120, help="seconds excluded from the memory slope")
    parser.add_argument("--out", type=Path, default=Path("soak.png"))
    parser.add_argument(
        "--tracemalloc",
        type=float,
        default=0,
        help="seconds: every module and the hub append their top heap growth to <state>/tracemalloc.txt "
        "(slower: to find a leak, not for the figures)",
    )
    parser.add_argument(
        "--malloc-arena-max",
        type=int,
        default=0,
        help="cap glibc's malloc arenas (MALLOC_ARENA_MAX) in the hub, the plant and every module "
        "(0: glibc's default, 8 per core)",
    )
    parser.add_argument(
        "--host", default=None, help="loopback address for the hub and plant (default: a free one)"
    )
    args = parser.parse_args()
    host = args.host or pick_hub_host()
    state_dir = Path(tempfile.mkdtemp(prefix="edgeloop-soak-")) / "run"
    options = DemoOptions(
        state_dir=state_dir,
        duration_s=args.minutes * 60,
        host=host,
        plant_port=free_port(host),
        tui=False,
        scenario="load",
        load_tags=args.tags,
        env=module_env(args.fps, args.tracemalloc, args.malloc_arena_max),
    )
    demo = Demo(options, Console(stderr=True))
    sampler = Sampler(demo)
    demo.on_tick = sampler.tick
    summary = asyncio.run(demo.run())
    plot(sampler, args.out)
    print(
        f"\nsoak: {args.minutes:.0f} min, {args.tags} tags at 10 Hz + camera at {args.fps:g} fps; "
        f"{platform.machine()}, {os.cpu_count()} cores; MALLOC_ARENA_MAX "
        f"{args.malloc_arena_max or 'unset'}; plot {args.out}"
    )
    half = max(args.warmup, args.minutes * 30)
    print(
        "\n| process | CPU mean % | CPU p95 % | RSS after warm-up MiB | RSS end MiB | growth MiB/h after "
        f"warm-up ({args.warmup:.0f} s) | growth MiB/h, second half |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, points in sorted(sampler.samples.items()):
        cpus = sorted(p[1] for p in points)
        warm = [p for p in points if p[0] >= args.warmup] or points
        slopes = [growth_mib_per_hour(points, since) for since in (args.warmup, half)]
        shown = " | ".join("-" if v is None else f"{v:+.1f}" for v in slopes)
        print(
            f"| {name} | {sum(cpus) / len(cpus):.0f} | {cpus[int(0.95 * (len(cpus) - 1))]:.0f} | "
            f"{warm[0][2]:.0f} | {points[-1][2]:.0f} | {shown} |"
        )
    drops = {m: {k: v for k, v in c.items() if v} for m, c in sampler.dropped.items()}
    print("\nnon-zero dropped counters:", json.dumps({m: c for m, c in drops.items() if c}) or "none")
    print(f"upstream: {summary.upstream_messages} messages, {summary.upstream_bytes} bytes")
    print(f"state: {state_dir}")
    (state_dir / "soak.json").write_text(json.dumps({"samples": sampler.samples, "dropped": sampler.dropped}))


if __name__ == "__main__":
    main()
