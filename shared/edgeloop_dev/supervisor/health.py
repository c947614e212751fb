"""Probe a module's `/healthz` on its METRICS_PORT (the runtime serves it next to `/metrics`)."""

from __future__ import annotations

import aiohttp


class HealthProbe:
    """One HTTP session shared by every probe; `async with` closes it."""

    def __init__(self, timeout_s: float = 1.0) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HealthProbe:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def healthy(self, host: str, port: int) -> bool:
        """True when `GET /healthz` answers 2xx in time; any error or timeout is unhealthy."""
        if self._session is None:
            raise RuntimeError("HealthProbe used outside `async with`")
        try:
            async with self._session.get(f"http://{host}:{port}/healthz") as response:
                return 200 <= response.status < 300
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False

    async def fetch_text(self, url: str) -> str | None:
        """GET `url` and return its body, or None on any error (used for the hub's /metrics)."""
        if self._session is None:
            raise RuntimeError("HealthProbe used outside `async with`")
        try:
            async with self._session.get(url) as response:
                if response.status != 200:
                    return None
                return await response.text()
        except (aiohttp.ClientError, TimeoutError, OSError):
            return None
