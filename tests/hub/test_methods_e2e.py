"""Direct methods through the hub: answers, unknown methods, unconnected modules, timeouts, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from edgeloop_dev.hub.errors import MethodError
from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest


def _slow(payload: Any) -> tuple[int, Any]:
    time.sleep(3)
    return 200, None


def test_methods(hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]) -> None:
    hub = hub_factory(make_manifest({}, {"m": {}, "other": {}, "offline": {}}))
    sdk_module(hub.env("m"), inputs=False, methods={"echo": lambda p: (200, {"echo": p}), "slow": _slow})
    # another module subscribed to the same $iothub/methods/POST/# filter must not see m's requests
    other = sdk_module(hub.env("other"), inputs=False, methods={"echo": lambda p: (299, "wrong module")})

    assert hub.invoke("m", "echo", {"x": [1, 2]}) == {"status": 200, "payload": {"echo": {"x": [1, 2]}}}
    assert hub.invoke("m", "nope")["status"] == 404
    assert other.method_calls == []

    with pytest.raises(MethodError) as offline:
        hub.invoke("offline", "echo")
    assert offline.value.status == 404
    assert "not connected" in str(offline.value)

    with pytest.raises(MethodError) as slow:
        hub.invoke("m", "slow", timeout=0.5)
    assert slow.value.status == 504

    cli = [sys.executable, "-m", "edgeloop_dev.hub", "invoke", "--state-dir", str(hub.state_dir)]
    ok = subprocess.run(
        [*cli, "m", "echo", "--payload", '{"a": 1}'], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"status": 200, "payload": {"echo": {"a": 1}}}
    bad = subprocess.run([*cli, "offline", "echo"], capture_output=True, text=True, check=False)
    assert bad.returncode != 0
    assert "not connected" in bad.stderr
