"""`edgeloop run`: the local edgeAgent: the hub plus every repo module as a supervised process.

Python API (the demo and the chaos suite drive it)::

    from edgeloop_dev.supervisor import Supervisor, SupervisorConfig

    async with Supervisor(SupervisorConfig(manifest=path, state_dir=state, host="127.0.0.1")) as sup:
        sup.status()                      # Snapshot: hub + one ModuleStatus per module
        sup.kill("inference", SIGKILL)    # chaos: the restart policy applies as to any exit
        await sup.restart("inference")    # as `iotedge restart`: back-off count reset
        await sup.wait_for("inference", lambda s: s.state is ModuleState.RUNNING)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeloop_dev.supervisor.policy import BackoffConfig, HealthConfig, ModuleState
    from edgeloop_dev.supervisor.status import Event, ModuleStatus, Snapshot
    from edgeloop_dev.supervisor.supervisor import HUB, Supervisor, SupervisorConfig

__all__ = [
    "HUB",
    "BackoffConfig",
    "Event",
    "HealthConfig",
    "ModuleState",
    "ModuleStatus",
    "Snapshot",
    "Supervisor",
    "SupervisorConfig",
]

_HOMES = {
    "BackoffConfig": "policy",
    "HealthConfig": "policy",
    "ModuleState": "policy",
    "Event": "status",
    "ModuleStatus": "status",
    "Snapshot": "status",
    "HUB": "supervisor",
    "Supervisor": "supervisor",
    "SupervisorConfig": "supervisor",
}


def __getattr__(name: str) -> Any:
    """Import the public names lazily, so that `edgeloop --help` stays fast."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"edgeloop_dev.supervisor.{home}"), name)
