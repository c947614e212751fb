"""Helpers for tests, benchmarks and the demo: publishednodes.json for the plant, a module subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from .tags import PROCESS_TAGS, load_tags


def published_nodes(
    endpoint: str,
    assets: tuple[str, ...] = ("conveyor", "crusher", "pump"),
    *,
    sampling_ms: float = 100.0,
    publishing_ms: float = 100.0,
    load_tags_count: int = 0,
    security: bool = False,
    **node_extra: Any,
) -> list[dict[str, Any]]:
    """A publishednodes.json for the plant: one DataSetWriterId per asset (field = tag's DisplayName)."""
    entries: list[dict[str, Any]] = []
    for asset in assets:
        nodes = [
            {"Id": t.node_id, "DisplayName": t.display_name, "OpcSamplingInterval": sampling_ms, **node_extra}
            for t in PROCESS_TAGS
            if t.asset == asset
        ]
        entries.append(_entry(endpoint, asset, nodes, publishing_ms, security))
    if load_tags_count:
        nodes = [
            {"Id": t.node_id, "DisplayName": t.display_name, "OpcSamplingInterval": sampling_ms, **node_extra}
            for t in load_tags(load_tags_count)
        ]
        entries.append(_entry(endpoint, "load", nodes, publishing_ms, security))
    return entries


def _entry(
    endpoint: str, writer: str, nodes: list[dict[str, Any]], publishing_ms: float, security: bool
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "EndpointUrl": endpoint,
        "UseSecurity": security,
        "DataSetWriterGroup": "plant",
        "DataSetWriterId": writer,
        "DataSetPublishingInterval": publishing_ms,
        "OpcNodes": nodes,
    }
    if security:
        entry["EndpointSecurityMode"] = "SignAndEncrypt"
        entry["EndpointSecurityPolicy"] = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
    return entry


class ModuleProcess:
    """`python -m <module>` as a subprocess with the given environment; its JSON log lines on demand."""

    def __init__(self, module: str, env: dict[str, str], log: Path) -> None:
        full = {k: v for k, v in os.environ.items() if not k.startswith(("IOTEDGE_", "EdgeHub"))}
        full.update(env)
        if "STATE_DIR" not in env:  # the module's own volume, next to its log, kept across restarts
            full["STATE_DIR"] = str(log.parent / f"{module}-state")
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", module], env=full, stdout=out, stderr=out)

    def log_lines(self) -> list[dict[str, Any]]:
        """Every JSON log line so far."""
        lines = []
        for raw in self.log.read_text().splitlines():
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
        return lines

    def alive(self) -> bool:
        """Still running."""
        return self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then SIGKILL; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()
