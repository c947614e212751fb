"""Shared fixtures: a local hub per test on its own loopback address, and real SDK module clients."""

from __future__ import annotations

import gc
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, pick_hub_host

# Tests run with --import-mode=importlib and no test folder is a package: a helper module beside the tests
# (`<area>_helpers.py`, `route_factories.py`, ...) is imported by its plain, suite-unique name, from every
# tests/<area>/ folder appended here (after site-packages, so a helper can never shadow a real package).
for _area in sorted(p for p in Path(__file__).parent.iterdir() if p.is_dir() and not p.name.startswith(".")):
    if str(_area) not in sys.path:
        sys.path.append(str(_area))

# Property tests draw the same cases every run (a suite run never fails on a new draw; tests/fuzz has its own
# `ci` and `long` profiles); HYPOTHESIS_PROFILE=explore draws new cases each run, to look for what is not found.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile("explore" if os.environ.get("HYPOTHESIS_PROFILE") == "explore" else "repeatable")


@pytest.fixture
def hub_host() -> str:
    """A loopback address (127.x.y.z) whose port 8883 is free: the SDK's port is fixed, so every hub
    gets its own address; random, so xdist workers and concurrent pytest runs do not collide."""
    return pick_hub_host()


@pytest.fixture
def hub_factory(tmp_path: Path, hub_host: str) -> Iterator[Callable[..., HubProcess]]:
    """Start hubs (subprocesses) from a manifest dict: `hub_factory(manifest, name="hub")`; all are
    stopped at teardown. The first one uses `hub_host`."""
    hubs: list[HubProcess] = []

    def factory(
        manifest: dict[str, Any] | Path,
        name: str = "hub",
        host: str | None = None,
        start: bool = True,
        extra_args: tuple[str, ...] = (),
    ) -> HubProcess:
        h = HubProcess(
            tmp_path / name,
            manifest,
            host or (hub_host if not hubs else pick_hub_host()),
            extra_args=extra_args,
        )
        hubs.append(h)
        return h.start() if start else h

    yield factory
    for h in hubs:
        h.kill()


@pytest.fixture
def sdk_module() -> Iterator[Callable[..., SdkModule]]:
    """Connect real azure-iot-device module clients: `sdk_module(hub.env("m"), methods={...})`; all
    are shut down at teardown."""
    clients: list[SdkModule] = []

    def factory(env: dict[str, str], *, connect: bool = True, **kwargs: Any) -> SdkModule:
        kwargs.setdefault("connection_retry_interval", 1)
        client = SdkModule(env, **kwargs)
        clients.append(client)
        return client.connect() if connect else client

    yield factory
    for c in clients:
        c.shutdown()
    # paho 1.6 (under the SDK) leaks a socketpair per reconnect; collect it here, quietly
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


_SDK_LEAKS = (
    "ignore:unclosed <socket.socket:ResourceWarning",
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that run the real SDK tolerate paho's leaked sockets (not ours to fix)."""
    for item in items:
        if "sdk_module" in getattr(item, "fixturenames", ()):
            for spec in _SDK_LEAKS:
                item.add_marker(pytest.mark.filterwarnings(spec))


__all__ = ["make_manifest"]
