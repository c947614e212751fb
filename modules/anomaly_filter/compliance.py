"""Compliance before anything leaves the site: per-output allow-lists of fields and redactions."""

from __future__ import annotations

from typing import Any

from .rules_config import Compliance

REDACTED = "[redacted]"


def _allowed(path: str, allow: list[str]) -> str:
    """'all' when `path` or a prefix is allowed, 'some' when an allowed path lies below it, else 'none'."""
    for a in allow:
        if a == "*" or path == a or path.startswith(a + "."):
            return "all"
    if any(a.startswith(path + ".") for a in allow):
        return "some"
    return "none"


def _filter(obj: dict[str, Any], allow: list[str], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        path = f"{prefix}{k}"
        verdict = _allowed(path, allow)
        if verdict == "all":
            out[k] = v
        elif verdict == "some" and isinstance(v, dict):
            out[k] = _filter(v, allow, path + ".")
    return out


def _redact_keys(obj: Any, keys: set[str]) -> Any:
    if isinstance(obj, dict):
        return {k: (REDACTED if k in keys else _redact_keys(v, keys)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_redact_keys(v, keys) for v in obj]
    return obj


def _redact_path(obj: dict[str, Any], path: list[str]) -> None:
    cur: Any = obj
    for p in path[:-1]:
        if not isinstance(cur, dict) or p not in cur:
            return
        cur = cur[p]
    if isinstance(cur, dict) and path[-1] in cur:
        cur[path[-1]] = REDACTED


def apply(policy: Compliance, output: str, data: dict[str, Any]) -> dict[str, Any]:
    """The `data` of a message for `output`, reduced to its allow-list and redacted; never mutates input."""
    out = policy.outputs.get(output)
    result: dict[str, Any] = data if out is None else _filter(data, out.allow, "")
    result = _redact_keys(result, set(policy.redact_keys))
    if out is not None:
        for path in out.redact:
            _redact_path(result, path.split("."))
    return result
