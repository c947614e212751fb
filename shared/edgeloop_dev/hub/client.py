"""Synchronous client of a running hub's control API, found through DIR/hub.json (CLI, supervisor, tests)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from edgeloop_dev.hub.errors import HubError, MethodError

HUB_INFO_FILE = "hub.json"


class HubNotRunningError(HubError):
    """No hub is serving this state directory."""


def read_hub_info(state_dir: Path) -> dict[str, Any]:
    """The running hub's addresses (empty when no hub has written DIR/hub.json)."""
    path = Path(state_dir) / HUB_INFO_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _call(state_dir: Path, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
    info = read_hub_info(state_dir)
    base = info.get("controlUrl")
    if not base:
        raise HubNotRunningError(f"no hub is running for {state_dir} (no {HUB_INFO_FILE})")
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{base}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read())
        except ValueError:
            detail = {"error": str(exc)}
        raise MethodError(str(detail.get("error", exc)), exc.code) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise HubNotRunningError(f"the hub for {state_dir} does not answer at {base}: {exc}") from exc


def invoke_method(
    state_dir: Path, module: str, method: str, payload: Any = None, timeout: float = 30.0
) -> Any:
    """Call a direct method; returns {"status": n, "payload": ...}; raises MethodError when it cannot."""
    body = {"methodName": method, "payload": payload, "responseTimeoutInSeconds": timeout}
    return _call(state_dir, "POST", f"/modules/{module}/methods", body, timeout + 5)


def get_twin(state_dir: Path, module: str) -> Any:
    """The module twin {"desired": ..., "reported": ...}."""
    return _call(state_dir, "GET", f"/modules/{module}/twin")


def patch_desired(state_dir: Path, module: str, patch: dict[str, Any]) -> Any:
    """Merge a desired patch, push it to the module, and return the new twin."""
    return _call(state_dir, "PATCH", f"/modules/{module}/twin/properties/desired", patch)


def hub_status(state_dir: Path) -> Any:
    """Connected modules and stored-message counts."""
    return _call(state_dir, "GET", "/status")
