"""The image HEALTHCHECK probes where the metrics server really listens, for every METRICS_PORT/HOST."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edgeloop_runtime.healthcheck import probe_url
from edgeloop_runtime.metrics import Metrics, MetricsServer

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "shared/edgeloop_runtime/healthcheck.py"


def test_wildcard_hosts_are_probed_on_loopback_and_others_as_given() -> None:
    assert probe_url({"METRICS_PORT": "9600"}) == "http://127.0.0.1:9600/healthz"
    assert probe_url({"METRICS_PORT": "9601", "METRICS_HOST": "0.0.0.0"}) == "http://127.0.0.1:9601/healthz"
    assert probe_url({"METRICS_PORT": "9601", "METRICS_HOST": "::"}) == "http://[::1]:9601/healthz"
    assert probe_url({"METRICS_PORT": "9602", "METRICS_HOST": "10.1.2.3"}) == "http://10.1.2.3:9602/healthz"
    assert probe_url({"METRICS_PORT": "9603", "METRICS_HOST": "fd00::5"}) == "http://[fd00::5]:9603/healthz"


def test_a_module_without_a_metrics_server_has_nothing_to_probe() -> None:
    assert probe_url({"METRICS_PORT": "-1", "METRICS_HOST": "10.1.2.3"}) is None


def test_port_zero_without_the_port_file_is_unhealthy_not_a_guess(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="METRICS_PORT_FILE"):
        probe_url({"METRICS_PORT": "0", "METRICS_PORT_FILE": str(tmp_path / "missing")})


def _run_probe(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK command: the script in isolated mode, with only these variables."""
    full = {"PATH": os.environ["PATH"], **env}
    return subprocess.run([sys.executable, "-I", str(SCRIPT)], env=full, capture_output=True, text=True)


@pytest.mark.parametrize("host", ["0.0.0.0", "non-loopback"])
def test_the_script_finds_a_server_bound_to_port_zero(tmp_path: Path, host: str) -> None:
    address = f"127.0.{random.randint(1, 254)}.{random.randint(2, 254)}"
    bind = address if host == "non-loopback" else host  # a specific address is probed as given
    port_file = tmp_path / "metrics.port"
    env = {"METRICS_PORT": "0", "METRICS_HOST": bind, "METRICS_PORT_FILE": str(port_file)}

    async def scenario() -> tuple[Any, Any]:
        os.environ["METRICS_PORT_FILE"] = str(port_file)
        try:
            server = MetricsServer(Metrics("probe", "1"), lambda: (True, {"ok": True}))
            await server.start(bind, 0)
        finally:
            del os.environ["METRICS_PORT_FILE"]
        try:
            healthy = await asyncio.to_thread(_run_probe, env)
        finally:
            await server.stop()
        stopped = await asyncio.to_thread(_run_probe, env)
        return healthy, stopped

    healthy, stopped = asyncio.run(scenario())
    assert port_file.read_text().strip().isdigit()
    assert healthy.returncode == 0, healthy.stderr
    assert stopped.returncode == 1 and "healthcheck:" in stopped.stderr


def test_the_script_reports_an_unhealthy_module(tmp_path: Path) -> None:
    address = f"127.0.{random.randint(1, 254)}.{random.randint(2, 254)}"

    async def scenario() -> subprocess.CompletedProcess[str]:
        server = MetricsServer(Metrics("probe", "1"), lambda: (False, {"ok": False}))
        port = await server.start(address, 0)
        try:
            return await asyncio.to_thread(_run_probe, {"METRICS_PORT": str(port), "METRICS_HOST": address})
        finally:
            await server.stop()

    result = asyncio.run(scenario())
    assert result.returncode == 1 and "503" in result.stderr


def test_no_metrics_server_is_healthy() -> None:
    assert _run_probe({"METRICS_PORT": "-1"}).returncode == 0
