"""NodeIds as publishednodes.json and allow-lists write them, including `nsu=URI;...`."""

from __future__ import annotations

import re
from typing import Any

from asyncua import ua

_NSU = re.compile(r"^nsu=([^;]+);(.+)$")


def resolve_node_id(text: str, namespaces: list[str]) -> Any:
    """A ua.NodeId from `ns=N;...`, `i=..`, or `nsu=URI;...` (resolved against the server's namespace
    array); ValueError for an unknown namespace or a malformed id."""
    m = _NSU.match(text)
    if m:
        uri, rest = m.groups()
        if uri not in namespaces:
            raise ValueError(f"namespace {uri!r} is not on the server")
        text = f"ns={namespaces.index(uri)};{rest}"
    try:
        return ua.NodeId.from_string(text)
    except Exception as exc:  # asyncua raises UaStringParsingError and others
        raise ValueError(f"not a NodeId: {text!r} ({exc})") from exc


def needs_namespaces(text: str) -> bool:
    """Whether resolving `text` needs the server's namespace array."""
    return _NSU.match(text) is not None
