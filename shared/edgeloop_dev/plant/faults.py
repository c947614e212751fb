"""Seeded ground-truth fault schedules: which fault hits which tags when, for each scenario."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FaultKind = Literal["bearing_wear", "cavitation", "spike", "dip", "stuck", "bad_status", "uncertain_status"]
SCENARIOS = ("demo", "tour", "steady", "load", "dense")
DEFAULT_HORIZON_S = 4 * 3600.0

# Which tags each fault kind touches, per asset.
_WEAR_TAGS = {
    "conveyor": ("Conveyor.Vibration", "Conveyor.BearingTemp"),
    "crusher": ("Crusher.Vibration", "Crusher.BearingTemp"),
    "pump": ("Pump.Vibration", "Pump.BearingTemp"),
}
_CAVITATION_TAGS = ("Pump.SuctionPressure", "Pump.Flow", "Pump.Vibration", "Pump.DischargePressure")
_SENSOR_TAGS = {
    "conveyor": ("Conveyor.Vibration", "Conveyor.MotorCurrent", "Conveyor.BearingTemp", "Conveyor.Load"),
    "crusher": ("Crusher.Vibration", "Crusher.MotorPower", "Crusher.BearingTemp", "Crusher.FeedRate"),
    "pump": ("Pump.Vibration", "Pump.Flow", "Pump.DischargePressure", "Pump.BearingTemp"),
}
_DURATIONS: dict[str, tuple[float, float]] = {
    "bearing_wear": (25.0, 40.0),
    "cavitation": (8.0, 15.0),
    "spike": (0.3, 0.5),
    "dip": (0.3, 0.5),
    "stuck": (10.0, 20.0),
    "bad_status": (5.0, 10.0),
    "uncertain_status": (5.0, 10.0),
}
_KIND_WEIGHTS: dict[str, float] = {
    "bearing_wear": 3,
    "cavitation": 2,
    "spike": 2,
    "dip": 1,
    "stuck": 1,
    "bad_status": 1,
    "uncertain_status": 1,
}


@dataclass(frozen=True)
class Fault:
    """One injected fault: `start_s`/`end_s` are seconds after the plant started."""

    id: str
    kind: FaultKind
    asset: str
    tags: tuple[str, ...]
    start_s: float
    end_s: float
    magnitude: float = 1.0
    description: str = ""

    def active(self, t: float) -> bool:
        """Whether the fault is in effect at `t` seconds after start."""
        return self.start_s <= t < self.end_s

    def progress(self, t: float) -> float:
        """0 at the start, 1 at the end (for ramps)."""
        span = max(self.end_s - self.start_s, 1e-9)
        return min(max((t - self.start_s) / span, 0.0), 1.0)


@dataclass(frozen=True)
class FaultSchedule:
    """The ground truth for one seed and scenario, sorted by start time."""

    seed: int
    scenario: str
    horizon_s: float
    faults: tuple[Fault, ...] = field(default_factory=tuple)

    def active(self, t: float) -> list[Fault]:
        """Faults in effect at `t` seconds after start."""
        return [f for f in self.faults if f.start_s <= t < f.end_s]

    def to_dict(self, started_at: str | None = None) -> dict[str, Any]:
        """A JSON-ready document; `started_at` (ISO 8601 UTC) anchors the relative times."""
        return {
            "seed": self.seed,
            "scenario": self.scenario,
            "horizonS": self.horizon_s,
            "startedAt": started_at,
            "faults": [
                {**asdict(f), "tags": list(f.tags), "startS": f.start_s, "endS": f.end_s} for f in self.faults
            ],
        }

    def to_json(self, started_at: str | None = None) -> str:
        """`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(started_at), indent=2)


# `tour`: every fault kind and every asset within the demo's default two minutes, one asset's faults
# far enough apart for its anomaly to close in between: (kind, asset, tag for one-tag kinds, start s).
TOUR: tuple[tuple[str, str, str, float], ...] = (
    ("cavitation", "pump", "", 12.0),
    ("spike", "crusher", "Crusher.Vibration", 14.0),
    ("bearing_wear", "conveyor", "", 16.0),
    ("bad_status", "crusher", "Crusher.FeedRate", 48.0),
    ("dip", "pump", "Pump.Flow", 56.0),
    ("stuck", "conveyor", "Conveyor.MotorCurrent", 78.0),
    ("uncertain_status", "pump", "Pump.DischargePressure", 92.0),
)
TOUR_END_S = 120.0


def _make(rng: random.Random, n: int, kind: str, start: float, asset: str = "", tag: str = "") -> Fault:
    lo, hi = _DURATIONS[kind]
    duration = rng.uniform(lo, hi)
    tags: tuple[str, ...]
    if kind == "cavitation":
        asset, tags = "pump", _CAVITATION_TAGS
    elif kind == "bearing_wear":
        asset = asset or rng.choice(list(_WEAR_TAGS))
        tags = _WEAR_TAGS[asset]
    else:
        asset = asset or rng.choice(list(_SENSOR_TAGS))
        tags = (tag or rng.choice(_SENSOR_TAGS[asset]),)
    magnitude = round(rng.uniform(0.6, 1.0), 3)
    return Fault(
        id=f"F{n:04d}",
        kind=kind,  # type: ignore[arg-type]
        asset=asset,
        tags=tuple(tags),
        start_s=round(start, 3),
        end_s=round(start + duration, 3),
        magnitude=magnitude,
        description=f"{kind.replace('_', ' ')} on {asset} ({', '.join(tags)})",
    )


def _random_tail(rng: random.Random, faults: list[Fault], horizon_s: float, not_before: float) -> None:
    """The demo's random faults after the opening: one every 30-50 s, kinds by weight."""
    kinds = list(_KIND_WEIGHTS)
    weights = [_KIND_WEIGHTS[k] for k in kinds]
    while True:
        last = faults[-1]
        t = last.end_s + rng.uniform(30.0, 50.0) - (last.end_s - last.start_s) / 2
        t = max(t, last.end_s + 5.0, not_before)
        if t >= horizon_s:
            break
        faults.append(_make(rng, len(faults) + 1, rng.choices(kinds, weights)[0], t))


def fault_schedule(seed: int, scenario: str, horizon_s: float = DEFAULT_HORIZON_S) -> FaultSchedule:
    """The deterministic fault schedule for `seed` and `scenario`, up to `horizon_s` seconds.

    `demo`: the first fault 12-18 s after start (a bearing wear ramp or cavitation, easy to see), then one
    every 30-50 s. `tour` (the demo's default): every kind and every asset in the first two minutes (TOUR),
    then as `demo`. `dense`: short, sharp faults (spikes and dips) every 6-9 s on a random asset,
    so a latency benchmark collects many closed loops per minute. `steady` and `load`: none.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {', '.join(SCENARIOS)}")
    faults: list[Fault] = []
    if scenario in ("demo", "tour"):
        rng = random.Random(f"edgeloop-plant:{seed}:{scenario}")
        if scenario == "tour":
            for kind, asset, tag, start in TOUR:
                faults.append(_make(rng, len(faults) + 1, kind, start, asset, tag))
        else:
            t = rng.uniform(12.0, 18.0)
            faults.append(_make(rng, 1, rng.choice(["bearing_wear", "cavitation"]), t))
        _random_tail(rng, faults, horizon_s, not_before=TOUR_END_S if scenario == "tour" else 0.0)
    if scenario == "dense":
        rng = random.Random(f"edgeloop-plant:{seed}:{scenario}")
        t = rng.uniform(8.0, 10.0)
        while t < horizon_s:
            fault = _make(rng, len(faults) + 1, rng.choice(["spike", "spike", "dip"]), t)
            faults.append(fault)
            t = fault.end_s + rng.uniform(6.0, 9.0)
    return FaultSchedule(seed=seed, scenario=scenario, horizon_s=horizon_s, faults=tuple(faults))
