"""One rule on one asset as a state machine: debounce, hysteresis, duration, cooldown, escalation."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from .ids import event_id
from .rules import SEVERITY_RANK, Rule

Transition = Literal["open", "escalate", "close"]


@dataclass
class Change:
    """A state change the engine turns into an anomaly event."""

    state: Transition
    event_id: str
    severity: str
    start: float
    end: float | None
    peak: float


@dataclass
class Episode:
    """Per (rule, asset) state. Feed `step()` one evaluated window at a time, in source-time order."""

    rule: Rule
    asset: str = ""
    history: deque[bool] = field(default_factory=deque)
    streak_start: float | None = None
    open_id: str | None = None
    open_start: float = 0.0
    severity: str = "info"
    peak: float = 0.0
    clear_count: int = 0
    closed_at: float | None = None
    suppressed: int = 0
    # The newest window stepped (source time) and the models seen at it: a score at or before it is a
    # redelivery (or out of order) and must not step the episode again, even after a restart.
    last_ts: float | None = None
    last_models: list[str] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """Whether an anomaly is currently open."""
        return self.open_id is not None

    def seen(self, ts: float, model: str) -> bool:
        """Whether a window ending at `ts` from `model` was already stepped (or is older than one)."""
        if self.last_ts is None or ts > self.last_ts:
            return False
        return ts < self.last_ts or model in self.last_models

    def mark(self, ts: float, model: str) -> None:
        """Remember the window just stepped."""
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts, self.last_models = ts, [model]
        elif model not in self.last_models:
            self.last_models.append(model)

    def step(self, ts: float, value: float, hit: bool) -> Change | None:
        """Evaluate one window ending at `ts` with scaled score `value`; `hit` = over the raise level."""
        r = self.rule
        self.history.append(hit)
        while len(self.history) > r.debounce.m:
            self.history.popleft()
        if not self.is_open:
            return self._maybe_open(ts, value, hit)
        self.peak = max(self.peak, value)
        if value < r.clear_below and not hit:
            self.clear_count += 1
            if self.clear_count >= r.clear_windows:
                return self._close(ts)
            return None
        self.clear_count = 0
        sev = r.severity_for(value) if hit else self.severity
        if SEVERITY_RANK[sev] > SEVERITY_RANK[self.severity]:
            self.severity = sev
            assert self.open_id is not None
            return Change("escalate", self.open_id, sev, self.open_start, None, self.peak)
        return None

    def _maybe_open(self, ts: float, value: float, hit: bool) -> Change | None:
        r = self.rule
        if not hit:
            if sum(self.history) == 0:
                self.streak_start = None
            return None
        if self.streak_start is None:
            self.streak_start = ts
        if sum(self.history) < r.debounce.n:
            return None
        if ts - self.streak_start < r.min_duration_s:
            return None
        if self.closed_at is not None and ts - self.closed_at < r.cooldown_s:
            self.suppressed += 1
            return None
        self.open_start = self.streak_start
        self.open_id = event_id(self.asset, r.name, self.open_start)
        self.severity = r.severity_for(value)
        self.peak = value
        self.clear_count = 0
        return Change("open", self.open_id, self.severity, self.open_start, None, value)

    def _close(self, ts: float) -> Change:
        assert self.open_id is not None
        change = Change("close", self.open_id, self.severity, self.open_start, ts, self.peak)
        self.open_id = None
        self.closed_at = ts
        self.streak_start = None
        self.history.clear()
        self.clear_count = 0
        return change

    def close_now(self, ts: float) -> Change | None:
        """Close an open anomaly (data went bad, rule removed); None when nothing is open."""
        return self._close(ts) if self.is_open else None

    def to_doc(self) -> dict[str, Any]:
        """The episode as plain JSON data (with its rule, so it can be closed even if the rule goes)."""
        return {
            "rule": self.rule.model_dump(mode="json", by_alias=True),
            "asset": self.asset,
            "history": list(self.history),
            "streakStart": self.streak_start,
            "openId": self.open_id,
            "openStart": self.open_start,
            "severity": self.severity,
            "peak": self.peak,
            "clearCount": self.clear_count,
            "closedAt": self.closed_at,
            "suppressed": self.suppressed,
            "lastTs": self.last_ts,
            "lastModels": list(self.last_models),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any], rule: Rule | None) -> Episode:
        """Rebuild an episode from `to_doc`; `rule` (the one in force now) wins over the saved one."""
        return cls(
            rule=rule or Rule.model_validate(doc["rule"]),
            asset=str(doc["asset"]),
            history=deque(bool(h) for h in doc["history"]),
            streak_start=doc["streakStart"],
            open_id=doc["openId"],
            open_start=float(doc["openStart"]),
            severity=str(doc["severity"]),
            peak=float(doc["peak"]),
            clear_count=int(doc["clearCount"]),
            closed_at=doc["closedAt"],
            suppressed=int(doc["suppressed"]),
            last_ts=doc["lastTs"],
            last_models=[str(m) for m in doc["lastModels"]],
        )
