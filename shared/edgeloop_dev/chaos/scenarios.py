"""The chaos scenarios: each breaks one part of the running pipeline and says what else to verify."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeloop_dev.chaos.checker import bad_gap, drain_order
from edgeloop_dev.chaos.evidence import Evidence
from edgeloop_dev.chaos.pipeline import ChaosPipeline
from edgeloop_dev.chaos.truth import injected_faults
from edgeloop_dev.demo.observe import parse_ts
from edgeloop_dev.supervisor.supervisor import HUB

GAP_SYMBOLS = ("BadNoCommunication", "BadServerNotConnected")
TELEMETRY_BACK_S = 5.0
TELEMETRY_LATE = "telemetry resumed"


@dataclass(frozen=True)
class Profile:
    """How long each scenario breaks things: `short` for CI, `long` for scripts/chaos.py."""

    kill_modules: tuple[str, ...] = ("opcua_ingest", "anomaly_filter", "upstream_router", "opcua_writeback")
    kill_gap_s: float = 2.0
    random_kill_s: float = 0.0  # 0: no random-kill storm
    random_every_s: float = 5.0
    baseline_s: float = 0.0
    link_down_s: float = 20.0
    plant_down_s: float = 8.0
    blob_down_s: float = 12.0
    blob_hang_s: float = 12.0
    quota_fill_s: float = 60.0
    disk_full_s: float = 45.0  # how long disk_fill waits for an input to be held back
    settle_s: float = 45.0  # the longest a scenario waits for steady state and its faults' detection
    align_s: float = 25.0  # wait up to this long to start an outage just before a scheduled fault

    @classmethod
    def short(cls) -> Profile:
        """CI: a few modules, ~20 s outages."""
        return cls()

    @classmethod
    def long(cls, minutes: float) -> Profile:
        """Every module, a minute of random kills, outages of `minutes` each."""
        every = (
            "opcua_ingest",
            "camera_ingest",
            "inference",
            "anomaly_filter",
            "opcua_writeback",
            "upstream_router",
        )
        span = max(minutes, 0.5) * 60.0
        return cls(
            kill_modules=every,
            kill_gap_s=10.0,
            random_kill_s=60.0,
            random_every_s=5.0,
            baseline_s=60.0,
            link_down_s=span,
            plant_down_s=min(span, 60.0),
            blob_down_s=span / 2,
            blob_hang_s=span / 2,
            quota_fill_s=max(60.0, span),
            settle_s=120.0,
            align_s=50.0,
        )


@dataclass
class Injection:
    """What a scenario did: when its injection ended, what to verify once settled, and its figures."""

    end: float
    verify: Callable[[Evidence], list[str]] | None = None
    info: dict[str, Any] = field(default_factory=dict)


Scenario = Callable[[ChaosPipeline, Profile], Awaitable[Injection]]


async def align(p: ChaosPipeline, prof: Profile, lead_s: float = 3.0) -> float:
    """Sleep until `lead_s` before the next scheduled fault if it comes within `align_s`; returns the wait."""
    now = time.time()
    upcoming = [f.start - lead_s - now for f in injected_faults(p.options.seed, p.runs, 1e12)]
    wait = min((w for w in upcoming if w >= 0), default=None)
    if wait is None or wait > prof.align_s:
        return 0.0
    await asyncio.sleep(wait)
    return wait


async def baseline(p: ChaosPipeline, prof: Profile) -> Injection:
    """No fault injected: the pipeline's normal detection and flow, for reference."""
    await asyncio.sleep(prof.baseline_s)
    return Injection(time.time())


async def kill_each(p: ChaosPipeline, prof: Profile) -> Injection:
    """kill -9 each module in turn; the supervisor restarts it."""
    back: dict[str, float] = {}
    await align(p, prof)
    last = time.time()
    for name in prof.kill_modules:
        pid = p.pid(name)
        last = p.kill(name)
        again = await p.wait_running(name, 60.0, after_pid=pid)
        back[name] = round(again - last, 2)
        await asyncio.sleep(prof.kill_gap_s)
    return Injection(last, info={"restartS": back})


async def random_kills(p: ChaosPipeline, prof: Profile) -> Injection:
    """kill -9 a random running module every few seconds."""
    rng = random.Random(p.options.seed)
    killed: list[str] = []
    end = time.monotonic() + prof.random_kill_s
    last = time.time()
    while time.monotonic() < end:
        running = [m.name for m in p.sup.status().modules if m.pid and m.name in p.modules]
        if running:
            name = rng.choice(running)
            try:
                last = p.kill(name)
                killed.append(name)
            except Exception:  # it died between the status and the kill
                pass
        await asyncio.sleep(prof.random_every_s)
    return Injection(last, info={"killed": killed})


async def hub_restart(p: ChaosPipeline, prof: Profile) -> Injection:
    """kill -9 the local hub; the supervisor restarts it on the same on-disk store."""
    await align(p, prof, lead_s=-2.0)
    pid = p.pid(HUB)
    killed = p.kill(HUB)
    back = await p.wait_running(HUB, 60.0, after_pid=pid)
    return Injection(killed, info={"hubBackS": round(back - killed, 2)})


async def link_cut(p: ChaosPipeline, prof: Profile) -> Injection:
    """The upstream link is down (linkUp=false) for a while; afterwards the store drains by priority."""
    await align(p, prof)
    await p.router_desired({"linkUp": False})
    await asyncio.sleep(prof.link_down_s)
    backlog = (await p.router_status()).get("queues", {})
    up = time.time()
    await p.router_desired({"linkUp": True})
    waiting = {cls: int(q.get("messages", 0)) for cls, q in backlog.items() if q.get("messages")}

    def verify(ev: Evidence) -> list[str]:
        ok, order = drain_order(ev, up, up + 60.0)
        problems = [] if ok else [f"backlog not drained in priority order: {order}"]
        if not waiting:
            problems.append("nothing was stored during the outage (the scenario tested nothing)")
        return problems

    return Injection(up, verify, {"backlog": waiting})


async def plant_restart(p: ChaosPipeline, prof: Profile) -> Injection:
    """The OPC UA server restarts, then refuses connections for a while; telemetry resumes, gaps are Bad."""
    down1 = time.time()
    await p.plant_down(0.0)
    await asyncio.sleep(10.0)
    down2 = time.time()
    back = await p.plant_down(prof.plant_down_s)

    def verify(ev: Evidence) -> list[str]:
        problems = []
        gap = [b for b in bad_gap(ev, down2, back + TELEMETRY_BACK_S) if b.endswith(GAP_SYMBOLS)]
        if not gap:
            problems.append("no telemetry marked the outage Bad (BadNoCommunication/BadServerNotConnected)")
        good = [float(x["t"]) for x in ev.tap if x.get("in") == "telemetry" and not x.get("bad")]
        first = min((t for t in good if t > back), default=None)
        if first is None or first - back > TELEMETRY_BACK_S:
            after = "never" if first is None else f"after {first - back:.1f} s"
            problems.append(f"{TELEMETRY_LATE} {after} (expected within {TELEMETRY_BACK_S:g} s)")
        return problems

    return Injection(back, verify, {"restartAt": down1, "refusedS": prof.plant_down_s})


async def blob_outage(p: ChaosPipeline, prof: Profile) -> Injection:
    """Blob Storage refuses (Azurite stopped), then times out (Azurite frozen); uploads wait and land."""
    peak = 0

    async def watch(stop: asyncio.Event) -> None:
        nonlocal peak
        while not stop.is_set():
            status = await p.router_call("getQueueStatus", timeout=2.0)
            if isinstance(status, dict):
                peak = max(peak, int(status.get("uploadsPending", 0)))
            await asyncio.sleep(1.0)

    await align(p, prof)
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(stop))
    try:
        await p.blob_refuse(prof.blob_down_s)
        end = await p.blob_hang(prof.blob_hang_s)
    finally:
        stop.set()
        await watcher
    return Injection(end, None, {"uploadsPendingPeak": peak})


async def store_quota(p: ChaosPipeline, prof: Profile) -> Injection:
    """A small store quota while the link is down: the overflow policy drops the lowest classes first."""
    quota = int(max(12_000, 350 * prof.quota_fill_s))
    await align(p, prof)
    before = (await p.router_status()).get("drops", {})
    await p.router_desired({"linkUp": False, "storeMaxBytes": quota})
    end = time.monotonic() + prof.quota_fill_s
    dropped: dict[str, int] = {}
    while time.monotonic() < end:
        await asyncio.sleep(2.0)
        now = (await p.router_status(attempts=2)).get("drops", {})
        dropped = {
            k: int(v) - int(before.get(k, 0)) for k, v in now.items() if int(v) > int(before.get(k, 0))
        }
        if any(k.endswith("/store_full") for k in dropped) and prof.quota_fill_s <= 60:
            break
    await p.router_desired({"linkUp": True, "storeMaxBytes": p.original_store_max})
    up = time.time()

    def verify(ev: Evidence) -> list[str]:
        full = {k: v for k, v in dropped.items() if k.endswith("/store_full")}
        if not full:
            return [f"the store never filled its {quota} B quota"]
        return []

    return Injection(up, verify, {"quotaBytes": quota, "dropsByClass": dropped})


FILTER = "anomaly_filter"
# Valid on its own but refused as a rule set: clear above raise.
REFUSED_RULES = {"rules": [{"name": "refused-by-design", "raise": 0.5, "clear": 0.9}]}


async def _config(p: ChaosPipeline, module: str) -> dict[str, Any]:
    return dict((await p.twin(module)).get("reported", {}).get("config") or {})


async def _until(check: Callable[[], Awaitable[Any]], timeout_s: float, every_s: float = 0.5) -> Any:
    """Poll `check()` until it returns something truthy or `timeout_s` passes; its last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = await check()
        if answer or time.monotonic() >= deadline:
            return answer
        await asyncio.sleep(every_s)


async def refused_restart(p: ChaosPipeline, prof: Profile) -> Injection:
    """A refused rule set, then kill -9: the filter must restart on its last valid rules, not none."""
    desired = (await p.twin(FILTER)).get("desired", {})
    original = desired.get("rules", {}).get("rules", [])
    await p.module_desired(FILTER, {"rules": REFUSED_RULES})

    async def refused() -> bool:
        return (await _config(p, FILTER)).get("status") == "refused"

    async def restarted() -> dict[str, Any]:
        config = await _config(p, FILTER)
        return config if str(config.get("status", "")).startswith("refused-using") else {}

    await _until(refused, 30.0)
    pid = p.pid(FILTER)
    p.kill(FILTER)
    await p.wait_running(FILTER, 60.0, after_pid=pid)
    seen: dict[str, Any] = await _until(restarted, 30.0)
    status = await p.module_call(FILTER, "getStatus") or {}
    rules = list(status.get("rules") or [])
    await p.module_desired(FILTER, {"rules": {"rules": original}})
    back = time.time()

    def verify(ev: Evidence) -> list[str]:
        problems = []
        if seen.get("status") != "refused-using-last-valid":
            problems.append(f"restart after a refused patch reported {seen.get('status')!r}")
        if not rules:
            problems.append("the filter restarted with no rules in force")
        return problems

    return Injection(back, verify, {"configAfterRestart": seen.get("status"), "rulesInForce": len(rules)})


async def kill_mid_episode(p: ChaosPipeline, prof: Profile) -> Injection:
    """kill -9 the filter right after it opened an anomaly (before or just after it saved the episode).

    The open chosen is one with no stuck-sensor fault running or due within 30 s: that check reads the
    filter's raw-signal buffers, which live in memory, so a kill during a short one (16 s) can miss
    it, which is not what this scenario is about."""
    p.poll_tap()
    seen_before = len(p.opened)

    def quiet(t: float) -> bool:
        faults = injected_faults(p.options.seed, p.runs, 1e12)
        return not any(f.fault.kind == "stuck" and f.start - 30.0 <= t <= f.end + 2.0 for f in faults)

    async def new_open() -> dict[str, Any]:
        p.poll_tap()
        fresh = [o for o in p.opened[seen_before:] if quiet(float(o["t"]))]
        return fresh[0] if fresh and time.time() - float(fresh[0]["t"]) < 1.0 else {}

    opened: dict[str, Any] = await _until(new_open, 2 * prof.settle_s, every_s=0.05)
    killed = time.time()
    if opened:
        pid = p.pid(FILTER)
        p.kill(FILTER)
        await p.wait_running(FILTER, 60.0, after_pid=pid)

    def verify(ev: Evidence) -> list[str]:
        if not opened:
            return ["no anomaly opened during the scenario (it tested nothing)"]
        return reopened_episodes(ev, since=float(opened["t"]) - 60.0)

    return Injection(time.time(), verify, {"killedAfterOpen": opened.get("id"), "killedAt": killed})


def reopened_episodes(ev: Evidence, since: float = 0.0) -> list[str]:
    """Decisions made twice (upstream from `since` on): an event id sent twice under different
    envelope ids, or two episodes of one asset and kind overlapping in source time (a second one
    opened while the first never closed). Upstream order is not source order (an open may wait for
    its evidence upload), so episodes are compared by their own start and end."""
    problems: list[str] = []
    envelopes: dict[tuple[str, str, str], str] = {}
    spans: dict[tuple[str, str], dict[str, list[float]]] = {}
    seen_at: dict[str, float] = {}
    for e in ev.upstream:
        if e.kind != "anomaly":
            continue
        event, state = str(e.data.get("eventId")), str(e.data.get("state"))
        if envelopes.setdefault((event, state, str(e.data.get("severity"))), e.id) != e.id and e.t >= since:
            problems.append(f"event {event} {state} sent under two envelope ids")
        start, end = parse_ts(e.data.get("start")), parse_ts(e.data.get("end"))
        where = (str(e.data.get("asset")), str(e.data.get("anomalyKind")))
        span = spans.setdefault(where, {}).setdefault(event, [start or 0.0, math.inf])
        if state == "close" and end is not None:
            span[1] = end
        seen_at[event] = max(seen_at.get(event, 0.0), e.t)
    for (asset, kind), events in spans.items():
        ordered = sorted(events.items(), key=lambda kv: kv[1][0])
        for (first, (_s1, end1)), (second, (start2, _e2)) in itertools.pairwise(ordered):
            if start2 < end1 and seen_at[second] >= since:
                problems.append(f"{asset}/{kind}: {second} opened while {first} was open")
    return problems


async def disk_fill(p: ChaosPipeline, prof: Profile) -> Injection:
    """The router's disk fills up: inputs are held back with edgeHub (not dead-lettered), then all go."""
    disk = p.router_disk
    if disk is None:
        return Injection(time.time(), info={"skipped": p.router_disk_error})
    await align(p, prof)
    filler = disk / "chaos-filler"
    await asyncio.to_thread(_fill, filler)

    async def held() -> list[Any]:
        status = await p.router_call("getStatus")
        return list(status.get("heldBack") or []) if isinstance(status, dict) else []

    held_back = await _until(held, prof.disk_full_s, every_s=0.5)
    await asyncio.to_thread(filler.unlink)
    freed = time.time()

    def verify(ev: Evidence) -> list[str]:
        if not held_back:
            return [f"the router's disk filled but no input was held back within {prof.disk_full_s:g} s"]
        dead = [e.id for e in ev.upstream if e.kind == "deadletter" and freed - 60 <= e.t]
        return [f"{len(dead)} dead letters upstream while the disk was full"] if dead else []

    reasons = sorted({str(h.get("reason", ""))[:80] for h in held_back})
    return Injection(freed, verify, {"heldBack": len(held_back), "reasons": reasons})


def _fill(path: Path) -> None:
    """Write zeros until the disk says it is full (unbuffered: nothing is left to fail at close)."""
    with open(path, "wb", buffering=0) as out:
        for size in (256 * 1024, 4096, 512):
            try:
                while out.write(b"\0" * size):
                    pass
            except OSError:
                continue


SCENARIOS: dict[str, Scenario] = {
    "baseline": baseline,
    "kill_each": kill_each,
    "random_kills": random_kills,
    "hub_restart": hub_restart,
    "link_cut": link_cut,
    "plant_restart": plant_restart,
    "blob_outage": blob_outage,
    "store_quota": store_quota,
    "refused_restart": refused_restart,
    "kill_mid_episode": kill_mid_episode,
    "disk_fill": disk_fill,
}
