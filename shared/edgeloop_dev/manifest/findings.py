"""One lint finding: where (a dotted path in the manifest), which rule, why, and whether it is an error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, order=True)
class Finding:
    """A problem `edgeloop manifest lint` reports; `str()` is its one line.

    An `error` fails the lint; a `warning` (e.g. an output routed nowhere) is printed and does not.
    """

    path: str
    rule: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        level = "warning: " if self.severity == "warning" else ""
        return f"{self.path or '<root>'}: {level}{self.message} [{self.rule}]"
