"""Module containers run the way the rendered manifest describes them (podman), for the image tests."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import Any

from podman_flags import LIMITS, PODMAN, ROOT, create_options, podman_flags

UID = 10001


def image(name: str) -> str:
    """The tag scripts/build_images gives a module's amd64 image."""
    version = json.loads((ROOT / "modules" / name / "module.json").read_text())["image"]["tag"]["version"]
    return f"localhost/edgeloop/{name}:{version}-amd64"


def named_volumes(options: dict[str, Any]) -> list[str]:
    """The named volumes (not host folders) a module's createOptions bind."""
    binds = options.get("HostConfig", {}).get("Binds", [])
    return [b.split(":", 1)[0] for b in binds if not b.startswith("/")]


def fill_volume(volume: str, source: Path) -> None:
    """Put `source`'s files into a named volume, owned by the images' uid (`podman volume import`)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(source.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(source)))
            info.uid = info.gid = UID
            info.uname = info.gname = ""
            if path.is_file():
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    subprocess.run(
        [*PODMAN, "volume", "import", volume, "-"], input=buffer.getvalue(), capture_output=True, check=True
    )


class Containers:
    """Start module containers from a rendered manifest; each gets test-unique named volumes."""

    def __init__(self, manifest: dict[str, Any], ca: Path) -> None:
        self.modules: dict[str, Any] = manifest["modulesContent"]["$edgeAgent"]["properties.desired"][
            "modules"
        ]
        self.ca = ca
        self.tag = uuid.uuid4().hex[:8]
        self.volumes: dict[str, str] = {}
        self.started: dict[str, str] = {}

    def volume(self, source: str) -> str:
        """This run's name for one of the manifest's named volumes (created empty on first use)."""
        if source not in self.volumes:
            self.volumes[source] = f"{source}-test-{self.tag}"
            subprocess.run(
                [*PODMAN, "volume", "create", self.volumes[source]], capture_output=True, check=True
            )
        return self.volumes[source]

    def options(self, name: str) -> dict[str, Any]:
        """The module's createOptions as the rendered manifest has them."""
        return create_options(self.modules[name])

    def run(
        self,
        name: str,
        connection: dict[str, str],
        overrides: dict[str, str],
        host_folders: dict[str, str],
        extra: tuple[str, ...] = (),
    ) -> str:
        """`podman run -d` the module's image with its createOptions as flags, its manifest env plus
        `overrides`, and the hub's connection; `host_folders` maps the manifest's host paths to here."""
        options = self.options(name)
        renames = {v: self.volume(v) for v in named_volumes(options)} | host_folders
        env = {k: str(v["value"]) for k, v in self.modules[name].get("env", {}).items()} | overrides
        env |= {
            "EdgeHubConnectionString": connection["EdgeHubConnectionString"],
            "EdgeModuleCACertificateFile": "/certs/ca.pem",
        }
        argv = [*PODMAN, "run", "-d", "--name", f"{name}-{self.tag}", "--hostname", name, "--network=host",
                *LIMITS, *podman_flags(options, renames), "-v", f"{self.ca}:/certs/ca.pem:ro", *extra]  # fmt: skip
        for key, value in env.items():
            argv += ["-e", f"{key}={value}"]
        started = subprocess.run([*argv, image(name)], capture_output=True, text=True)
        assert started.returncode == 0, f"podman run {name}: {started.stderr[-2000:]}"
        self.started[name] = started.stdout.strip()
        return self.started[name]

    def running(self, name: str) -> bool:
        """Whether the module's container still runs."""
        state = subprocess.run(
            [*PODMAN, "inspect", "--format", "{{.State.Running}}", self.started[name]],
            capture_output=True,
            text=True,
        )
        return state.stdout.strip() == "true"

    def logs(self, name: str) -> str:
        """The container's output (the module's JSON log lines)."""
        out = subprocess.run([*PODMAN, "logs", self.started[name]], capture_output=True, text=True)
        return out.stdout + out.stderr

    def remove(self) -> None:
        """Stop and remove every container and volume of this run."""
        for container in self.started.values():
            subprocess.run([*PODMAN, "rm", "-f", "-t", "5", container], capture_output=True)
        for volume in self.volumes.values():
            subprocess.run([*PODMAN, "volume", "rm", "-f", volume], capture_output=True)
