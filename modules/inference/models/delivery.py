"""Models delivered through the twin: `modelDelivery.<model> = {version, url, sha256, size, metadata}` ->
download (resumed after a break) into the repository, sha256 checked, moved into place in one rename,
warmed up and swapped in by the manager; a failed or corrupt delivery leaves the old version serving.

The URL (a Blob SAS URL or any HTTPS URL) is a secret: it is never logged or reported with its query.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from edgeloop_runtime import get_logger, utc_now_iso

from ..errors import ModelRejected
from .repository import METADATA_FILE, MODEL_FILE, versions

_log = get_logger(__name__)
INCOMING = ".incoming"
CHUNK = 1 << 20


class DeliverySpec(BaseModel):
    """One model's desired delivery."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    version: str = Field(pattern=r"^[0-9]+$")
    url: str = Field(pattern=r"^https?://")
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    size: int | None = Field(default=None, ge=1)
    metadata: dict[str, Any] | None = None  # written as metadata.json beside the model


class DeliveryFailed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def redact(url: str) -> str:
    """The URL without its query (a SAS token is a credential)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def download(
    url: str, part: Path, size: int | None, progress: Callable[[int], None], stop: threading.Event
) -> int:
    """Fetch `url` into `part`, continuing a partial file with a Range request; the offset resumed from."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:
        part.unlink()
        have = 0
    headers = {"x-ms-version": "2021-08-06"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to fetch: the part is complete
            return have
        raise DeliveryFailed("http", f"{redact(url)} answered {exc.code}") from exc
    with resp:
        resumed = have if resp.status == 206 else 0
        part.parent.mkdir(parents=True, exist_ok=True)
        with open(part, "ab" if resumed else "wb") as out:
            done = resumed
            while not stop.is_set():
                chunk = resp.read(CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                progress(done)
    if stop.is_set():
        raise DeliveryFailed("cancelled", "a newer delivery replaced this one")
    return resumed


def part_path(root: Path, name: str, spec: DeliverySpec) -> Path:
    """Where a delivery's bytes accumulate until verified (kept across restarts: the download resumes)."""
    return root / INCOMING / f"{name}-{spec.version}-{spec.sha256[:16].lower()}.part"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def prune(folder: Path, keep: int, protect: set[str]) -> list[str]:
    """Delete all but the `keep` highest versions (and the protected ones); the versions deleted."""
    found = versions(folder.parent, folder.name)
    doomed = [v for v in found[:-keep] if v not in protect] if keep < len(found) else []
    for v in doomed:
        shutil.rmtree(folder / v, ignore_errors=True)
    return doomed


# load the model as configured: (the version serving now, why the newest was refused if it was)
Loader = Callable[[str], Awaitable[tuple[str | None, str | None]]]
Report = Callable[[dict[str, Any]], Awaitable[None]]


class Deliveries:
    """One delivery task per model; a new desired spec replaces the running one."""

    def __init__(self, load: Loader, report: Report, attempts: int = 5, progress_s: float = 1.0) -> None:
        self._load = load
        self._report = report
        self.attempts = attempts
        self.progress_s = progress_s
        self.state: dict[str, dict[str, Any]] = {}
        self._specs: dict[str, DeliverySpec] = {}
        self._tasks: dict[str, tuple[asyncio.Task[None], threading.Event]] = {}
        self._background: set[asyncio.Task[None]] = set()

    def apply(self, root: Path, specs: dict[str, DeliverySpec], retention: int, pins: dict[str, str]) -> None:
        """Start a delivery for each model whose desired spec changed."""
        for name, spec in specs.items():
            if self._specs.get(name) == spec:
                continue
            self._specs[name] = spec
            old = self._tasks.pop(name, None)
            if old is not None:
                old[1].set()
                old[0].cancel()
            stop = threading.Event()
            task = asyncio.get_running_loop().create_task(
                self._deliver(root, name, spec, retention, pins, stop)
            )
            self._tasks[name] = (task, stop)

    async def close(self) -> None:
        for task, stop in self._tasks.values():
            stop.set()
            task.cancel()
        await asyncio.gather(*(t for t, _ in self._tasks.values()), return_exceptions=True)

    async def _set(self, name: str, force: bool = True, **fields: Any) -> None:
        entry = self.state.setdefault(name, {})
        entry.update(fields, at=utc_now_iso())
        if force:
            await self._report({"modelDelivery": {name: dict(entry)}})

    async def _deliver(
        self,
        root: Path,
        name: str,
        spec: DeliverySpec,
        retention: int,
        pins: dict[str, str],
        stop: threading.Event,
    ) -> None:
        self.state[name] = {
            "version": spec.version,
            "url": redact(spec.url),
            "size": spec.size,
            "error": None,
        }
        pinned = pins.get(name)
        try:
            await self._run(root, name, spec, stop, pinned)
        except asyncio.CancelledError:
            raise
        except DeliveryFailed as exc:
            _log.error(
                "model delivery failed", model=name, version=spec.version, reason=exc.reason, error=exc.detail
            )
            await self._set(name, state="failed", reason=exc.reason, error=exc.detail)
            return
        except Exception as exc:  # a delivery never takes the module down
            _log.exception("model delivery failed", model=name, version=spec.version)
            await self._set(name, state="failed", reason="internal", error=f"{type(exc).__name__}: {exc}")
            return
        deleted = prune(root / name, retention, {spec.version, *([pinned] if pinned else [])})
        active = not pinned or pinned == spec.version
        await self._set(name, state="active" if active else "delivered", pinned=pinned, pruned=deleted)

    async def _run(
        self, root: Path, name: str, spec: DeliverySpec, stop: threading.Event, pinned: str | None
    ) -> None:
        if root.suffix.lower() == ".onnx" or await asyncio.to_thread(root.is_file):
            raise DeliveryFailed(
                "setting", f"modelDelivery needs MODEL_PATH={root} to be a repository folder"
            )
        vdir = root / name / spec.version
        fetched = False
        if vdir.is_dir() and (vdir / MODEL_FILE).is_file():
            if await asyncio.to_thread(sha256_of, vdir / MODEL_FILE) != spec.sha256.lower():
                raise DeliveryFailed("conflict", f"{name}/{spec.version} exists with other bytes")
            await self._set(name, state="present")
        else:
            await self._fetch(root, name, spec, stop)
            fetched = True
        if pinned and pinned != spec.version:
            await self._load(name)  # the pinned version keeps serving (rollback); a shadow may want it
            return
        await self._set(name, state="warming")
        serving, refusal = await self._load(name)
        if serving != spec.version:
            if fetched:
                shutil.rmtree(vdir, ignore_errors=True)  # refused: the highest version is the old one again
            raise DeliveryFailed("refused", f"{refusal or 'not loaded'}; version {serving} keeps serving")

    def _progress(self, name: str, done: int) -> None:
        task = asyncio.get_running_loop().create_task(self._set(name, state="downloading", bytes=done))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _fetch(self, root: Path, name: str, spec: DeliverySpec, stop: threading.Event) -> None:
        part = part_path(root, name, spec)
        loop = asyncio.get_running_loop()
        last = [0.0]

        def progress(done: int) -> None:
            now = time.monotonic()
            if now - last[0] >= self.progress_s:
                last[0] = now
                loop.call_soon_threadsafe(self._progress, name, done)

        await self._set(name, state="downloading", bytes=part.stat().st_size if part.exists() else 0)
        resumed = 0
        for attempt in range(1, self.attempts + 1):
            try:
                resumed = await asyncio.to_thread(download, spec.url, part, spec.size, progress, stop)
                break
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                if attempt == self.attempts:
                    raise DeliveryFailed("download", f"{redact(spec.url)}: {exc}") from exc
                await self._set(name, state="retrying", attempt=attempt, error=str(exc)[:200])
                await asyncio.sleep(min(10.0, 0.5 * 2**attempt))
        size = part.stat().st_size
        await self._set(name, state="verifying", bytes=size, resumedFrom=resumed)
        if spec.size is not None and size != spec.size:
            part.unlink(missing_ok=True)
            raise DeliveryFailed("size", f"downloaded {size} bytes, expected {spec.size}")
        digest = await asyncio.to_thread(sha256_of, part)
        if digest != spec.sha256.lower():
            part.unlink(missing_ok=True)  # corrupt: the next try starts afresh
            raise DeliveryFailed("checksum", f"sha256 {digest[:12]}... != {spec.sha256[:12].lower()}...")
        staging = root / name / f".{spec.version}.staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        os.replace(part, staging / MODEL_FILE)
        if spec.metadata is not None:
            meta = {**spec.metadata, "name": name, "version": spec.version, "sha256": digest}
            (staging / METADATA_FILE).write_text(json.dumps(meta, indent=1))
        try:
            os.rename(staging, root / name / spec.version)  # the version appears whole, or not at all
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise DeliveryFailed("install", str(exc)) from exc


__all__ = ["Deliveries", "DeliveryFailed", "DeliverySpec", "ModelRejected", "prune", "redact"]
