"""Restart decisions and back-off: edgeAgent's semantics, scaled down and configurable."""

from __future__ import annotations

import pytest

from edgeloop_dev.supervisor.envfile import expand, parse_env_text
from edgeloop_dev.supervisor.errors import ManifestError
from edgeloop_dev.supervisor.policy import (
    BackoffConfig,
    Exit,
    HealthConfig,
    HealthTracker,
    ModuleState,
    after_exit,
    probes_health,
)
from edgeloop_dev.supervisor.spec import RestartPolicy

CONFIG = BackoffConfig(unit_s=1.0, max_s=8.0, max_restarts=5, healthy_after_s=30.0)
CRASH = Exit(returncode=1, uptime_s=0.5)
CLEAN = Exit(returncode=0, uptime_s=0.5)
KILLED = Exit(returncode=-9, uptime_s=0.5)
UNHEALTHY = Exit(returncode=-15, uptime_s=20.0, unhealthy=True)


def test_edge_agent_cool_off_doubles_from_10_s_up_to_5_min() -> None:
    config = BackoffConfig.edge_agent()
    assert [config.cool_off(n) for n in range(7)] == [10, 20, 40, 80, 160, 300, 300]


@pytest.mark.parametrize(
    ("policy", "exit", "restarts"),
    [
        pytest.param(RestartPolicy.ALWAYS, CRASH, True, id="always-crash"),
        pytest.param(RestartPolicy.ALWAYS, CLEAN, True, id="always-clean-exit"),
        pytest.param(RestartPolicy.ALWAYS, UNHEALTHY, True, id="always-unhealthy"),
        pytest.param(RestartPolicy.ON_FAILURE, CRASH, True, id="on-failure-crash"),
        pytest.param(RestartPolicy.ON_FAILURE, KILLED, True, id="on-failure-killed"),
        pytest.param(RestartPolicy.ON_FAILURE, CLEAN, False, id="on-failure-clean-exit"),
        pytest.param(RestartPolicy.ON_UNHEALTHY, UNHEALTHY, True, id="on-unhealthy-unhealthy"),
        pytest.param(RestartPolicy.ON_UNHEALTHY, CRASH, True, id="on-unhealthy-crash"),
        pytest.param(RestartPolicy.ON_UNHEALTHY, CLEAN, False, id="on-unhealthy-clean-exit"),
        pytest.param(RestartPolicy.NEVER, CRASH, False, id="never-crash"),
        pytest.param(RestartPolicy.NEVER, CLEAN, False, id="never-clean-exit"),
    ],
)
def test_restart_policy_decides_whether_to_start_again(
    policy: RestartPolicy, exit: Exit, restarts: bool
) -> None:
    assert after_exit(policy, exit, 0, CONFIG).restart is restarts


def test_a_module_that_is_not_restarted_is_failed_after_a_failure_and_stopped_after_a_clean_exit() -> None:
    assert after_exit(RestartPolicy.NEVER, CRASH, 0, CONFIG).state is ModuleState.FAILED
    assert after_exit(RestartPolicy.ON_FAILURE, CLEAN, 0, CONFIG).state is ModuleState.STOPPED


def test_fast_failures_back_off_doubling_then_give_up_as_failed() -> None:
    delays: list[float | None] = []
    failures = 0
    for _ in range(7):
        decision = after_exit(RestartPolicy.ALWAYS, CRASH, failures, CONFIG)
        delays.append(decision.delay_s)
        failures = decision.failures_in_row
    assert delays == [1, 2, 4, 8, 8, None, None]
    final = after_exit(RestartPolicy.ALWAYS, CRASH, failures, CONFIG)
    assert final.state is ModuleState.FAILED
    assert "gave up after 5 restarts" in final.reason


def test_a_module_that_ran_well_for_a_while_starts_its_back_off_afresh() -> None:
    decision = after_exit(RestartPolicy.ALWAYS, Exit(returncode=1, uptime_s=31.0), 4, CONFIG)
    assert (decision.delay_s, decision.failures_in_row) == (1.0, 1)


def test_the_reason_says_what_happened() -> None:
    assert "killed by signal 9" in after_exit(RestartPolicy.ALWAYS, KILLED, 0, CONFIG).reason
    assert (
        "exited with code 1; restartPolicy never" in after_exit(RestartPolicy.NEVER, CRASH, 0, CONFIG).reason
    )
    assert "unhealthy" in after_exit(RestartPolicy.ON_UNHEALTHY, UNHEALTHY, 0, CONFIG).reason


def test_health_is_probed_only_for_policies_that_act_on_it() -> None:
    assert [policy.value for policy in RestartPolicy if probes_health(policy)] == ["on-unhealthy", "always"]


def test_health_tracker_tolerates_startup_and_needs_failures_in_a_row() -> None:
    tracker = HealthTracker(HealthConfig(threshold=3, grace_s=5.0))
    assert not any(tracker.observe(False, uptime_s=1.0) for _ in range(10))  # grace period
    assert [tracker.observe(False, 6.0), tracker.observe(False, 7.0)] == [False, False]
    assert tracker.observe(True, 8.0) is False  # a good probe resets the count
    assert [tracker.observe(False, 9.0) for _ in range(3)] == [False, False, True]


def test_env_file_is_parsed_and_expanded() -> None:
    values = parse_env_text('# registry\nexport REGISTRY="localhost:5000"\nHOST=127.0.0.1\n\nEMPTY=\n')
    assert values == {"REGISTRY": "localhost:5000", "HOST": "127.0.0.1", "EMPTY": ""}
    assert (
        expand("$REGISTRY/x:${HOST}-$MISSING ${MODULES.a}", values)
        == "localhost:5000/x:127.0.0.1-$MISSING ${MODULES.a}"
    )


def test_env_file_with_a_bad_line_names_the_line() -> None:
    with pytest.raises(ManifestError, match=r"\.env:2"):
        parse_env_text("A=1\nnot a pair\n")
