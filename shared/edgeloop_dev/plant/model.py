"""The plant's process model: correlated signals for conveyor, crusher and slurry pump, with faults applied.

No I/O: `PlantModel.step(t)` returns every process tag's value and status at `t` seconds after start.
The fault schedule counts from `faults_from` (model time; `None` holds every fault), so faults can wait
until whoever watches the plant is ready to see them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from .faults import Fault, FaultSchedule
from .tags import INITIAL_SETPOINTS, PROCESS_TAGS

GOOD = "Good"
BAD = "BadSensorFailure"
UNCERTAIN = "UncertainLastUsableValue"


@dataclass
class Sample:
    """One tag's value and OPC UA status name."""

    value: float
    status: str = GOOD


def _lag(x: float, target: float, tau: float, dt: float) -> float:
    """First-order lag of `x` toward `target` with time constant `tau`."""
    return x + (target - x) * (1.0 - math.exp(-dt / tau))


class PlantModel:
    """Deterministic (per seed) process model; call `step` with increasing times."""

    def __init__(self, schedule: FaultSchedule, seed: int | None = None) -> None:
        self.schedule = schedule
        self._rng = random.Random(seed if seed is not None else schedule.seed)
        self.setpoints: dict[str, float] = dict(INITIAL_SETPOINTS)
        self._t = 0.0
        self.faults_from: float | None = 0.0  # model time at which the fault schedule starts; None: held
        self._ore = 1.0  # ore feed disturbance (dimensionless, around 1)
        self._density = 1400.0
        self._belt_speed = self.setpoints["Conveyor.SpeedSetpoint"]
        self._load = self.setpoints["Crusher.FeedRateSetpoint"]
        self._feed = self._load
        self._pump_speed = self.setpoints["Pump.SpeedSetpoint"]
        self._temps = {"conveyor": 45.0, "crusher": 55.0, "pump": 50.0}
        self._stuck: dict[str, float] = {}
        self._last: dict[str, float] = {}

    def _noise(self, sigma: float) -> float:
        return self._rng.gauss(0.0, sigma)

    def step(self, t: float) -> dict[str, Sample]:
        """Advance the model to `t` seconds after start and return every process tag."""
        dt = min(max(t - self._t, 1e-3), 5.0)
        self._t = t
        at = None if self.faults_from is None else t - self.faults_from
        active = [] if at is None else self.schedule.active(at)
        wear = {a: 0.0 for a in self._temps}
        cavitation = 0.0
        for f in active:
            if f.kind == "bearing_wear":
                wear[f.asset] = max(wear[f.asset], f.magnitude * f.progress(at or 0.0) ** 1.5)
            elif f.kind == "cavitation":
                cavitation = max(cavitation, f.magnitude)

        # slow disturbances: ore feed and slurry density (Ornstein-Uhlenbeck)
        self._ore += (1.0 - self._ore) * dt / 60.0 + self._noise(0.01 * math.sqrt(dt))
        self._density += (1400.0 - self._density) * dt / 90.0 + self._noise(3.0 * math.sqrt(dt))

        # conveyor -> crusher: the crusher sees the belt's load a few seconds later
        self._belt_speed = _lag(self._belt_speed, self.setpoints["Conveyor.SpeedSetpoint"], 5.0, dt)
        load_target = self.setpoints["Crusher.FeedRateSetpoint"] * self._ore * (self._belt_speed / 2.5) ** 0.2
        self._load = _lag(self._load, load_target, 3.0, dt)
        self._feed = _lag(self._feed, self._load, 5.0, dt)
        self._pump_speed = _lag(self._pump_speed, self.setpoints["Pump.SpeedSetpoint"], 3.0, dt)

        load, feed, n = self._load, self._feed, self._pump_speed
        conv_current = 40.0 + 0.15 * load * (self._belt_speed / 2.5) ** 0.5
        crusher_power = 150.0 + 0.9 * feed
        flow = 1.05 * n * (1.0 - 0.35 * cavitation) * (1400.0 / self._density) ** 0.3
        discharge = 0.00035 * n * n * (self._density / 1400.0) * (1.0 - 0.25 * cavitation)
        suction = 120.0 - 110.0 * cavitation
        pump_current = 30.0 + 0.00012 * n * n * self._density / 1400.0
        heat = {"conveyor": 0.015 * load, "crusher": 0.02 * feed, "pump": 0.012 * n}
        for asset, base in (("conveyor", 25.0), ("crusher", 30.0), ("pump", 30.0)):
            target = base + heat[asset] + 35.0 * wear[asset]
            self._temps[asset] = _lag(self._temps[asset], target, 20.0, dt)

        values: dict[str, float] = {
            "Conveyor.BeltSpeed": self._belt_speed + self._noise(0.01),
            "Conveyor.Load": load + self._noise(8.0),
            "Conveyor.MotorCurrent": conv_current + self._noise(1.5),
            "Conveyor.BearingTemp": self._temps["conveyor"] + self._noise(0.1),
            "Conveyor.Vibration": 1.8 + 0.0008 * load + 9.0 * wear["conveyor"] + abs(self._noise(0.15)),
            "Crusher.FeedRate": feed + self._noise(10.0),
            "Crusher.MotorPower": crusher_power + self._noise(12.0),
            "Crusher.MotorCurrent": crusher_power * 0.16 + self._noise(1.5),
            "Crusher.BearingTemp": self._temps["crusher"] + self._noise(0.1),
            "Crusher.Vibration": 3.0 + 0.002 * feed + 10.0 * wear["crusher"] + abs(self._noise(0.3)),
            "Pump.Speed": n + self._noise(2.0),
            "Pump.Flow": flow + self._noise(6.0 + 30.0 * cavitation),
            "Pump.DischargePressure": discharge + self._noise(4.0 + 25.0 * cavitation),
            "Pump.SuctionPressure": suction + self._noise(2.0 + 15.0 * cavitation),
            "Pump.MotorCurrent": pump_current + self._noise(1.0),
            "Pump.BearingTemp": self._temps["pump"] + self._noise(0.1),
            "Pump.Vibration": 2.2
            + 0.001 * n
            + 8.0 * wear["pump"]
            + 6.0 * cavitation
            + abs(self._noise(0.2 + 1.5 * cavitation)),
            "Pump.SlurryDensity": self._density + self._noise(2.0),
        }
        samples = {name: Sample(v) for name, v in values.items()}
        self._apply_sensor_faults(samples, active)
        for name, s in samples.items():
            if s.status == GOOD:
                self._last[name] = s.value
        return samples

    def _apply_sensor_faults(self, samples: dict[str, Sample], active: list[Fault]) -> None:
        stuck_now = set()
        for f in active:
            for tag in f.tags:
                s = samples[tag]
                if f.kind == "spike":
                    s.value = s.value + 9.0 * abs(s.value)  # 10x, like OPC PLC's SpikeData
                elif f.kind == "dip":
                    s.value = s.value - 11.0 * abs(s.value)  # -10x, like OPC PLC's DipData
                elif f.kind == "stuck":
                    stuck_now.add(tag)
                    s.value = self._stuck.setdefault(tag, self._last.get(tag, s.value))
                elif f.kind == "bad_status":
                    s.status = BAD
                elif f.kind == "uncertain_status":
                    s.status = UNCERTAIN
                    s.value = self._last.get(tag, s.value)
        for tag in list(self._stuck):
            if tag not in stuck_now:
                del self._stuck[tag]

    @staticmethod
    def tag_names() -> list[str]:
        """Names of the tags `step` returns."""
        return [t.name for t in PROCESS_TAGS]


class LoadModel:
    """The `load` scenario's extra tags: phase-shifted sines with noise, one numpy pass per tick."""

    def __init__(self, count: int, seed: int) -> None:
        self.count = count
        self._rng = np.random.default_rng(seed + 7919)
        self._phase = self._rng.uniform(0.0, 2 * math.pi, count)

    def step(self, t: float) -> list[float]:
        """Every load tag's value at `t` (Python floats): always different from the previous tick's."""
        values = 100.0 * np.sin(2 * math.pi / 5.0 * t + self._phase) + self._rng.random(self.count)
        out: list[float] = values.tolist()
        return out
