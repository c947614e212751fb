"""example_module's settings: environment variables, overlaid by the twin's desired properties."""

from __future__ import annotations

from pydantic import Field

from edgeloop_runtime import ModuleSettings


class Settings(ModuleSettings):
    """GAIN / gain scales every value; MAX_VALUE / maxValue refuses values above it."""

    gain: float = 1.0
    max_value: float = Field(default=1e9, gt=0)
    heartbeat_seconds: float = Field(default=0.0, ge=0)
