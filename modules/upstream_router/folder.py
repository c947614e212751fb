"""A local-folder stand-in for Blob Storage (`file:///path` connection strings), same layout as the blobs."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlparse

from edgeloop_runtime.errors import ConfigError

from .blob import BlobUnavailableError

FILE_SCHEME = "file://"


class FolderTarget:
    """Writes each evidence blob as a file (plus `<name>.metadata.json`) under `<folder>/<container>/`."""

    def __init__(self, connection_string: str, container: str) -> None:
        parsed = urlparse(connection_string)
        if parsed.scheme != "file" or not parsed.path:
            raise ConfigError("a folder target needs file:///absolute/path", field="blobConnectionString")
        self._root = Path(unquote(parsed.path)) / container

    async def __aenter__(self) -> FolderTarget:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def url_for(self, path: str) -> str:
        """The file URL the blob at `path` has."""
        return (self._root / path).as_uri()

    async def upload(self, path: str, data: bytes, content_type: str, metadata: dict[str, str]) -> str:
        """Write one blob and its metadata; BlobUnavailableError if the folder cannot be written."""
        try:
            await asyncio.to_thread(self._write, path, data, {**metadata, "contentType": content_type})
        except OSError as exc:
            raise BlobUnavailableError(f"upload {path}: {exc.strerror or exc}") from exc
        return self.url_for(path)

    def _write(self, path: str, data: bytes, metadata: dict[str, str]) -> None:
        target = self._root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        for name, content in ((target, data), (target.with_name(target.name + ".metadata.json"), None)):
            tmp = name.with_name(name.name + ".tmp")
            tmp.write_bytes(content if content is not None else json.dumps(metadata).encode())
            os.replace(tmp, name)
