"""A rule set tuned on the plant simulator's demo scenario with the shipped sensor_anomaly model."""

from __future__ import annotations

from typing import Any

# Sensor tags that can freeze: a frozen sensor is invisible to the window model; a flat-line check joins it.
STUCK_FIELDS = (
    "Vibration",
    "MotorCurrent",
    "BearingTemp",
    "Load",
    "MotorPower",
    "FeedRate",
    "Flow",
    "DischargePressure",
)

PLANT_RULES: dict[str, Any] = {
    "rules": [
        {
            "name": "sensor-anomaly",
            "model": "sensor_anomaly",
            "assets": ["conveyor", "crusher", "pump"],
            "raise": 1.5,
            "clear": 1.0,
            "clearWindows": 2,
            "combine": "or",
            "signals": [{"field": f, "method": "stuck", "minSamples": 20} for f in STUCK_FIELDS],
            "levels": [{"severity": "warning", "above": 1.5}, {"severity": "critical", "above": 4.0}],
            "actions": [
                {"on": ["open"], "target": "{asset}AnomalyFlag", "value": True},
                {"on": ["close"], "target": "{asset}AnomalyFlag", "value": False},
            ],
        }
    ],
    "knownAssets": ["conveyor", "crusher", "pump"],
    "summaryPeriodS": 60,
    "windowBeforeS": 10,
    "windowMaxSamples": 300,
}
