"""anomaly_filter settings: the rule set (twin `rules`) and the summary flush cadence."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from edgeloop_runtime import ModuleSettings

from .rules import RuleSet, parse_rules


class Settings(ModuleSettings):
    """RULES / `rules`: the rule set (validated as a whole; an invalid set is refused, the old one stays)."""

    rules: dict[str, Any] = Field(default_factory=dict)
    summary_flush_seconds: float = Field(default=5.0, gt=0)
    buffer_samples: int = Field(default=20000, ge=100)

    @field_validator("rules")
    @classmethod
    def _valid_rules(cls, value: dict[str, Any]) -> dict[str, Any]:
        parse_rules(value)
        return value

    def rule_set(self) -> RuleSet:
        """The validated rule set."""
        return parse_rules(self.rules)
