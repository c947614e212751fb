"""Start and stop the real Azurite Blob emulator (npm `node_modules/.bin/azurite-blob`) for tests, demos."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented; not a secret).
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
REPO_ROOT = Path(__file__).resolve().parents[2]


def azurite_binary(root: Path = REPO_ROOT) -> Path | None:
    """The azurite-blob launcher installed by `npm install azurite@3` (scripts/bootstrap), if any."""
    path = root / "node_modules" / ".bin" / "azurite-blob"
    return path if path.exists() and shutil.which("node") else None


def missing_reason(root: Path = REPO_ROOT) -> str | None:
    """Why Azurite cannot run here (for a visible pytest skip), or None when it can."""
    if shutil.which("node") is None:
        return "Node.js is not installed, so Azurite cannot run"
    if azurite_binary(root) is None:
        return "Azurite is not installed: run scripts/bootstrap (npm install azurite@3)"
    return None


def connection_string(host: str, port: int) -> str:
    """The development-account connection string for an Azurite at host:port."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={DEV_KEY};"
        f"BlobEndpoint=http://{host}:{port}/{ACCOUNT};"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Azurite:
    """One running azurite-blob process; `with Azurite.start(dir) as az:` stops it on exit."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    location: Path

    @property
    def connection_string(self) -> str:
        """Connection string for this instance."""
        return connection_string(self.host, self.port)

    @classmethod
    def start(
        cls, location: Path, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 20.0
    ) -> Azurite:
        """Launch Azurite (`--skipApiVersionCheck --disableTelemetry --loose`) and wait for its port."""
        binary = azurite_binary()
        if binary is None:
            raise RuntimeError(missing_reason() or "azurite missing")
        location.mkdir(parents=True, exist_ok=True)
        port = port or free_port(host)
        log = open(location / "azurite.log", "ab")  # noqa: SIM115 - handed to the child process
        try:
            proc = subprocess.Popen(
                [
                    str(binary),
                    "--blobHost",
                    host,
                    "--blobPort",
                    str(port),
                    "--location",
                    str(location),
                    "--skipApiVersionCheck",
                    "--disableTelemetry",
                    "--loose",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        az = cls(proc, host, port, location)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"azurite exited with {proc.returncode}; see {location / 'azurite.log'}")
            try:
                with socket.create_connection((host, port), timeout=0.2):
                    return az
            except OSError:
                time.sleep(0.1)
        az.stop()
        raise RuntimeError(f"azurite did not listen on {host}:{port} within {timeout}s")

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): requests hang, as with an endpoint that times out."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Continue a paused process."""
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (Azurite shuts down gracefully, in more than a second), then SIGKILL; waits for exit."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGCONT)
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        except ProcessLookupError:
            pass

    def __enter__(self) -> Azurite:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
