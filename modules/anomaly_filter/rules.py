"""The rule set's schema: per-asset, per-score-kind thresholds, debounce, severities, signals and actions."""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgeloop_runtime.errors import ConfigError

Severity = Literal["info", "warning", "critical"]
Transition = Literal["open", "escalate", "close"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Debounce(_Model):
    """Raise only when `n` of the last `m` windows are over the raise level."""

    n: int = Field(1, ge=1)
    m: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _n_le_m(self) -> Debounce:
        if self.n > self.m:
            raise ValueError(f"debounce n ({self.n}) must be <= m ({self.m})")
        return self


class Level(_Model):
    """A severity reached when the (scaled) score is at or above `above`."""

    severity: Severity
    above: float


class SignalCheck(_Model):
    """A check on a raw telemetry field: |z| against its EWMA (`zscore`), or a flat line (`stuck`)."""

    field: str
    method: Literal["zscore", "stuck"] = "zscore"
    min_samples: int = Field(20, alias="minSamples", ge=2)
    # A stuck check also fires when the value has not changed for this long while the asset kept
    # reporting (subscriptions send changes only); default: minSamples at 10 Hz.
    min_seconds: float | None = Field(None, alias="minSeconds", gt=0)
    z_above: float = Field(3.0, alias="zAbove", gt=0)
    alpha: float = Field(0.05, gt=0, le=1)
    warmup: int = Field(20, ge=1)

    @property
    def flat_seconds(self) -> float:
        """The unchanged time that makes a stuck check fire."""
        return self.min_seconds if self.min_seconds is not None else self.min_samples / 10.0


class ActionTemplate(_Model):
    """A write request for opcua_writeback, sent when an anomaly of this rule changes state."""

    on: list[Transition] = Field(default_factory=lambda: list[Transition](["open"]))
    min_severity: Severity = Field("info", alias="minSeverity")
    target: str
    value: Any = None
    from_field: str | None = Field(None, alias="fromField")
    # Acknowledge the asset's active DCS alarm of this ConditionName (opcua_writeback `acknowledge` or
    # `confirm` target): the value is {"eventId": that alarm's EventId, "comment": the reason}.
    ack_condition: str | None = Field(None, alias="ackCondition", min_length=1)
    scale: float = 1.0
    reason: str = "{rule}: {anomalyKind} {state} on {asset} (severity {severity}, score {score:.3g})"

    @model_validator(mode="after")
    def _value_or_field(self) -> ActionTemplate:
        given = [self.value is not None, self.from_field is not None, self.ack_condition is not None]
        if sum(given) != 1:
            raise ValueError("an action needs exactly one of `value`, `fromField` or `ackCondition`")
        return self


class Rule(_Model):
    """One rule: which scores it applies to and how they become anomaly events."""

    name: str = Field(min_length=1)
    assets: list[str] = Field(default_factory=lambda: ["*"])
    model: str = "*"
    type: Literal["window", "frame"] = "window"
    anomaly_kind: str | None = Field(None, alias="anomalyKind")
    scale: Literal["relative", "absolute"] = "relative"
    raise_above: float = Field(1.0, alias="raise")
    clear_below: float = Field(0.8, alias="clear")
    clear_windows: int = Field(1, alias="clearWindows", ge=1)
    debounce: Debounce = Field(default_factory=lambda: Debounce.model_validate({}))
    min_duration_s: float = Field(0.0, alias="minDurationS", ge=0)
    cooldown_s: float = Field(0.0, alias="cooldownS", ge=0)
    levels: list[Level] = Field(default_factory=list)
    classes: list[str] = Field(default_factory=list)
    signals: list[SignalCheck] = Field(default_factory=list)
    combine: Literal["model", "and", "or"] = "model"
    actions: list[ActionTemplate] = Field(default_factory=list)
    # An anomaly on an asset the DCS already alarms on: `annotate` it with the alarms, `suppress` its
    # write-back requests (the event still goes, marked), or `ignore` the DCS's alarms.
    dcs_alarm: Literal["annotate", "suppress", "ignore"] = Field("annotate", alias="dcsAlarm")

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.clear_below > self.raise_above:
            raise ValueError(f"clear ({self.clear_below}) must be <= raise ({self.raise_above})")
        if self.combine != "model" and not self.signals:
            raise ValueError(f"combine={self.combine!r} needs at least one signal check")
        above = [lv.above for lv in self.levels]
        if above != sorted(above):
            raise ValueError("levels must be sorted by `above`")
        return self

    @property
    def kind(self) -> str:
        """The anomalyKind of the events this rule raises."""
        return self.anomaly_kind or self.name

    def severity_for(self, value: float) -> str:
        """The highest level reached by `value`; `warning` when no level is configured."""
        sev = "warning" if not self.levels else self.levels[0].severity
        for lv in self.levels:
            if value >= lv.above:
                sev = lv.severity
        return sev


class OutputPolicy(_Model):
    """Compliance for one output: the fields of `data` allowed out and the paths redacted."""

    allow: list[str] = Field(default_factory=lambda: ["*"])
    redact: list[str] = Field(default_factory=list)


class Compliance(_Model):
    """What may leave the site: per-output allow-lists and redactions, keys redacted everywhere."""

    outputs: dict[str, OutputPolicy] = Field(default_factory=dict)
    redact_keys: list[str] = Field(default_factory=list, alias="redactKeys")
    no_frame_classes: list[str] = Field(default_factory=lambda: ["person"], alias="noFrameClasses")


class RuleSet(_Model):
    """The whole rule set as set in the twin's `rules` property."""

    rules: list[Rule] = Field(default_factory=list)
    data_quality_severity: Severity = Field("warning", alias="dataQualitySeverity")
    data_quality_clear_s: float = Field(5.0, alias="dataQualityClearS", ge=0)
    window_before_s: float = Field(60.0, alias="windowBeforeS", ge=0)
    window_max_samples: int = Field(600, alias="windowMaxSamples", ge=1)
    summary_period_s: float = Field(60.0, alias="summaryPeriodS", gt=0)
    known_assets: list[str] = Field(default_factory=list, alias="knownAssets")
    compliance: Compliance = Field(default_factory=lambda: Compliance.model_validate({}))

    @cached_property
    def flat_saved_s(self) -> float | None:
        """How long a flat run lasts before the filter saves it: half the shortest stuck check's time, so
        that a restart does not hide a frozen sensor; None when no rule checks for one."""
        times = [s.flat_seconds for r in self.rules for s in r.signals if s.method == "stuck"]
        return min(times) / 2 if times else None

    @model_validator(mode="after")
    def _unique_names(self) -> RuleSet:
        names = [r.name for r in self.rules]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate rule names: {sorted(dup)}")
        return self


def parse_rules(raw: object, *, origin: str = "twin") -> RuleSet:
    """Validate a rule set; any problem raises ConfigError naming the first bad field."""
    if raw is None:
        return RuleSet.model_validate({})
    try:
        return RuleSet.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ConfigError(err["msg"], field=f"rules.{loc}" if loc else "rules", origin=origin) from exc
