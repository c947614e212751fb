"""What may leave the site: allow-listed `data` fields and redactions per stream, keys redacted everywhere.

upstream_router applies it to every message it sends upstream (see DEVELOPERS.md, "Compliance"); the
functions are pure, so any module can narrow its own outputs earlier with the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

REDACTED = "[redacted]"
# Credentials never need to leave the site: redacted by default wherever they appear.
DEFAULT_REDACT_KEYS = (
    "password",
    "passwd",
    "secret",
    "token",
    "sharedAccessKey",
    "accountKey",
    "connectionString",
)


class StreamPolicy(BaseModel):
    """One stream: the fields of `data` allowed out (dotted paths, `*` for all) and paths redacted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: list[str] = Field(default_factory=lambda: ["*"])
    redact: list[str] = Field(default_factory=list)


class CompliancePolicy(BaseModel):
    """Per-stream policies (by input or output name) and keys redacted at any depth in every stream."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    streams: dict[str, StreamPolicy] = Field(default_factory=dict)
    redact_keys: list[str] = Field(default_factory=lambda: list(DEFAULT_REDACT_KEYS), alias="redactKeys")

    def apply(self, stream: str, data: Any) -> Any:
        """`data` as it may leave the site on `stream`; never mutates its argument."""
        out = self.streams.get(stream)
        return apply(data, out.allow if out else None, out.redact if out else (), self.redact_keys)


def _allowed(path: str, allow: list[str]) -> str:
    """'all' when `path` or a prefix is allowed, 'some' when an allowed path lies below it, else 'none'."""
    for a in allow:
        if a == "*" or path == a or path.startswith(a + "."):
            return "all"
    if any(a.startswith(path + ".") for a in allow):
        return "some"
    return "none"


def _filter(obj: Mapping[str, Any], allow: list[str], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        path = f"{prefix}{k}"
        verdict = _allowed(path, allow)
        if verdict == "all":
            out[k] = v
        elif verdict == "some" and isinstance(v, dict):
            out[k] = _filter(v, allow, path + ".")
    return out


def redact_keys(obj: Any, keys: set[str]) -> Any:
    """A copy of obj with the value of every key in `keys` replaced, at any depth (case-insensitive)."""
    lowered = {k.lower() for k in keys}
    return _redact(obj, lowered)


def _redact(obj: Any, keys: set[str]) -> Any:
    if isinstance(obj, dict):
        return {k: (REDACTED if str(k).lower() in keys else _redact(v, keys)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_redact(v, keys) for v in obj]
    return obj


def _redact_path(obj: dict[str, Any], path: list[str]) -> None:
    cur: Any = obj
    for p in path[:-1]:
        if not isinstance(cur, dict) or p not in cur:
            return
        cur = cur[p]
    if isinstance(cur, dict) and path[-1] in cur:
        cur[path[-1]] = REDACTED


def apply(data: Any, allow: list[str] | None, redact: Iterable[str], keys: Iterable[str]) -> Any:
    """`data` reduced to `allow` (None: everything), with `redact` paths and `keys` redacted."""
    result = _filter(data, allow, "") if allow is not None and isinstance(data, dict) else data
    result = redact_keys(result, set(keys))
    if isinstance(result, dict):
        for path in redact:
            _redact_path(result, path.split("."))
    return result
