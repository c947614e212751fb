"""The supervisor's errors: a bad manifest, a hub that will not start, an unknown module."""

from __future__ import annotations


class SupervisorError(Exception):
    """Base class of every error the supervisor raises on purpose."""


class ManifestError(SupervisorError):
    """The deployment manifest (or the `--modules` selection) cannot be turned into processes."""


class HubStartError(SupervisorError):
    """The local hub did not start, or did not become ready in time."""


class UnknownModuleError(SupervisorError):
    """A module name that the supervisor does not manage."""
