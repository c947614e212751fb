"""One lint finding: where (a dotted path in the manifest), which rule, and why."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Finding:
    """A problem `edgeloop manifest lint` reports; `str()` is its one line."""

    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message} [{self.rule}]"
