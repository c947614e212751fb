"""Restart decisions and edgeAgent-like back-off, as pure functions of what happened to a process."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from edgeloop_dev.supervisor.spec import RestartPolicy


@dataclass(frozen=True)
class BackoffConfig:
    """Cool-off `unit * 2**n` capped at `max_s`; `failed` after `max_restarts` fast failures in a row.

    A module that ran for `healthy_after_s` before it exited has its count of failures in a row reset
    (edgeAgent's "intensive care" time). Defaults are scaled down from edgeAgent's for a laptop.
    """

    unit_s: float = 1.0
    max_s: float = 30.0
    max_restarts: int = 5
    healthy_after_s: float = 30.0

    @classmethod
    def edge_agent(cls) -> BackoffConfig:
        """edgeAgent's own values: 10 s doubling to 5 min, 20 restarts, 10 min intensive care."""
        return cls(unit_s=10.0, max_s=300.0, max_restarts=20, healthy_after_s=600.0)

    def cool_off(self, failures_in_row: int) -> float:
        """Seconds to wait before the next start, after `failures_in_row` earlier restarts."""
        return float(min(self.unit_s * 2 ** min(failures_in_row, 62), self.max_s))


@dataclass(frozen=True)
class HealthConfig:
    """How `/healthz` is probed: every `interval_s`, `threshold` failures in a row after `grace_s`."""

    interval_s: float = 2.0
    timeout_s: float = 1.0
    threshold: int = 3
    grace_s: float = 10.0


class ModuleState(enum.StrEnum):
    """What a supervised module is doing now (edgeAgent's runtime statuses plus local steps)."""

    PENDING = "pending"  # waiting for its startup group
    STARTING = "starting"
    RUNNING = "running"
    UNHEALTHY = "unhealthy"
    BACKOFF = "backoff"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class Exit:
    """How a process ended: its return code (negative: killed by that signal), or killed as unhealthy."""

    returncode: int
    uptime_s: float
    unhealthy: bool = False

    @property
    def failed(self) -> bool:
        """True for a crash, a non-zero exit or an unhealthy kill."""
        return self.unhealthy or self.returncode != 0


@dataclass(frozen=True)
class Decision:
    """What to do after an exit: the next state, the delay before a restart, and the updated count."""

    state: ModuleState
    delay_s: float | None
    failures_in_row: int
    reason: str

    @property
    def restart(self) -> bool:
        """True when the module is to be started again after `delay_s`."""
        return self.delay_s is not None


def probes_health(policy: RestartPolicy) -> bool:
    """Only the policies that act on health need the module's `/healthz` probed."""
    return policy in (RestartPolicy.ON_UNHEALTHY, RestartPolicy.ALWAYS)


def describe(exit: Exit) -> str:
    """A short human description of an exit."""
    if exit.unhealthy:
        return "unhealthy (/healthz failing)"
    if exit.returncode < 0:
        return f"killed by signal {-exit.returncode}"
    return f"exited with code {exit.returncode}"


def after_exit(policy: RestartPolicy, exit: Exit, failures_in_row: int, config: BackoffConfig) -> Decision:
    """Decide, as edgeAgent's RestartPolicyManager does, whether and when to start a module again."""
    if exit.uptime_s >= config.healthy_after_s:
        failures_in_row = 0  # it ran well for a while: this is a fresh failure, not one more in a row
    what = describe(exit)
    wants_restart = policy is RestartPolicy.ALWAYS or (
        exit.failed and policy in (RestartPolicy.ON_FAILURE, RestartPolicy.ON_UNHEALTHY)
    )
    if not wants_restart:
        state = ModuleState.FAILED if exit.failed else ModuleState.STOPPED
        return Decision(state, None, failures_in_row, f"{what}; restartPolicy {policy.value}: not restarted")
    if failures_in_row >= config.max_restarts:
        return Decision(
            ModuleState.FAILED,
            None,
            failures_in_row,
            f"{what}; gave up after {failures_in_row} restarts in a row",
        )
    delay = config.cool_off(failures_in_row)
    return Decision(ModuleState.BACKOFF, delay, failures_in_row + 1, f"{what}; restarting in {delay:g} s")


@dataclass
class HealthTracker:
    """Counts failed `/healthz` probes in a row and says when a running module is unhealthy."""

    config: HealthConfig
    failures: int = 0

    def observe(self, ok: bool, uptime_s: float) -> bool:
        """Record one probe; return True when the module is to be treated as unhealthy."""
        if ok:
            self.failures = 0
            return False
        if uptime_s < self.config.grace_s:
            return False  # still starting: a refused connection is expected
        self.failures += 1
        return self.failures >= self.config.threshold
