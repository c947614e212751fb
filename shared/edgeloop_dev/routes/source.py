"""Route sources: edgeHub's prefix rule, and what a source names (for the manifest linter)."""

from __future__ import annotations

from dataclasses import dataclass


def source_prefix(source: str) -> str:
    """The lower-cased prefix a message source plus `/` must start with.

    As CustomMessageSource.Create: strip trailing `*`, then trailing `/`, then append exactly one `/`.
    So `/*` matches everything, `/messages/modules/m/outputs/o` only output `o` (not `o2`).
    """
    return source.rstrip("*").rstrip("/").lower() + "/"


def source_matches(source: str, message_source: str) -> bool:
    """Whether a route source selects a message source (case-insensitive prefix rule)."""
    return (message_source.lower() + "/").startswith(source_prefix(source))


@dataclass(frozen=True, slots=True)
class SourceScope:
    """What a route source selects, in module terms.

    kind: "all" (`/*`), "telemetry" (`/messages/*`: every device and module message), "modules"
    (`/messages/modules/*`), "module" (one module, `output` None for all its outputs), "twin"
    (`/twinChangeNotifications`) or "other" (a path that matches no message edgeHub produces, such as
    one with a `*` in the middle).
    """

    kind: str
    module: str | None = None
    output: str | None = None


def source_scope(source: str) -> SourceScope:
    """Classify a route source (see SourceScope)."""
    parts = [p for p in source_prefix(source).split("/") if p]
    original = [p for p in source.rstrip("*").rstrip("/").split("/") if p]
    if not parts:
        return SourceScope("all")
    if parts == ["twinchangenotifications"]:
        return SourceScope("twin")
    if parts[0] != "messages" or "*" in original:
        return SourceScope("other")
    if len(parts) == 1:
        return SourceScope("telemetry")
    if parts[1] != "modules":
        return SourceScope("other")
    if len(parts) == 2:
        return SourceScope("modules")
    module = original[2]
    if len(parts) == 3:
        return SourceScope("module", module)
    if parts[3] != "outputs":
        return SourceScope("other")
    if len(parts) == 4:
        return SourceScope("module", module)
    if len(parts) == 5:
        return SourceScope("module", module, original[4])
    return SourceScope("other")
