"""Blob Storage adapter (azure-storage-blob, sync client in a thread): upload evidence, map errors."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobServiceClient, ContentSettings

from edgeloop_runtime.errors import ConfigError, FatalError, TransientError


class BlobUnavailableError(TransientError):
    """The Blob endpoint could not be reached, timed out or answered 5xx/429."""


class BlobRefusedError(FatalError):
    """The Blob endpoint refused the request (4xx: credentials, permissions, bad request)."""


def map_error(exc: Exception, what: str) -> Exception:
    """Our error for an azure-storage-blob error (the one place this adapter maps them)."""
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return BlobUnavailableError(f"{what}: endpoint unreachable or timed out: {type(exc).__name__}")
    if isinstance(exc, ClientAuthenticationError):
        return BlobRefusedError(f"{what}: authentication refused")
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        code = getattr(exc, "error_code", None)
        if status >= 500 or status in (408, 429):
            return BlobUnavailableError(f"{what}: HTTP {status} {code or ''}".strip())
        return BlobRefusedError(f"{what}: HTTP {status} {code or ''}".strip())
    if isinstance(exc, AzureError):
        return BlobUnavailableError(f"{what}: {type(exc).__name__}")
    return exc


class BlobTarget:
    """One container in one account; `async with` closes the client."""

    def __init__(
        self, connection_string: str, container: str, *, api_version: str | None = None, timeout: float = 10.0
    ) -> None:
        kwargs: dict[str, Any] = {
            "connection_timeout": timeout,
            "read_timeout": timeout,
            "retry_total": 0,
        }
        if api_version:
            kwargs["api_version"] = api_version
        try:
            self._service = BlobServiceClient.from_connection_string(connection_string, **kwargs)
        except (ValueError, AzureError) as exc:
            raise ConfigError("invalid Blob connection string", field="blobConnectionString") from exc
        self._container = self._service.get_container_client(container)
        self._container_ready = False

    async def __aenter__(self) -> BlobTarget:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self._service.close)

    def url_for(self, path: str) -> str:
        """The URL a blob at `path` has (known before it is uploaded)."""
        return str(self._container.get_blob_client(path).url)

    async def upload(self, path: str, data: bytes, content_type: str, metadata: dict[str, str]) -> str:
        """Upload (overwrite) one blob; returns its URL. Raises BlobUnavailableError / BlobRefusedError."""
        try:
            return await asyncio.to_thread(self._upload, path, data, content_type, metadata)
        except (AzureError, OSError) as exc:
            mapped = map_error(exc, f"upload {path}") if isinstance(exc, AzureError) else None
            if mapped is None:
                raise BlobUnavailableError(f"upload {path}: {type(exc).__name__}: {exc}") from exc
            raise mapped from exc

    def _upload(self, path: str, data: bytes, content_type: str, metadata: dict[str, str]) -> str:
        blob = self._container.get_blob_client(path)
        settings = ContentSettings(content_type=content_type)
        try:
            blob.upload_blob(data, overwrite=True, metadata=metadata, content_settings=settings)
        except ResourceNotFoundError:
            if self._container_ready:
                raise
            try:
                self._container.create_container()
            except ResourceExistsError:
                pass
            blob.upload_blob(data, overwrite=True, metadata=metadata, content_settings=settings)
        self._container_ready = True
        return str(blob.url)
