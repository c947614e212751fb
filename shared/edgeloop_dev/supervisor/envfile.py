"""`.env` files and `$VAR` / `${VAR}` placeholders, as iotedgedev expands them in manifest templates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from edgeloop_dev.supervisor.errors import ManifestError

# ${MODULES.<name>...} is an image placeholder that iotedgedev resolves at build time: never expanded here.
_PLACEHOLDER = re.compile(r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


def parse_env_text(text: str, source: str = ".env") -> dict[str, str]:
    """Parse `KEY=VALUE` lines (comments, blank lines, `export`, single or double quotes allowed)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ManifestError(f"{source}:{number}: expected KEY=VALUE, got {raw.strip()[:40]!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def load_env_file(path: Path) -> dict[str, str]:
    """Read and parse one `.env` file; a missing file is a clear error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"cannot read env file {path}: {exc.strerror}") from exc
    return parse_env_text(text, source=str(path))


def expand(value: str, variables: Mapping[str, str]) -> str:
    """Replace `$NAME` and `${NAME}` by their values; unknown names are left as they are."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        return variables.get(name, match.group(0))

    return _PLACEHOLDER.sub(substitute, value)
