"""Ground truth across plant restarts: each run of the plant replays its seeded schedule from its start."""

from __future__ import annotations

from dataclasses import dataclass

from edgeloop_dev.plant import Fault, fault_schedule


@dataclass(frozen=True)
class PlantRun:
    """One life of the plant process: wall-clock start (its schedule's `startedAt`) and stop."""

    started_at: float
    stopped_at: float | None = None


@dataclass(frozen=True)
class InjectedFault:
    """A fault of the schedule placed on the wall clock (epoch seconds)."""

    fault: Fault
    start: float
    end: float

    @property
    def id(self) -> str:
        """Unique across plant runs: the fault id and the run's start second."""
        return f"{self.fault.id}@{int(self.start)}"

    @property
    def kind(self) -> str:
        """The fault kind."""
        return self.fault.kind

    @property
    def asset(self) -> str:
        """The asset it hits."""
        return self.fault.asset


def injected_faults(
    seed: int, runs: list[PlantRun], until: float, scenario: str = "demo"
) -> list[InjectedFault]:
    """Faults that ran to their end inside a plant run, before `until` (a fault cut by a stop is left out)."""
    schedule = fault_schedule(seed, scenario)
    out: list[InjectedFault] = []
    for run in runs:
        stop = min(run.stopped_at if run.stopped_at is not None else until, until)
        for fault in schedule.faults:
            start, end = run.started_at + fault.start_s, run.started_at + fault.end_s
            if start >= stop:
                break
            if end <= stop:
                out.append(InjectedFault(fault, start, end))
    return out
