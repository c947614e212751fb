"""Plant simulator: an OPC UA server standing in for a DCS, with a seeded ground-truth fault schedule.

`fault_schedule(seed, scenario)` gives the ground truth without running a server; `PlantServer` runs it
in-process (`async with`), `PlantProcess` as a subprocess (start/stop/kill/restart).
"""

from __future__ import annotations

from .audit import AUDIT_FILE, read_audit
from .faults import SCENARIOS, Fault, FaultSchedule, fault_schedule
from .model import PlantModel
from .process import PlantProcess, free_port
from .server import SCHEDULE_FILE, PlantOptions, PlantServer
from .tags import (
    AI_TAGS,
    ASSETS,
    DCS_TAGS,
    HEARTBEAT_TAG,
    NAMESPACE_URI,
    PERMISSIVE_TAG,
    PROCESS_TAGS,
    TagSpec,
    load_tags,
)

__all__ = [
    "AI_TAGS",
    "ASSETS",
    "AUDIT_FILE",
    "DCS_TAGS",
    "HEARTBEAT_TAG",
    "NAMESPACE_URI",
    "PERMISSIVE_TAG",
    "PROCESS_TAGS",
    "SCENARIOS",
    "SCHEDULE_FILE",
    "Fault",
    "FaultSchedule",
    "PlantModel",
    "PlantOptions",
    "PlantProcess",
    "PlantServer",
    "TagSpec",
    "fault_schedule",
    "free_port",
    "load_tags",
    "read_audit",
]
