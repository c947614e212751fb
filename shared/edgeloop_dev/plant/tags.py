"""The plant's tag catalogue: names, units, engineering ranges and which tags are writable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

NAMESPACE_URI = "urn:edgeloop:plant"
ASSETS = ("conveyor", "crusher", "pump")

TagType = Literal["Double", "Boolean", "String", "Int32"]


@dataclass(frozen=True)
class TagSpec:
    """One variable of the plant: `name` is also its string NodeId identifier and its DisplayName."""

    name: str
    asset: str
    unit: str
    lo: float
    hi: float
    vtype: TagType = "Double"
    writable: bool = False
    description: str = ""

    @property
    def node_id(self) -> str:
        """The namespace-URI form of the NodeId, as publishednodes.json writes it."""
        return f"nsu={NAMESPACE_URI};s={self.name}"

    @property
    def display_name(self) -> str:
        """The field name in telemetry: the tag name without its asset prefix."""
        return self.name.split(".", 1)[1] if "." in self.name else self.name


def _d(name: str, asset: str, unit: str, lo: float, hi: float, description: str) -> TagSpec:
    return TagSpec(name, asset, unit, lo, hi, "Double", False, description)


PROCESS_TAGS: tuple[TagSpec, ...] = (
    _d("Conveyor.BeltSpeed", "conveyor", "m/s", 0.0, 5.0, "belt speed"),
    _d("Conveyor.Load", "conveyor", "t/h", 0.0, 1500.0, "ore on the belt (belt scale)"),
    _d("Conveyor.MotorCurrent", "conveyor", "A", 0.0, 400.0, "drive motor current"),
    _d("Conveyor.BearingTemp", "conveyor", "degC", 0.0, 120.0, "drive pulley bearing temperature"),
    _d("Conveyor.Vibration", "conveyor", "mm/s", 0.0, 50.0, "drive bearing vibration velocity RMS"),
    _d("Crusher.FeedRate", "crusher", "t/h", 0.0, 1500.0, "crusher feed rate"),
    _d("Crusher.MotorPower", "crusher", "kW", 0.0, 2000.0, "crusher motor power"),
    _d("Crusher.MotorCurrent", "crusher", "A", 0.0, 500.0, "crusher motor current"),
    _d("Crusher.BearingTemp", "crusher", "degC", 0.0, 120.0, "eccentric bearing temperature"),
    _d("Crusher.Vibration", "crusher", "mm/s", 0.0, 50.0, "crusher frame vibration velocity RMS"),
    _d("Pump.Speed", "pump", "rpm", 0.0, 1800.0, "slurry pump speed"),
    _d("Pump.Flow", "pump", "m3/h", 0.0, 2000.0, "discharge flow"),
    _d("Pump.DischargePressure", "pump", "kPa", 0.0, 1500.0, "discharge pressure"),
    _d("Pump.SuctionPressure", "pump", "kPa", -100.0, 400.0, "suction pressure"),
    _d("Pump.MotorCurrent", "pump", "A", 0.0, 400.0, "pump motor current"),
    _d("Pump.BearingTemp", "pump", "degC", 0.0, 120.0, "pump bearing temperature"),
    _d("Pump.Vibration", "pump", "mm/s", 0.0, 50.0, "pump bearing vibration velocity RMS"),
    _d("Pump.SlurryDensity", "pump", "kg/m3", 1000.0, 2000.0, "slurry density"),
)

# Writable nodes for the AI results: the write-back targets. Setpoints feed back into the process.
AI_TAGS: tuple[TagSpec, ...] = (
    TagSpec("Conveyor.SpeedSetpoint", "conveyor", "m/s", 0.5, 4.0, "Double", True, "belt speed setpoint"),
    TagSpec("Crusher.FeedRateSetpoint", "crusher", "t/h", 200.0, 1200.0, "Double", True, "feed setpoint"),
    TagSpec("Pump.SpeedSetpoint", "pump", "rpm", 600.0, 1500.0, "Double", True, "pump speed setpoint"),
    TagSpec("AI.Advisory", "ai", "", 0.0, 0.0, "String", True, "latest advisory text for operators"),
    TagSpec("AI.Conveyor.AnomalyFlag", "ai", "", 0.0, 1.0, "Boolean", True, "conveyor anomaly flag"),
    TagSpec("AI.Crusher.AnomalyFlag", "ai", "", 0.0, 1.0, "Boolean", True, "crusher anomaly flag"),
    TagSpec("AI.Pump.AnomalyFlag", "ai", "", 0.0, 1.0, "Boolean", True, "pump anomaly flag"),
    TagSpec("AI.Conveyor.AnomalyScore", "ai", "", 0.0, 1.0, "Double", True, "conveyor anomaly score"),
    TagSpec("AI.Crusher.AnomalyScore", "ai", "", 0.0, 1.0, "Double", True, "crusher anomaly score"),
    TagSpec("AI.Pump.AnomalyScore", "ai", "", 0.0, 1.0, "Double", True, "pump anomaly score"),
)

# The DCS handshake with the AI path (docs: modules/opcua_writeback/README.md). The permissive is the
# DCS's "AI writes allowed" (the plant's operators set it; initial value from PlantOptions.ai_permissive);
# the heartbeat is a counter the AI path writes every few seconds so the DCS sees it die and falls back.
PERMISSIVE_TAG = "DCS.AiWritesPermitted"
HEARTBEAT_TAG = "AI.Heartbeat"
DCS_TAGS: tuple[TagSpec, ...] = (
    TagSpec(PERMISSIVE_TAG, "dcs", "", 0.0, 1.0, "Boolean", True, "DCS permissive: AI writes allowed"),
    TagSpec(HEARTBEAT_TAG, "ai", "", 0.0, 2**31 - 1, "Int32", True, "AI path heartbeat counter"),
)

INITIAL_SETPOINTS: dict[str, float] = {
    "Conveyor.SpeedSetpoint": 2.5,
    "Crusher.FeedRateSetpoint": 800.0,
    "Pump.SpeedSetpoint": 1100.0,
}


def load_tags(count: int) -> tuple[TagSpec, ...]:
    """The `load` scenario's extra tags: `Load.Tag0000` ... (sine plus noise, for the benchmark)."""
    return tuple(
        TagSpec(f"Load.Tag{i:04d}", "load", "", -100.0, 100.0, "Double", False, "benchmark tag")
        for i in range(count)
    )


def tag_by_name() -> dict[str, TagSpec]:
    """Every process and AI tag by name."""
    return {t.name: t for t in (*PROCESS_TAGS, *AI_TAGS, *DCS_TAGS)}
