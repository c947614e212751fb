"""The podman flags that stand for a manifest module's createOptions (the part IoT Edge's Docker honours)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BASE = "localhost/edgeloop-python:3.11-bookworm"
PODMAN = ["podman", "--runtime", "runc"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def podman_ready() -> str | None:
    """Why images cannot be built and run here, or None when podman, runc and debootstrap are there."""
    for tool in ("podman", "runc", "debootstrap"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (Debian: apt-get install podman buildah runc debootstrap; scripts/test does)"
    if subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() != "0":
        return "building the local base with debootstrap needs root"
    return None


def create_options(module: dict[str, Any]) -> dict[str, Any]:
    """A module's createOptions as one object (a template's object or a rendered manifest's chunks)."""
    settings = module["settings"]
    raw = settings.get("createOptions", {})
    if isinstance(raw, str):
        raw += "".join(
            settings[f"createOptions{i:02d}"] for i in range(1, 8) if f"createOptions{i:02d}" in settings
        )
        return dict(json.loads(raw))
    return dict(raw)


def podman_flags(options: dict[str, Any], volume_names: dict[str, str] | None = None) -> list[str]:
    """`podman run` flags for HostConfig's ReadonlyRootfs, Tmpfs, CapDrop, SecurityOpt, Binds and ShmSize;
    `volume_names` renames named volumes (tests give each run its own)."""
    host = options.get("HostConfig", {})
    flags: list[str] = []
    if host.get("ReadonlyRootfs"):
        flags.append("--read-only")
    for path, opts in host.get("Tmpfs", {}).items():
        flags += ["--tmpfs", f"{path}:{opts}" if opts else path]
    for cap in host.get("CapDrop", []):
        flags += ["--cap-drop", cap]
    for opt in host.get("SecurityOpt", []):
        flags += ["--security-opt", opt]
    for bind in host.get("Binds", []):
        source, rest = bind.split(":", 1)
        flags += ["-v", f"{(volume_names or {}).get(source, source)}:{rest}"]
    if "ShmSize" in host:
        flags += ["--shm-size", str(host["ShmSize"])]
    return flags
