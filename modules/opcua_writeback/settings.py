"""opcua_writeback's settings: the allow-list of targets, the global switch, dry-run, connection."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from edgeloop_runtime import ModuleSettings

ValueType = Literal["Double", "Float", "Int16", "Int32", "Int64", "UInt16", "UInt32", "Boolean", "String"]
NUMERIC = ("Double", "Float", "Int16", "Int32", "Int64", "UInt16", "UInt32")
CONDITION_KINDS = ("acknowledge", "confirm")  # Alarms & Conditions methods called on the condition


class MethodArgument(BaseModel):
    """One input argument of a method target: its OPC UA type (checked against the method's InputArguments
    before every call) and its limits, as for a variable."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    type: ValueType = "Double"
    min: float | None = None
    max: float | None = None
    max_length: int = Field(default=256, gt=0)

    @model_validator(mode="after")
    def _limits(self) -> MethodArgument:
        if self.type in NUMERIC and (self.min is None or self.max is None):
            raise ValueError("a numeric argument needs min and max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self

    def as_target(self) -> TargetSpec:
        """The argument as a target spec, for the value checks a variable gets."""
        return TargetSpec(
            node_id="argument", type=self.type, min=self.min, max=self.max, max_length=self.max_length
        )


class TargetSpec(BaseModel):
    """One allowed write target (twin `targets.<key>`): a variable written, or a method called.

    `kind: method`: `nodeId` is the method, `objectId` the object it is called on, the request's value its
    one input argument (type and limits checked as for a variable). A method has no read-back, so a rate
    limit on it needs `readNodeId`, the variable its change is measured from on a first call.
    With `arguments`, a method takes several input arguments, the value being `{name: value}`.
    `kind: acknowledge | confirm`: `nodeId` is a condition (an alarm); the request's value is
    `{"eventId": "<base64 EventId of the alarm's event>", "comment": "..."}` and the condition's A&C method
    `Acknowledge` / `Confirm (EventId, Comment)` is called on it. No limits apply; `minIntervalS` does.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    node_id: str = Field(min_length=3)
    endpoint: str | None = None  # defaults to the module's `endpoint`
    type: ValueType = "Double"
    min: float | None = None  # engineering limits, inclusive
    max: float | None = None
    max_rate_per_s: float | None = Field(default=None, gt=0)  # largest change per second
    min_interval_s: float = Field(default=0.0, ge=0)  # least time between two applied writes
    max_length: int = Field(default=256, gt=0)  # for String targets
    kind: Literal["variable", "method", "acknowledge", "confirm"] = "variable"
    object_id: str | None = Field(default=None, min_length=3)  # for methods: the object called on
    # For a method of several input arguments: each by its name in the method's InputArguments; the
    # request's value is then {name: value}. Without it a method takes the value as its one argument.
    arguments: dict[str, MethodArgument] | None = None
    read_node_id: str | None = Field(
        default=None, min_length=3
    )  # read for a first rate check (default nodeId)

    @model_validator(mode="after")
    def _limits(self) -> TargetSpec:
        if self.kind in CONDITION_KINDS:
            names = ("min", "max", "max_rate_per_s", "object_id", "read_node_id")
            given = [to_camel(k) for k in names if getattr(self, k) is not None]
            if given:
                raise ValueError(
                    f"an {self.kind} target takes no {', '.join(given)} (only nodeId, the condition)"
                )
            return self
        if self.arguments is not None:
            if self.kind != "method":
                raise ValueError("arguments are for method targets")
            given = [to_camel(k) for k in ("min", "max", "max_rate_per_s") if getattr(self, k) is not None]
            if given or not self.arguments:
                raise ValueError("a method with arguments takes limits per argument (and no maxRatePerS)")
        if self.type in NUMERIC and self.arguments is None and (self.min is None or self.max is None):
            raise ValueError("a numeric target needs min and max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        if self.kind == "method" and self.object_id is None:
            raise ValueError("a method target needs objectId (the object the method is called on)")
        if self.kind == "method" and self.max_rate_per_s is not None and self.read_node_id is None:
            raise ValueError("a rate-limited method target needs readNodeId to measure its change from")
        return self


class Settings(ModuleSettings):
    """Env `ENDPOINT`, `TARGETS` (JSON) ...; twin `endpoint`, `targets`, `enabled`, `dryRun` ..."""

    enabled: bool = True  # the twin's switch; an operator's setEnabled takes precedence (see below)
    dry_run: bool = False  # decide and audit, never write
    endpoint: str | None = Field(default=None, pattern=r"^opc\.tcp://.+")
    targets: dict[str, TargetSpec] = Field(default_factory=dict)  # the allow-list (see below)
    security_mode: Literal["None", "SignAndEncrypt"] = "None"
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    pki_dir: str = "/pki"
    auto_accept_untrusted: bool = False
    max_attempts: int = Field(default=3, ge=1, le=10)  # tries of a write that was never sent
    retry_backoff_s: float = Field(default=0.5, ge=0)  # first pause before trying an unsent write again
    rate_window_s: float = Field(default=60.0, gt=0)  # the most time a rate-of-change budget accrues
    # a node's first write (no history): at most maxRatePerS x this from the value read from the server
    first_write_budget_s: float = Field(default=1.0, gt=0)
    verify_tolerance: float = Field(default=1e-6, ge=0)
    max_age_s: float | None = Field(default=None, gt=0)  # refuse decisions older than this (source time)
    duplicate_window_s: float = Field(default=86400.0, ge=60)  # a request id is written at most once in it
    max_requests: int = Field(default=50_000, ge=100)  # disk bound of the window (oldest audited go first)
    permissive_node_id: str | None = Field(default=None, min_length=3)  # DCS "AI writes allowed" (Boolean)
    heartbeat_node_id: str | None = Field(default=None, min_length=3)  # written every heartbeatIntervalS
    heartbeat_interval_s: float = Field(default=5.0, gt=0)  # while enabled and not dry-run
    heartbeat_type: Literal["Int32", "Boolean"] = "Int32"  # a counter, or a toggle

    @model_validator(mode="after")
    def _endpoints(self) -> Settings:
        for key, t in self.targets.items():
            if t.endpoint is None and self.endpoint is None:
                raise ValueError(f"target {key!r} has no endpoint and no default endpoint is set")
        guarded = {t.node_id for t in self.targets.values()}
        if self.heartbeat_node_id in guarded or self.permissive_node_id in guarded:
            raise ValueError("the permissive and heartbeat nodes cannot also be write targets")
        return self

    def endpoint_of(self, target: TargetSpec) -> str:
        """The endpoint a target is written on."""
        url = target.endpoint or self.endpoint
        assert url is not None  # checked by the validator
        return url
