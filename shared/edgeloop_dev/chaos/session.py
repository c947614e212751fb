"""Run scenarios one after another on one pipeline, each checked once the pipeline has settled."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from edgeloop_dev.chaos.checker import DETECTION_SLACK_S, ScenarioResult, Window, check, fault_delivered
from edgeloop_dev.chaos.evidence import Evidence, load_evidence
from edgeloop_dev.chaos.pipeline import ChaosPipeline
from edgeloop_dev.chaos.scenarios import SCENARIOS, Profile
from edgeloop_dev.chaos.truth import injected_faults

RESULTS_FILE = "chaos-results.json"


def _delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, int]:
    return {k: int(v) - int(before.get(k, 0)) for k, v in after.items() if int(v) > int(before.get(k, 0))}


def missing_blobs(ev: Evidence, connection_string: str, t0: float, t1: float) -> list[str]:
    """Evidence blob URLs of anomalies sent upstream in [t0, t1] that are not in Blob Storage."""
    urls = [
        str(b.get("url"))
        for u in ev.upstream
        if u.kind == "anomaly" and t0 <= u.t <= t1
        for b in (u.data.get("evidence") or {}).get("blobs", [])
        if isinstance(b, dict)
    ]
    if not urls:
        return []
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string)
    names: set[str] = set()
    for container in service.list_containers():
        client = service.get_container_client(container.name)
        names.update(f"{container.name}/{blob.name}" for blob in client.list_blobs())
    return [url for url in urls if not any(url.endswith("/" + name) for name in names)]


class ChaosSession:
    """Scenarios on one running pipeline; `results` grows by one row per scenario."""

    def __init__(self, pipeline: ChaosPipeline, profile: Profile) -> None:
        self.p = pipeline
        self.profile = profile
        self.results: list[ScenarioResult] = []
        self.started = time.time()
        self._drops0: dict[str, Any] | None = None

    async def _drops(self) -> dict[str, Any]:
        drops: dict[str, Any] = (await self.p.router_status()).get("drops", {})
        return drops

    async def run(self, name: str) -> ScenarioResult:
        """Inject one scenario, wait for steady state (and its faults' detection), check it."""
        p, prof = self.p, self.profile
        if self._drops0 is None:
            self._drops0 = await self._drops()
        t0 = time.time()
        drops0 = await self._drops()
        inj = await SCENARIOS[name](p, prof)
        steady = await p.wait_steady(prof.settle_s, inj.end + 5.0)
        await self._await_faults(t0, inj.end, inj.end + prof.settle_s)
        status = await p.router_status()
        t1 = time.time()
        ev = load_evidence(p.dir)
        faults = injected_faults(p.options.seed, p.runs, t1)
        res = check(ev, Window(name, t0, inj.end, t1), faults, _delta(status.get("drops", {}), drops0))
        res.extra.update(inj.info)
        if steady.since is not None:
            res.steady_s = round(max(steady.since - inj.end, 0.0), 2)
            res.recovery_s = max(res.recovery_s or 0.0, res.steady_s)
        res.extra["uploadsPending"] = status.get("uploadsPending")
        self._verdict(res, steady.ok, steady.why, ev)
        if inj.verify is not None:
            res.failures += inj.verify(ev)
        if name == "blob_outage":
            status, drained = await self._await_uploads(status, inj.end, inj.end + prof.settle_s)
            res.extra["uploadsPending"] = status.get("uploadsPending")
            res.extra["uploadsDrainedS"] = drained
            if status.get("uploadsPending"):
                res.failures.append(f"{status.get('uploadsPending')} blob uploads still pending")
            if p.azurite is not None:
                gone = await asyncio.to_thread(missing_blobs, ev, p.azurite.connection_string, t0, t1)
                res.extra["missingBlobs"] = gone[:10]
                if gone:
                    res.lost += len(gone)
                    res.failures.append(f"{len(gone)} evidence blobs never landed: {gone[:3]}")
        self.results.append(res)
        self.save()
        return res

    async def _await_faults(self, t0: float, inject_end: float, deadline: float) -> None:
        """Wait until the faults that started during the injection were delivered or had their slack."""
        p = self.p
        while time.time() < deadline:
            pending = [
                f
                for f in injected_faults(p.options.seed, p.runs, 1e12)
                if t0 <= f.start <= inject_end and time.time() < f.end + DETECTION_SLACK_S
            ]
            if not pending:
                return
            ev = await asyncio.to_thread(load_evidence, p.dir)
            if all(fault_delivered(f, ev.upstream, ev) is None for f in pending):
                return
            await asyncio.sleep(1.0)

    async def _await_uploads(
        self, status: dict[str, Any], since: float, deadline: float
    ) -> tuple[dict[str, Any], float | None]:
        """Poll the router until no blob upload waits (or the deadline): the last status, and when it
        drained (seconds after `since`, None if it did not)."""
        while status.get("uploadsPending") and time.time() < deadline:
            await asyncio.sleep(1.0)
            status = await self.p.router_status() or status
        drained = None if status.get("uploadsPending") else round(time.time() - since, 1)
        return status, drained

    def _verdict(self, res: ScenarioResult, steady: bool, why: list[str], ev: Evidence) -> None:
        if not steady:
            res.failures.append("did not return to steady state: " + "; ".join(why))
        if res.undelivered:
            res.failures.append("faults not delivered: " + "; ".join(res.undelivered))
        if res.lost:
            res.failures.append(f"{res.lost} lost: " + "; ".join(res.lost_detail[:5]))
        if res.bad_duplicates:
            res.failures.append(f"{res.bad_duplicates} duplicates under a new message id")

    async def total(self) -> ScenarioResult:
        """The whole session as one window, once every fault had time to be detected."""
        p = self.p
        steady = await p.wait_steady(self.profile.settle_s + 30.0)
        last_fault_end = max(
            (f.end for f in injected_faults(p.options.seed, p.runs, time.time())), default=0.0
        )
        wait = min(max(last_fault_end + DETECTION_SLACK_S - time.time(), 0.0), self.profile.settle_s)
        await asyncio.sleep(wait)
        status = await p.router_status()
        t1 = time.time()
        ev = load_evidence(p.dir)
        faults = injected_faults(p.options.seed, p.runs, t1)
        res = check(
            ev,
            Window("all", self.started, self.started, t1),
            faults,
            _delta(status.get("drops", {}), self._drops0 or {}),
        )
        res.recovery_s = res.telemetry_s = res.scores_s = res.upstream_s = res.steady_s = None
        self._verdict(res, steady.ok, steady.why, ev)
        self.results.append(res)
        self.save()
        return res

    def save(self, path: Path | None = None) -> Path:
        """Write every result so far as JSON (DIR/chaos-results.json by default)."""
        out = path or self.p.dir / RESULTS_FILE
        out.write_text(
            json.dumps([r.to_dict() for r in self.results], indent=2, default=str), encoding="utf-8"
        )
        return out
