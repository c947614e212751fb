"""Wires the hub: manifest (read once), routes, store, MQTT/TLS server, control, workload, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import time
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from edgeloop_dev.hub import control, workload
from edgeloop_dev.hub.certs import ensure_certificates, server_ssl_context
from edgeloop_dev.hub.client import HUB_INFO_FILE
from edgeloop_dev.hub.core import MAX_MESSAGE_SIZE, Hub
from edgeloop_dev.hub.errors import ConfigError
from edgeloop_dev.hub.identity import IdentityStore, workload_socket_path, write_json_atomic
from edgeloop_dev.hub.metrics import HubMetrics
from edgeloop_dev.hub.mqtt.server import MqttServer
from edgeloop_dev.hub.store import Store
from edgeloop_dev.hub.twins import Twins
from edgeloop_dev.hub.upstream import UpstreamLog, count_events
from edgeloop_dev.routes import Router, parse_routes
from edgeloop_runtime import heapwatch
from edgeloop_runtime.errors import ConfigError as RuntimeConfigError
from edgeloop_runtime.logs import get_logger

log = get_logger(__name__)

DEFAULT_TTL_SECS = 7200  # edgeHub's default storeAndForwardConfiguration.timeToLiveSecs
MQTT_PORT = 8883


@dataclass(frozen=True)
class HubOptions:
    """Everything `edgeloop hub` takes on its command line."""

    manifest: Path
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = MQTT_PORT
    device_id: str | None = None
    upstream_connection_string: str | None = None
    metrics_port: int = 9600
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ManifestConfig:
    """What the hub takes from a deployment manifest."""

    edgehub_desired: dict[str, Any]
    modules: list[str]
    module_desired: dict[str, dict[str, Any]]
    default_ttl_secs: int


def load_manifest(path: Path) -> ManifestConfig:
    """Read a deployment manifest once; raise ConfigError naming what is wrong."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read manifest {path}: {exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"manifest {path} is not JSON: {exc}") from exc
    content = data.get("modulesContent") if isinstance(data, dict) else None
    if not isinstance(content, dict):
        raise ConfigError(f"manifest {path} has no modulesContent object")
    edgehub = content.get("$edgeHub", {}).get("properties.desired")
    if not isinstance(edgehub, dict):
        raise ConfigError(f"manifest {path}: modulesContent.$edgeHub.properties.desired is missing")
    agent = content.get("$edgeAgent", {}).get("properties.desired", {})
    modules = list(agent.get("modules", {}).keys()) if isinstance(agent, dict) else []
    module_desired: dict[str, dict[str, Any]] = {}
    for name, section in content.items():
        if name.startswith("$") or not isinstance(section, dict):
            continue
        desired = section.get("properties.desired", {})
        if not isinstance(desired, dict):
            raise ConfigError(f"manifest {path}: modulesContent.{name}.properties.desired is not an object")
        module_desired[name] = desired
        if name not in modules:
            modules.append(name)
    ttl = edgehub.get("storeAndForwardConfiguration", {}).get("timeToLiveSecs", DEFAULT_TTL_SECS)
    if not isinstance(ttl, int):
        raise ConfigError("storeAndForwardConfiguration.timeToLiveSecs must be an integer")
    return ManifestConfig(edgehub, modules, module_desired, ttl)


def _metrics_app(metrics: HubMetrics) -> web.Application:
    async def handler(_: web.Request) -> web.Response:
        resp = web.Response(body=generate_latest(metrics.registry))
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    app = web.Application()
    app.router.add_get("/metrics", handler)
    return app


@contextlib.asynccontextmanager
async def _http(
    app: web.Application, host: str, port: int, sock_path: Path | None = None
) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site: web.BaseSite
        if sock_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(sock_path)  # a stale socket from a killed hub
            site = web.UnixSite(runner, str(sock_path))
            await site.start()
            yield f"unix://{sock_path}"
        else:
            site = web.TCPSite(runner, host, port, reuse_address=True)
            await site.start()
            bound = runner.addresses[0]
            yield f"http://{bound[0]}:{bound[1]}"
    finally:
        await runner.cleanup()


TRACEMALLOC_ENV = "EDGELOOP_HUB_TRACEMALLOC"  # seconds between heap-growth dumps (debugging only)


def _tracemalloc_interval() -> float | None:
    """The runtime's EDGELOOP_TRACEMALLOC rule, under the hub's own variable and error type."""
    try:
        return heapwatch.heap_interval(os.environ, TRACEMALLOC_ENV)
    except RuntimeConfigError as exc:
        raise ConfigError(str(exc)) from None


async def _periodic(hub: Hub, heap_dump: Path | None, heap_interval: float | None) -> None:
    last_dump = time.monotonic()
    baseline: tracemalloc.Snapshot | None = None
    if heap_interval is not None:
        tracemalloc.start(8)
        baseline = tracemalloc.take_snapshot()
    while True:
        await asyncio.sleep(1.0)
        hub.expire_and_measure()
        due = heap_interval is not None and time.monotonic() - last_dump >= heap_interval
        if due and heap_dump is not None and baseline is not None:
            last_dump = time.monotonic()
            _dump_heap_growth(heap_dump, baseline)


def _dump_heap_growth(path: Path, baseline: tracemalloc.Snapshot) -> None:
    """Append the 15 allocation sites that grew most since the hub started (the runtime's report)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(heapwatch.growth_report(baseline))


async def serve(opts: HubOptions, stop: asyncio.Event) -> None:
    """Run the hub until `stop` is set."""
    config = load_manifest(opts.manifest)
    router = Router(parse_routes(config.edgehub_desired), default_ttl_secs=config.default_ttl_secs)
    sdir = opts.state_dir.resolve()
    sdir.mkdir(parents=True, exist_ok=True)
    identities = IdentityStore(sdir, opts.device_id)
    for module in config.modules:
        identities.ensure(module)
    ca_path, _, _ = ensure_certificates(sdir, opts.host)
    (sdir / "hub-host").write_text(opts.host)
    store = Store(sdir / "hub.sqlite")
    metrics = HubMetrics(identities.device_id, identities.iothub_hostname)
    upstream = UpstreamLog(sdir, identities.device_id, count_events(sdir))
    twins = Twins(store, config.module_desired)
    hub = Hub(
        identities=identities, store=store, router=router, twins=twins, upstream=upstream, metrics=metrics
    )
    forwarder = None
    if opts.upstream_connection_string:
        from edgeloop_dev.hub.forwarder import UpstreamForwarder

        forwarder = UpstreamForwarder(opts.upstream_connection_string, metrics)
        upstream.listeners.append(forwarder.submit)
        forwarder.start()
    mqtt = MqttServer(
        hub, opts.host, opts.port, server_ssl_context(sdir, opts.host), MAX_MESSAGE_SIZE + 65536 * 2
    )
    info_path = sdir / HUB_INFO_FILE
    try:
        await mqtt.start()
        async with contextlib.AsyncExitStack() as stack:
            control_url = await stack.enter_async_context(_http(control.build_app(hub), "127.0.0.1", 0))
            wl_app = workload.build_app(identities, ca_path)
            workload_url = await stack.enter_async_context(_http(wl_app, "127.0.0.1", 0))
            sock = workload_socket_path(sdir)
            workload_sock = None
            if sock is not None:
                workload_sock = await stack.enter_async_context(
                    _http(workload.build_app(identities, ca_path), "", 0, sock)
                )
            metrics_url = await stack.enter_async_context(
                _http(_metrics_app(metrics), opts.host, opts.metrics_port)
            )
            heap_interval = _tracemalloc_interval()
            heap_dump = sdir / "tracemalloc.txt" if heap_interval is not None else None
            periodic = asyncio.create_task(_periodic(hub, heap_dump, heap_interval), name="hub-periodic")
            info = {
                "pid": os.getpid(),
                "host": opts.host,
                "mqttPort": mqtt.port,
                "deviceId": identities.device_id,
                "iotHubHostName": identities.iothub_hostname,
                "controlUrl": control_url,
                "workloadUri": workload_url,
                "workloadSocket": workload_sock,
                "metricsUrl": f"{metrics_url}/metrics",
                "caCertificate": str(ca_path),
                "startedAt": time.time(),
            }
            write_json_atomic(info_path, info)
            log.info(
                "hub ready", host=opts.host, port=mqtt.port, device=identities.device_id, control=control_url
            )
            await stop.wait()
            periodic.cancel()
            log.info("hub stopping")
    finally:
        with contextlib.suppress(FileNotFoundError):
            if json.loads(info_path.read_text()).get("pid") == os.getpid():
                info_path.unlink()
        await mqtt.close()
        hub.flush()
        upstream.close()
        if forwarder is not None:
            forwarder.stop()
        store.close()


def run(opts: HubOptions) -> int:
    """Run the hub in the foreground until SIGTERM/SIGINT; return the process exit code."""

    async def main() -> None:
        gc.collect()
        gc.freeze()  # long-lived startup objects leave the collector's view: shorter pauses on the hot path
        gc.set_threshold(20000, 20, 20)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(opts, stop)

    asyncio.run(main())
    return 0
