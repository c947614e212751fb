"""`createOptions` as the IoT Edge tooling writes it: minified, split into `createOptions`, `..01`..`..07`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import RenderError

CHUNK_CHARS = 512  # iotedgedev / the VS Code extension split createOptions every 512 characters
MAX_CHUNKS = 8  # createOptions + createOptions01..07: at most 4096 characters in all
EXTRA_KEY = re.compile(r"^createOptions(?P<n>\d{2})$")


def minify(options: object) -> str:
    """createOptions as one string: an object is minified, a string is kept as it is."""
    if isinstance(options, str):
        return options
    return json.dumps(options, separators=(",", ":"), ensure_ascii=False)


def split(text: str) -> list[str]:
    """Split a createOptions string into the tooling's 512-character chunks."""
    return [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]


def chunk_settings(settings: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A module's `settings` with createOptions minified and split; RenderError past 8 chunks."""
    if "createOptions" not in settings:
        return dict(settings)
    text = joined(settings)
    chunks = split(text)
    if len(chunks) > MAX_CHUNKS:
        raise RenderError(
            f"{where}: createOptions is {len(text)} characters, over the tooling's limit of "
            f"{MAX_CHUNKS} chunks of {CHUNK_CHARS} ({MAX_CHUNKS * CHUNK_CHARS} characters)"
        )
    out = {key: value for key, value in settings.items() if not EXTRA_KEY.match(key)}
    out["createOptions"] = chunks[0]
    for i, chunk in enumerate(chunks[1:], start=1):
        out[f"createOptions{i:02d}"] = chunk
    return out


def joined(settings: Mapping[str, Any]) -> str:
    """The whole createOptions string: the first part plus createOptions01.. in order."""
    first = minify(settings.get("createOptions", ""))
    extras = sorted(
        (int(match.group("n")), key) for key in settings if (match := EXTRA_KEY.match(key)) is not None
    )
    return first + "".join(str(settings[key]) for _, key in extras)


def extra_keys(settings: Mapping[str, Any]) -> list[str]:
    """The `createOptionsNN` keys present, in order."""
    return sorted(key for key in settings if EXTRA_KEY.match(key))
