"""Test and benchmark harness: the hub as a subprocess, and real SDK module clients on their own threads."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from edgeloop_dev.hub import client as hub_client
from edgeloop_dev.hub.identity import module_environment
from edgeloop_dev.hub.upstream import read_events
from edgeloop_runtime.testing import wait_for_sync

MQTT_PORT = 8883
_ENV_KEYS = (
    "EdgeHubConnectionString",
    "EdgeModuleCACertificateFile",
    "IOTEDGE_IOTHUBHOSTNAME",
    "IOTEDGE_DEVICEID",
    "IOTEDGE_MODULEID",
    "IOTEDGE_GATEWAYHOSTNAME",
    "IOTEDGE_MODULEGENERATIONID",
    "IOTEDGE_WORKLOADURI",
    "IOTEDGE_APIVERSION",
    "IOTEDGE_AUTHSCHEME",
)
_ENV_LOCK = threading.Lock()


def pick_hub_host(rng: random.Random | None = None) -> str:
    """A loopback address (127.x.y.z, never 127.0.0.1) whose port 8883 is free right now.

    Random rather than sequential, so that separate pytest runs and xdist workers on one machine do not
    collide; the bind probe skips addresses another hub holds.
    """
    rng = rng or random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        host = f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, MQTT_PORT))
            except OSError:
                continue
        return host
    raise RuntimeError("no free loopback address for a hub")


def make_manifest(
    routes: dict[str, Any],
    modules: dict[str, dict[str, Any]] | None = None,
    *,
    schema_version: str = "1.1",
    ttl_secs: int = 7200,
) -> dict[str, Any]:
    """A minimal deployment manifest: `$edgeHub` routes, and each module's desired properties."""
    modules = modules or {}
    content: dict[str, Any] = {
        "$edgeAgent": {
            "properties.desired": {
                "schemaVersion": "1.1",
                "modules": {name: {"type": "docker", "status": "running"} for name in modules},
            }
        },
        "$edgeHub": {
            "properties.desired": {
                "schemaVersion": schema_version,
                "routes": routes,
                "storeAndForwardConfiguration": {"timeToLiveSecs": ttl_secs},
            }
        },
    }
    for name, desired in modules.items():
        content[name] = {"properties.desired": desired}
    return {"modulesContent": content}


class HubProcess:
    """`edgeloop hub` as a subprocess on HOST:8883 over a state directory; start, stop, kill, restart."""

    def __init__(
        self,
        state_dir: Path,
        manifest: dict[str, Any] | Path,
        host: str,
        *,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if isinstance(manifest, dict):
            self.manifest_path = self.state_dir.parent / f"{self.state_dir.name}.manifest.json"
            self.manifest_path.write_text(json.dumps(manifest, indent=1))
        else:
            self.manifest_path = Path(manifest)
        self.host = host
        self.extra_args = extra_args
        self.log_path = self.state_dir.parent / f"{self.state_dir.name}.hub.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """The command line that starts the hub."""
        return [
            sys.executable,
            "-m",
            "edgeloop_dev.hub",  # the hub's own entry: same commands as `edgeloop hub`
            "hub",
            "--manifest",
            str(self.manifest_path),
            "--state-dir",
            str(self.state_dir),
            "--host",
            self.host,
            "--metrics-port",
            "0",
            *self.extra_args,
        ]

    def start(self, timeout: float = 30.0) -> HubProcess:
        """Start the hub and wait until it accepts connections on HOST:8883."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("hub already running")
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(self.command(), stdout=logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.info().get("pid") == self.proc.pid and self._accepts():
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"hub did not become ready in {timeout} s:\n{self.log_tail()}")

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((self.host, MQTT_PORT), timeout=1.0):
                return True
        except OSError:
            return False

    def info(self) -> dict[str, Any]:
        """The running hub's DIR/hub.json."""
        return hub_client.read_hub_info(self.state_dir)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait; returns the exit code (None if it was not running)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> None:
        """SIGKILL (a crash: nothing is flushed beyond what was committed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> HubProcess:
        """Stop (SIGTERM) and start again on the same state directory."""
        self.stop()
        return self.start()

    def __enter__(self) -> HubProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, n: int = 40) -> str:
        """The last lines of the hub's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def env(self, module: str, mode: str = "connection-string") -> dict[str, str]:
        """Environment for a module (its identity is created if needed)."""
        return module_environment(self.state_dir, module, mode, host=self.host)

    def invoke(self, module: str, method: str, payload: Any = None, timeout: float = 10.0) -> Any:
        """Call a direct method through the control API: {"status", "payload"}."""
        return hub_client.invoke_method(self.state_dir, module, method, payload, timeout)

    def twin(self, module: str) -> Any:
        """The module twin as the hub holds it."""
        return hub_client.get_twin(self.state_dir, module)

    def push_desired(self, module: str, patch: dict[str, Any]) -> Any:
        """Merge and push a desired patch."""
        return hub_client.patch_desired(self.state_dir, module, patch)

    def status(self) -> Any:
        """Connected modules and queue lengths."""
        return hub_client.hub_status(self.state_dir)

    def upstream(self) -> list[dict[str, Any]]:
        """Every upstream event so far."""
        return read_events(self.state_dir)

    def metrics_text(self) -> str:
        """The Prometheus exposition of the hub's metrics."""
        with urllib.request.urlopen(self.info()["metricsUrl"], timeout=5) as resp:
            return str(resp.read().decode())

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a metric's samples whose labels include `labels`."""
        total = 0.0
        for line in self.metrics_text().splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            head, _, value = line.rpartition(" ")
            sample, _, rest = head.partition("{")
            if sample != name:
                continue
            if all(f'{k}="{v}"' in rest for k, v in labels.items()):
                total += float(value)
        return total


def wait_for(
    predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, *, what: str | None = None
) -> Any:
    """Poll until `predicate()` is truthy and return it; the TimeoutError says what it waited for (`what`,
    else the predicate's source) and the last value."""
    return wait_for_sync(predicate, what, timeout=timeout, interval=interval)


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in _ENV_KEYS}
        for k in _ENV_KEYS:
            os.environ.pop(k, None)
        os.environ.update(env)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


MethodHandler = Callable[[Any], tuple[int, Any]]


class SdkModule:
    """A real azure-iot-device `IoTHubModuleClient` (sync API: it runs on the SDK's own threads).

    Never share an event loop with the hub: the SDK's handler setters block until SUBACK.
    """

    def __init__(
        self,
        env: dict[str, str],
        *,
        inputs: bool = True,
        desired: bool = False,
        methods: dict[str, MethodHandler] | None = None,
        **client_kwargs: Any,
    ) -> None:
        from azure.iot.device import IoTHubModuleClient

        with _environment(env):
            self.client = IoTHubModuleClient.create_from_edge_environment(**client_kwargs)
        self.inputs: queue.Queue[Any] = queue.Queue()
        self.desired_patches: queue.Queue[dict[str, Any]] = queue.Queue()
        self.methods = dict(methods or {})
        self.method_calls: list[tuple[str, Any]] = []
        self._want_inputs = inputs
        self._want_desired = desired

    def connect(self) -> SdkModule:
        """Set the handlers (each setter connects if needed and waits for SUBACK), then connect.

        Handlers go first: the hub keeps the session's subscriptions, so stored inputs may arrive right
        after CONNECT, and the SDK drops ("No input message inbox") inputs that arrive before its handler
        is set, after paho has already acknowledged them.
        """
        if self._want_inputs:
            self.client.on_message_received = self.inputs.put
        if self._want_desired:
            self.client.on_twin_desired_properties_patch_received = self.desired_patches.put
        if self.methods:
            self.client.on_method_request_received = self._on_method
        self.client.connect()
        return self

    def _on_method(self, request: Any) -> None:
        from azure.iot.device import MethodResponse

        self.method_calls.append((request.name, request.payload))
        handler = self.methods.get(request.name)
        payload: Any
        if handler is None:
            status, payload = 404, {"error": f"unknown method {request.name}"}
        else:
            try:
                status, payload = handler(request.payload)
            except Exception as exc:
                status, payload = 500, {"error": str(exc)}
        self.client.send_method_response(MethodResponse.create_from_method_request(request, status, payload))

    def send(
        self,
        output: str,
        body: str | bytes,
        *,
        properties: dict[str, str] | None = None,
        message_id: str | None = None,
        correlation_id: str | None = None,
        content_type: str | None = None,
        content_encoding: str | None = None,
    ) -> None:
        """send_message_to_output (returns once the hub PUBACKs)."""
        from azure.iot.device import Message

        msg = Message(  # type: ignore[no-untyped-call]
            body, message_id=message_id, content_encoding=content_encoding, content_type=content_type
        )
        if correlation_id is not None:
            msg.correlation_id = correlation_id
        if properties:
            msg.custom_properties.update(properties)
        self.client.send_message_to_output(msg, output)

    def send_json(self, output: str, data: Any, **kwargs: Any) -> None:
        """Send a JSON body with content type application/json and encoding utf-8."""
        self.send(
            output, json.dumps(data), content_type="application/json", content_encoding="utf-8", **kwargs
        )

    def next_input(self, timeout: float = 10.0) -> Any:
        """The next input message (an azure.iot.device.Message); raises queue.Empty on timeout."""
        return self.inputs.get(timeout=timeout)

    def collect(self, n: int, timeout: float = 10.0) -> list[Any]:
        """Exactly `n` input messages, in the order the SDK's handler threads handed them over: the sync
        client runs handlers on four threads, so a burst can come out of order (receive through an
        edgeloop Module where order is what a test checks)."""
        deadline = time.monotonic() + timeout
        out: list[Any] = []
        while len(out) < n:
            out.append(self.inputs.get(timeout=max(0.01, deadline - time.monotonic())))
        return out

    def no_input(self, wait: float = 1.0) -> bool:
        """True when no input arrives within `wait` seconds."""
        try:
            self.inputs.get(timeout=wait)
        except queue.Empty:
            return True
        return False

    def get_twin(self) -> dict[str, Any]:
        """The module twin from the hub."""
        twin: dict[str, Any] = self.client.get_twin()
        return twin

    def patch_reported(self, patch: dict[str, Any]) -> None:
        """Patch reported properties."""
        self.client.patch_twin_reported_properties(patch)

    def shutdown(self) -> None:
        """Disconnect and stop the SDK's threads."""
        with contextlib.suppress(Exception):
            self.client.shutdown()
