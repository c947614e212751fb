"""The chaos pipeline: plant, Azurite, hub and every module of the debug template, plus the tap witness."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeloop_dev.azurite import Azurite
from edgeloop_dev.chaos.evidence import TAP_FILE
from edgeloop_dev.chaos.truth import PlantRun
from edgeloop_dev.demo.observe import JsonlTail, parse_ts
from edgeloop_dev.demo.services import REPO_ROOT, render_debug_manifest
from edgeloop_dev.hub import client as hub
from edgeloop_dev.hub.harness import pick_hub_host
from edgeloop_dev.plant import SCHEDULE_FILE, PlantOptions, PlantProcess, free_port
from edgeloop_dev.supervisor.policy import ModuleState
from edgeloop_dev.supervisor.supervisor import HUB, Supervisor, SupervisorConfig

TAP_DIR = Path(__file__).resolve().parent / "tap"
TAP = "chaos_tap"
ROUTER = "upstream_router"
# What the tap listens to: (output, tap input, route priority).
TAP_ROUTES = (
    ("opcua_ingest/outputs/telemetry", "telemetry", 2),
    ("inference/outputs/scores", "scores", 1),
    ("anomaly_filter/outputs/anomalies", "anomalies", 1),
    ("anomaly_filter/outputs/actions", "actions", 0),
    ("opcua_writeback/outputs/audit", "audit", 0),
)
HIGH_CLASSES = ("safety", "audit", "anomaly")


def add_tap(manifest_path: Path, tap_file: Path) -> dict[str, Any]:
    """Add the tap module and its routes to a rendered manifest; free the fixed REST port (in place)."""
    doc: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
    agent = doc["modulesContent"]["$edgeAgent"]["properties.desired"]
    agent["modules"][TAP] = {
        "version": "1.0",
        "type": "docker",
        "status": "running",
        "restartPolicy": "always",
        "startupOrder": 1,
        "env": {"TAP_FILE": {"value": str(tap_file)}, "LOG_LEVEL": {"value": "INFO"}},
        "settings": {"image": TAP, "createOptions": {}},
    }
    inference_env = agent["modules"].get("inference", {}).get("env", {})
    if "REST_PORT" in inference_env:
        inference_env["REST_PORT"] = {"value": "0"}  # 5000 is fixed in the template; runs may overlap
    routes = doc["modulesContent"]["$edgeHub"]["properties.desired"]["routes"]
    for source, tap_input, priority in TAP_ROUTES:
        routes[f"chaosTap_{tap_input}"] = {
            "route": f"FROM /messages/modules/{source} "
            f'INTO BrokeredEndpoint("/modules/{TAP}/inputs/{tap_input}")',
            "priority": priority,
            "timeToLiveSecs": 86400,
        }
    manifest_path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return doc


@dataclass
class PipelineOptions:
    """Where and how the pipeline runs."""

    state_dir: Path
    seed: int = 35
    host: str = ""  # a picked loopback address when empty
    startup_timeout_s: float = 90.0
    # > 0: the router's store folder is a tmpfs of this many MB (the disk_fill scenario fills it);
    # mounting needs root, and without it disk_fill is skipped with the reason.
    router_disk_mb: int = 0


@dataclass
class Steady:
    """Whether the pipeline runs as it should right now, and if not, why."""

    ok: bool
    why: list[str] = field(default_factory=list)
    since: float | None = None  # when it first held during the wait (epoch s)


class ChaosPipeline:
    """`async with ChaosPipeline(opts) as p:` everything runs; methods break parts of it."""

    def __init__(self, options: PipelineOptions) -> None:
        self.options = options
        self.dir = options.state_dir.resolve()
        self.host = options.host or pick_hub_host()
        self.plant_port = free_port(self.host)
        self.plant = PlantProcess(
            PlantOptions(
                state_dir=self.dir / "plant", host=self.host, port=self.plant_port, seed=options.seed
            ),
            log_path=self.dir / "logs" / "plant.log",
        )
        self.azurite: Azurite | None = None
        self.supervisor: Supervisor | None = None
        self.runs: list[PlantRun] = []
        self.started_at = 0.0
        self._tap = JsonlTail(self.dir / TAP_FILE)
        self.last_telemetry = 0.0
        self.last_score = 0.0
        self.bad_seen: list[tuple[float, str]] = []
        self.opened: list[dict[str, Any]] = []  # anomaly opens the tap saw
        self.original_store_max = 268435456
        self.router_disk: Path | None = None  # the router's store folder, when it is a tmpfs
        self.router_disk_error = "no small disk was asked for (PipelineOptions.router_disk_mb)"

    # ---- lifecycle ------------------------------------------------------------------------------
    async def __aenter__(self) -> ChaosPipeline:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start the plant, Azurite, the hub and the modules; return once telemetry and scores flow."""
        if self.dir.exists():
            shutil.rmtree(self.dir)
        (self.dir / "plant").mkdir(parents=True)
        (self.dir / "logs").mkdir()
        if self.options.router_disk_mb > 0:
            self._mount_router_disk(self.options.router_disk_mb)
        self.started_at = time.time()
        await self._plant_start()
        self.azurite = await asyncio.to_thread(Azurite.start, self.dir / "azurite", host=self.host)
        manifest = render_debug_manifest(
            self.dir,
            {"BLOB_CONNECTION_STRING": self.azurite.connection_string, "EDGELOOP_STATE_DIR": str(self.dir)},
            self.plant.endpoint,
        )
        doc = add_tap(manifest, self.dir / TAP_FILE)
        desired = doc["modulesContent"].get(ROUTER, {}).get("properties.desired", {})
        self.original_store_max = int(desired.get("storeMaxBytes", self.original_store_max))
        config = SupervisorConfig(
            manifest=manifest, state_dir=self.dir, host=self.host, repo_root=REPO_ROOT, python_path=(TAP_DIR,)
        )
        self.supervisor = Supervisor(config)
        await self.supervisor.start()
        steady = await self.wait_steady(self.options.startup_timeout_s)
        if not steady.ok:
            raise RuntimeError("pipeline did not reach steady state: " + "; ".join(steady.why))

    async def stop(self) -> None:
        """Stop the modules and the hub, then the plant and Azurite."""
        try:
            if self.supervisor is not None:
                await self.supervisor.stop()
        finally:
            await asyncio.to_thread(self._plant_stop, self.plant.stop)
            if self.azurite is not None:
                await asyncio.to_thread(self.azurite.stop)
            if self.router_disk is not None:
                umount = ["umount", "-l", str(self.router_disk)]
                await asyncio.to_thread(subprocess.run, umount, check=False, capture_output=True)
                self.router_disk = None

    def _mount_router_disk(self, size_mb: int) -> None:
        """Mount a tmpfs where the router keeps its store ($EDGELOOP_STATE_DIR/upstream_router)."""
        folder = self.dir / ROUTER
        folder.mkdir()
        cmd = ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(folder)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except OSError as exc:
            self.router_disk_error = f"cannot run mount: {exc}"
            return
        if done.returncode != 0:
            self.router_disk_error = f"cannot mount a tmpfs: {done.stderr.strip() or done.returncode}"
            return
        self.router_disk = folder

    @property
    def sup(self) -> Supervisor:
        """The running supervisor."""
        if self.supervisor is None:
            raise RuntimeError("pipeline not started")
        return self.supervisor

    @property
    def modules(self) -> list[str]:
        """The pipeline's modules (the tap aside)."""
        return [m.name for m in self.sup.status().modules if m.name != TAP]

    # ---- the plant ------------------------------------------------------------------------------
    async def _plant_start(self) -> None:
        await asyncio.to_thread(self.plant.start)
        doc = json.loads((self.dir / "plant" / SCHEDULE_FILE).read_text(encoding="utf-8"))
        started = parse_ts(doc.get("startedAt") or doc.get("started_at")) or time.time()
        self.runs.append(PlantRun(started))

    def _plant_stop(self, how: Any) -> None:
        how()
        if self.runs and self.runs[-1].stopped_at is None:
            self.runs[-1] = PlantRun(self.runs[-1].started_at, time.time())

    async def plant_down(self, down_s: float, *, abrupt: bool = True) -> float:
        """Kill (or stop) the OPC UA server, refuse connections for `down_s`, start it; returns when back."""
        await asyncio.to_thread(self._plant_stop, self.plant.kill if abrupt else self.plant.stop)
        await asyncio.sleep(down_s)
        await self._plant_start()
        return time.time()

    # ---- Blob Storage ---------------------------------------------------------------------------
    def _az(self) -> Azurite:
        if self.azurite is None:
            raise RuntimeError("azurite not started")
        return self.azurite

    async def blob_refuse(self, down_s: float) -> float:
        """Stop Azurite (connections refused) for `down_s`, then start it on the same port and data."""
        az = self._az()
        await asyncio.to_thread(az.stop)
        await asyncio.sleep(down_s)
        self.azurite = await asyncio.to_thread(Azurite.start, az.location, host=az.host, port=az.port)
        return time.time()

    async def blob_hang(self, hang_s: float) -> float:
        """Freeze Azurite (requests time out) for `hang_s`, then let it go on."""
        az = self._az()
        az.pause()
        try:
            await asyncio.sleep(hang_s)
        finally:
            az.resume()
        return time.time()

    # ---- modules and hub ------------------------------------------------------------------------
    def kill(self, module: str) -> float:
        """kill -9 a module (or the hub as HUB); returns when it was sent."""
        self.sup.kill(module, signal.SIGKILL)
        return time.time()

    async def wait_running(self, module: str, timeout_s: float = 60.0, after_pid: int | None = None) -> float:
        """Wait until a module (or the hub) runs again in a new process; returns the time."""

        def back(status: Any) -> bool:
            return bool(status.state is ModuleState.RUNNING and status.pid and status.pid != after_pid)

        await self.sup.wait_for(module, back, timeout_s)
        return time.time()

    def pid(self, module: str) -> int | None:
        """The module's (or hub's) process id now."""
        snap = self.sup.status()
        return snap.hub.pid if module == HUB else snap.module(module).pid

    # ---- the router -----------------------------------------------------------------------------
    async def router_call(self, method: str, payload: Any = None, timeout: float = 5.0) -> Any:
        """A direct method on upstream_router; the payload of a 200 answer, else None."""
        try:
            reply = await asyncio.to_thread(hub.invoke_method, self.dir, ROUTER, method, payload, timeout)
        except Exception:  # the hub or the router is away: the caller polls again
            return None
        if isinstance(reply, dict) and reply.get("status") == 200:
            return reply.get("payload")
        return None

    async def router_status(self, attempts: int = 20) -> dict[str, Any]:
        """getQueueStatus, retried while the router or the hub is away."""
        for _ in range(attempts):
            status = await self.router_call("getQueueStatus")
            if isinstance(status, dict):
                return status
            await asyncio.sleep(0.5)
        return {}

    async def router_desired(self, patch: dict[str, Any]) -> None:
        """Patch upstream_router's desired properties (link switch, store quota)."""
        for _ in range(20):
            try:
                await asyncio.to_thread(hub.patch_desired, self.dir, ROUTER, patch)
                return
            except Exception:  # the hub restarts: try again
                await asyncio.sleep(0.5)
        raise RuntimeError(f"could not patch {ROUTER} desired properties with {patch}")

    # ---- any module ------------------------------------------------------------------------------
    async def module_desired(self, module: str, patch: dict[str, Any]) -> None:
        """Patch a module's desired properties (retried while the hub restarts)."""
        for _ in range(20):
            try:
                await asyncio.to_thread(hub.patch_desired, self.dir, module, patch)
                return
            except Exception:  # the hub restarts: try again
                await asyncio.sleep(0.5)
        raise RuntimeError(f"could not patch {module} desired properties with {patch}")

    async def twin(self, module: str) -> dict[str, Any]:
        """A module's twin ({} while the hub is away)."""
        try:
            twin = await asyncio.to_thread(hub.get_twin, self.dir, module)
        except Exception:
            return {}
        return twin if isinstance(twin, dict) else {}

    async def module_call(self, module: str, method: str, timeout: float = 5.0) -> Any:
        """A direct method on any module; the payload of a 200 answer, else None."""
        try:
            reply = await asyncio.to_thread(hub.invoke_method, self.dir, module, method, None, timeout)
        except Exception:
            return None
        if isinstance(reply, dict) and reply.get("status") == 200:
            return reply.get("payload")
        return None

    # ---- steady state ---------------------------------------------------------------------------
    def poll_tap(self) -> None:
        """Read new witness lines: when telemetry and scores last flowed, and Bad fields seen."""
        for line in self._tap.read():
            t = float(line.get("t", 0.0))
            if line.get("in") == "telemetry":
                if line.get("bad"):
                    self.bad_seen.extend((t, str(b)) for b in line["bad"])
                else:
                    self.last_telemetry = max(self.last_telemetry, t)
            elif line.get("in") == "scores":
                self.last_score = max(self.last_score, t)
            elif line.get("in") == "anomalies" and line.get("state") == "open":
                self.opened.append(line)

    async def steady(self) -> Steady:
        """Every process running, telemetry and scores flowing, the router's link up and high queues empty."""
        why = []
        snap = self.sup.status()
        if snap.hub.state is not ModuleState.RUNNING:
            why.append(f"hub {snap.hub.state.value}")
        why += [f"{m.name} {m.state.value}" for m in snap.modules if m.state is not ModuleState.RUNNING]
        self.poll_tap()
        now = time.time()
        if now - self.last_telemetry > 3.0:
            why.append(f"no Good telemetry for {now - self.last_telemetry:.0f} s")
        if now - self.last_score > 5.0:
            why.append(f"no score for {now - self.last_score:.0f} s")
        if not why:
            status = await self.router_status(attempts=1)
            link = status.get("link", {})
            if not link.get("up"):
                why.append(
                    f"router link down ({link.get('lastError')})" if status else "router does not answer"
                )
            for cls in HIGH_CLASSES:
                depth = status.get("queues", {}).get(cls, {}).get("messages", 0)
                if depth:
                    why.append(f"{int(depth)} {cls} waiting in the router")
        return Steady(not why, why)

    async def wait_steady(self, timeout_s: float, not_before: float = 0.0) -> Steady:
        """Poll `steady()` until it holds (and `not_before` has passed) or `timeout_s` ends."""
        deadline = time.monotonic() + timeout_s
        since: float | None = None
        while True:
            state = await self.steady()
            if state.ok and since is None:
                since = time.time()
            state.since = since
            if state.ok and time.time() >= not_before:
                return state
            if time.monotonic() >= deadline:
                return state
            await asyncio.sleep(0.25)
