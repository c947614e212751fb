"""Chaos on the write path: kill -9 opcua_writeback over and over during a stream of write requests.

A feeder stands in for anomaly_filter and sends write requests (every one a unique advisory text, some
sent again under an earlier id, as edgeHub does after a restart); the module is killed with SIGKILL at
random moments and, on some starts, by its test hook exactly before the write, between the write and
the recorded outcome, or between the outcome and the audit. The judge is the plant's own record of the
writes it received (`plant-writes.jsonl`), and the audits upstream:

- duplicate writes: a request's value written more than once;
- writes that should not have happened: a written value no request asked for, or whose request was
  audited refused, failed or dry-run;
- requests without exactly one audit: no audit upstream, or more than one audit id for it;
- applied but not written: an `applied` audit with no Good write of that value in the plant;
- interval violations: two Good writes on the feed setpoint (minIntervalS 2) closer than 2 s in the
  plant's own clock (the interval history survives kill -9, an indeterminate write included).

Every other new request is a feed setpoint (a unique value each), the rest unique advisory texts.

`python -m edgeloop_dev.chaos.writeback_kills --minutes 30` is the long form; the test
`tests/opcua_writeback/test_writeback_chaos.py` runs a short one.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from edgeloop_dev.hub.errors import MethodError
from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, pick_hub_host, wait_for
from edgeloop_dev.plant import PlantOptions, PlantProcess, free_port, read_audit
from edgeloop_dev.plant.testing import ModuleProcess

NODES = {"advisory": "AI.Advisory", "feed": "Crusher.FeedRateSetpoint"}
FEED_INTERVAL_S = 2.0
ROUTES = {
    "actions": "FROM /messages/modules/filter/outputs/actions"
    " INTO BrokeredEndpoint('/modules/opcua_writeback/inputs/requests')",
    "audit": "FROM /messages/modules/opcua_writeback/outputs/audit INTO $upstream",
}
TARGETS = {
    "advisory": {"nodeId": f"nsu=urn:edgeloop:plant;s={NODES['advisory']}", "type": "String"},
    "feed": {"nodeId": f"nsu=urn:edgeloop:plant;s={NODES['feed']}", "min": 200, "max": 1200,
             "minIntervalS": FEED_INTERVAL_S},
}  # fmt: skip
HOOK_POINTS = ("before-write", "after-write", "after-outcome")


@dataclass(frozen=True)
class StormOptions:
    """How long requests flow, how fast, how often the module dies."""

    state_dir: Path
    seconds: float = 60.0
    rate_hz: float = 4.0
    kill_every_s: float = 4.0  # mean time from a module being up to its SIGKILL (uniform 0.5x..1.5x)
    hook_share: float = 0.4  # share of starts that die by the test hook at a chosen point instead
    resend_every: int = 5  # every Nth request is an earlier request id sent again
    seed: int = 14
    drain_s: float = 180.0  # the most to wait at the end for every request's audit


@dataclass
class StormResult:
    """Counts; `failures()` lists the guarantees broken (none when all is well)."""

    requests: int = 0
    resent: int = 0
    kills: int = 0
    hook_kills: int = 0
    starts: int = 0
    plant_writes: int = 0
    duplicate_writes: int = 0
    unexpected_writes: int = 0
    without_one_audit: int = 0
    applied_not_written: int = 0
    interval_violations: int = 0
    results: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def failures(self) -> list[str]:
        """What went wrong, in words."""
        checks = {
            "duplicate writes": self.duplicate_writes,
            "writes that should not have happened": self.unexpected_writes,
            "requests without exactly one audit": self.without_one_audit,
            "applied audits without a write": self.applied_not_written,
            "writes closer than minIntervalS": self.interval_violations,
        }
        return [f"{name}: {n}" for name, n in checks.items() if n]


class _Storm:
    def __init__(self, opts: StormOptions) -> None:
        self.opts = opts
        self.rng = random.Random(opts.seed)
        self.result = StormResult()
        self.values: dict[str, tuple[str, Any]] = {}  # request id -> (target, value) it asks for
        self.module: ModuleProcess | None = None
        self.lock = threading.Lock()

    def run(self) -> StormResult:
        started = time.monotonic()
        opts = self.opts
        plant_opts = PlantOptions(state_dir=opts.state_dir / "plant", port=free_port(), scenario="steady")
        with PlantProcess(plant_opts) as plant:
            desired = {"endpoint": plant.endpoint, "targets": TARGETS, "retryBackoffS": 0.1}
            manifest = make_manifest(ROUTES, {"opcua_writeback": desired, "filter": {}})
            hub = HubProcess(opts.state_dir / "hub", manifest, pick_hub_host()).start()
            feeder: SdkModule | None = None
            try:
                feeder = SdkModule(hub.env("filter"), inputs=False, connection_retry_interval=1).connect()
                self._loop(hub, feeder)
                self._start(hub, hook=None)  # a clean module drains what is left
                wait_for(lambda: self._all_audited(hub), opts.drain_s)  # every request audited upstream
                self._judge(hub, plant_opts)
            finally:
                if self.module is not None:
                    self.module.stop()
                if feeder is not None:
                    feeder.shutdown()
                hub.stop()
        self.result.seconds = round(time.monotonic() - started, 1)
        return self.result

    def _loop(self, hub: HubProcess, feeder: SdkModule) -> None:
        stop = threading.Event()
        sender = threading.Thread(target=self._send_all, args=(feeder, stop), daemon=True)
        sender.start()
        end = time.monotonic() + self.opts.seconds
        while time.monotonic() < end:
            hook = self.rng.choice(HOOK_POINTS) if self.rng.random() < self.opts.hook_share else None
            module = self._start(hub, hook)
            deadline = time.monotonic() + self.opts.kill_every_s * self.rng.uniform(0.5, 1.5)
            while time.monotonic() < min(deadline, end) and module.proc.poll() is None:
                time.sleep(0.05)
            if module.proc.poll() is None:
                module.proc.send_signal(signal.SIGKILL)
                module.proc.wait(10)
                self.result.kills += 1
            elif module.proc.returncode == -signal.SIGKILL:
                self.result.hook_kills += 1
            self.module = None
        stop.set()
        sender.join(30)

    def _start(self, hub: HubProcess, hook: str | None) -> ModuleProcess:
        self.result.starts += 1
        d = self.opts.state_dir
        env = {**hub.env("opcua_writeback"), "METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1",
               "PKI_DIR": str(d / "pki"), "STATE_DIR": str(d / "writeback-state")}  # fmt: skip
        if hook is not None:
            env["EDGELOOP_TEST_CRASH_AT"] = hook
        self.module = module = ModuleProcess(
            "opcua_writeback", env, d / f"writeback-{self.result.starts}.log"
        )

        def up() -> bool:  # the new process answers a method (or has died by its hook already)
            if module.proc.poll() is not None:
                return True
            try:
                return bool(hub.invoke("opcua_writeback", "ping", timeout=5)["status"] == 200)
            except MethodError:
                return False

        wait_for(up, 60)
        return module

    def _send_all(self, feeder: SdkModule, stop: threading.Event) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            with self.lock:
                earlier = list(self.values)
            if earlier and i % self.opts.resend_every == 0:
                rid = self.rng.choice(earlier)
                self.result.resent += 1
            else:
                rid = f"storm-{self.opts.seed}-{i:06d}"
                ask = ("feed", 200 + (i % 1_000_000) / 1000) if i % 2 else ("advisory", f"advisory {rid}")
                with self.lock:
                    self.values[rid] = ask
                self.result.requests += 1
            target, value = self.values[rid]
            env = {"v": 1, "kind": "writeRequest", "id": rid, "ts": _now_iso(),
                   "source": {"module": "anomaly_filter", "version": "0.1.0"}, "correlationId": f"evt-{rid}",
                   "data": {"requestId": rid, "target": target, "value": value,
                            "reason": "chaos", "sourceTimestamp": _now_iso()}}  # fmt: skip
            feeder.send_json("actions", env, message_id=rid)
            stop.wait(1.0 / self.opts.rate_hz)

    def _audits(self, hub: HubProcess) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in hub.upstream():
            body = event["event"]["payload"]
            if isinstance(body, dict) and body.get("kind") == "audit":
                found[str(body["data"].get("requestId"))].append(body)
        return found

    def _all_audited(self, hub: HubProcess) -> bool:
        audits = self._audits(hub)
        return all(rid in audits for rid in self.values)

    def _judge(self, hub: HubProcess, plant: PlantOptions) -> None:
        r = self.result
        audits = self._audits(hub)
        outcome = {rid: a[0]["data"]["result"] for rid, a in audits.items() if rid in self.values}
        r.results = dict(Counter(outcome.values()))
        r.without_one_audit = sum(len({a["id"] for a in audits.get(rid, [])}) != 1 for rid in self.values)
        nodes = {node: target for target, node in NODES.items()}
        writes = [w for w in read_audit(plant.state_dir) if w["node"] in nodes and w["status"] == "Good"]
        r.plant_writes = len(writes)
        by_value = Counter((nodes[w["node"]], w["value"]) for w in writes)
        asked = {ask: rid for rid, ask in self.values.items()}
        r.duplicate_writes = sum(n - 1 for n in by_value.values() if n > 1)
        r.unexpected_writes = sum(
            n for ask, n in by_value.items()
            if ask not in asked or outcome.get(asked[ask]) in ("refused", "failed", "dry-run")
        )  # fmt: skip
        r.applied_not_written = sum(
            1 for rid, res in outcome.items() if res == "applied" and by_value[self.values[rid]] == 0
        )
        feed = [_epoch(w["ts"]) for w in writes if w["node"] == NODES["feed"]]
        slack = 0.01  # the plant's record has millisecond timestamps
        r.interval_violations = sum(b - a < FEED_INTERVAL_S - slack for a, b in itertools.pairwise(feed))


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"


def run_storm(opts: StormOptions) -> StormResult:
    """Run the storm and return its counts (raises TimeoutError when the audits never all arrive)."""
    return _Storm(opts).run()


def main(argv: list[str] | None = None) -> int:
    """`python -m edgeloop_dev.chaos.writeback_kills --minutes 30`: prints the result as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--rate", type=float, default=4.0, help="write requests per second")
    ap.add_argument("--kill-every", type=float, default=4.0, help="mean seconds between kills")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--state-dir", type=Path, default=Path("state/chaos-writeback"))
    args = ap.parse_args(argv)
    opts = StormOptions(args.state_dir / time.strftime("%Y%m%dT%H%M%S"), seconds=args.minutes * 60,
                        rate_hz=args.rate, kill_every_s=args.kill_every, seed=args.seed)  # fmt: skip
    result = run_storm(opts)
    doc = {**asdict(result), "failures": result.failures(), "stateDir": str(opts.state_dir)}
    sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    return 1 if result.failures() else 0


if __name__ == "__main__":
    raise SystemExit(main())
