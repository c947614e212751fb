"""Template placeholders: `${MODULES.<name>[.<suffix>]}` images and `$VAR` / `${VAR}` variables."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

MODULE_PLACEHOLDER = re.compile(
    r"\$\{MODULES\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\.(?P<suffix>[A-Za-z0-9_][A-Za-z0-9_.]*))?\}"
)
VARIABLE = re.compile(r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")
# What counts as an unresolved placeholder in a rendered manifest: any `${...}`, and a bare `$NAME`
# in upper case (the `.env` convention). `$edgeAgent`, `$upstream`, `$body.x` are manifest syntax.
UNRESOLVED = re.compile(r"\$\{[^}]*\}|\$[A-Z][A-Z0-9_]*(?![A-Za-z0-9_.])")


@dataclass(frozen=True)
class ModuleRef:
    """A parsed `${MODULES.<name>[.<suffix>]}`: suffix None, `debug`, or an explicit platform key."""

    name: str
    suffix: str | None

    def platform_key(self, platform: str, gpu: bool = False) -> str:
        """The module.json platform key this placeholder picks for a render."""
        if self.suffix is None:
            return f"{platform}.gpu" if gpu else platform
        if self.suffix == "debug":
            return f"{platform}.debug"
        return self.suffix


def module_refs(text: str) -> Iterator[ModuleRef]:
    """Every `${MODULES...}` placeholder in a string."""
    for match in MODULE_PLACEHOLDER.finditer(text):
        yield ModuleRef(match.group("name"), match.group("suffix"))


def expand_variables(text: str, variables: Mapping[str, str]) -> str:
    """Replace `$NAME` / `${NAME}` with their values; unknown names stay (as `os.path.expandvars`)."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        return variables.get(name, match.group(0))

    return VARIABLE.sub(substitute, text)


def unresolved(text: str) -> list[str]:
    """The placeholders left in a rendered string value."""
    return UNRESOLVED.findall(text)


def map_strings(node: Any, fn: Callable[[str, str], str], path: str = "") -> Any:
    """A copy of a JSON tree with `fn(path, value)` applied to every string value (keys untouched)."""
    if isinstance(node, str):
        return fn(path, node)
    if isinstance(node, dict):
        return {key: map_strings(value, fn, f"{path}.{key}" if path else key) for key, value in node.items()}
    if isinstance(node, list):
        return [map_strings(value, fn, f"{path}[{i}]") for i, value in enumerate(node)]
    return node


def walk_strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, value) of every string value in a JSON tree."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from walk_strings(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk_strings(value, f"{path}[{i}]")
