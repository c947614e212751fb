"""Compliance before anything leaves the site: the filter's per-output allow-lists and redactions.

The rules themselves are the runtime's (`edgeloop_runtime.compliance`), the same that upstream_router
enforces on everything it sends upstream; here they narrow the filter's own outputs earlier.
"""

from __future__ import annotations

from typing import Any

from edgeloop_runtime.compliance import REDACTED
from edgeloop_runtime.compliance import apply as apply_rules

from .rules import Compliance

__all__ = ["REDACTED", "apply"]


def apply(policy: Compliance, output: str, data: dict[str, Any]) -> dict[str, Any]:
    """The `data` of a message for `output`, reduced to its allow-list and redacted; never mutates input."""
    out = policy.outputs.get(output)
    result: dict[str, Any] = apply_rules(
        data, out.allow if out else None, out.redact if out else (), policy.redact_keys
    )
    return result
