"""Real module processes under the supervisor (the hub is a recording seam here; see test_with_hub.py)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from sup_helpers import RecordingHub, probe_module, read_records, write_manifest

from edgeloop_dev.supervisor.errors import UnknownModuleError
from edgeloop_dev.supervisor.policy import ModuleState
from edgeloop_dev.supervisor.status import Event
from edgeloop_dev.supervisor.supervisor import Supervisor, SupervisorConfig
from edgeloop_runtime.testing import wait_for_async

MakeConfig = Callable[..., SupervisorConfig]


async def wait_until(
    condition: Callable[[], bool], timeout_s: float = 10.0, *, what: str | None = None
) -> None:
    await wait_for_async(condition, what, timeout=timeout_s, interval=0.05)


def starts(record: Path, name: str | None = None) -> list[dict[str, object]]:
    return [r for r in read_records(record) if r["kind"] == "start" and (name is None or r["name"] == name)]


async def test_startup_order_lowest_first_each_group_up_before_the_next(
    tmp_path: Path, record: Path, make_config: MakeConfig
) -> None:
    manifest = write_manifest(
        tmp_path / "m.json",
        {
            "last": probe_module(record=record, startupOrder=2),
            "first": probe_module(record=record, startupOrder=0),
            "unordered": probe_module(record=record),
            "second": probe_module(record=record, startupOrder=1),
        },
    )
    async with Supervisor(make_config(manifest), hub=RecordingHub()) as sup:
        assert {s.name: s.state for s in sup.status().modules} == dict.fromkeys(
            ["first", "second", "last", "unordered"], ModuleState.RUNNING
        )
    assert [r["name"] for r in starts(record)] == ["first", "second", "last", "unordered"]


async def test_module_gets_manifest_env_hub_credentials_and_its_own_metrics_port(
    tmp_path: Path, record: Path, make_config: MakeConfig
) -> None:
    manifest = write_manifest(
        tmp_path / "m.json", {"greeter": probe_module(record=record, env={"GREETING": "hello $WHO"})}
    )
    (tmp_path / ".env").write_text("WHO=plant\n")
    async with Supervisor(make_config(manifest, env_file=tmp_path / ".env"), hub=RecordingHub()) as sup:
        port = sup.status().module("greeter").metrics_port
    (start,) = starts(record)
    assert start["greeting"] == "hello plant"
    assert start["env"] == {
        "GREETING": True,
        "PYTHONUNBUFFERED": True,
        "METRICS_PORT": True,
        "EdgeHubConnectionString": False,
        "IOTEDGE_MODULEID": True,
    }
    assert port is not None
    assert "starting in mode serve" in (tmp_path / "state" / "logs" / "greeter.log").read_text()


async def test_crashing_module_backs_off_doubling_then_is_shown_failed_with_its_last_log_lines(
    tmp_path: Path, record: Path, make_config: MakeConfig
) -> None:
    events: list[Event] = []
    manifest = write_manifest(tmp_path / "m.json", {"crashy": probe_module("crash", record=record)})
    async with Supervisor(make_config(manifest), hub=RecordingHub(), on_event=events.append) as sup:
        status = await sup.wait_for("crashy", lambda s: s.state is ModuleState.FAILED, timeout_s=20)
    history = [(e.state.value, e.message) for e in events if e.module == "crashy"]
    # the first start and 3 restarts, then it gives up (a start the OS refused, e.g. fork under load,
    # also counts as a crash but leaves no record: the history says which it was)
    assert len(starts(record, "crashy")) == 4, history
    assert status.restarts == 3
    assert "gave up after 3 restarts in a row" in status.last_error
    assert any("simulated crash" in line for line in status.last_lines)
    backoffs = [e.message for e in events if e.module == "crashy" and e.state is ModuleState.BACKOFF]
    assert [m.split("restarting in ")[1] for m in backoffs] == ["0.2 s", "0.4 s", "0.8 s"]
    failed = next(e for e in events if e.state is ModuleState.FAILED)
    assert any("simulated crash" in line for line in failed.last_lines)
    assert "simulated crash" in failed.line()


@pytest.mark.parametrize(
    ("mode", "policy", "state"),
    [
        pytest.param("crash", "never", ModuleState.FAILED, id="never-after-crash"),
        pytest.param("exit0", "never", ModuleState.STOPPED, id="never-after-clean-exit"),
        pytest.param("exit0", "on-failure", ModuleState.STOPPED, id="on-failure-after-clean-exit"),
        pytest.param("exit0", "on-unhealthy", ModuleState.STOPPED, id="on-unhealthy-after-clean-exit"),
    ],
)
async def test_module_that_its_policy_does_not_restart_stays_down(
    tmp_path: Path, record: Path, make_config: MakeConfig, mode: str, policy: str, state: ModuleState
) -> None:
    manifest = write_manifest(
        tmp_path / "m.json", {"once": probe_module(mode, record=record, restartPolicy=policy)}
    )
    async with Supervisor(make_config(manifest), hub=RecordingHub()) as sup:
        status = await sup.wait_for("once", lambda s: s.state is state, timeout_s=10)
        assert f"restartPolicy {policy}: not restarted" in status.last_error
        with pytest.raises(TimeoutError):  # longer than the first cool-off: no second start
            await sup.wait_for("once", lambda s: s.restarts > 0, timeout_s=1.0)
    assert len(starts(record, "once")) == 1


async def test_on_failure_restarts_a_crash(tmp_path: Path, record: Path, make_config: MakeConfig) -> None:
    manifest = write_manifest(
        tmp_path / "m.json", {"m": probe_module("crash", record=record, restartPolicy="on-failure")}
    )
    async with Supervisor(make_config(manifest), hub=RecordingHub()) as sup:
        await sup.wait_for("m", lambda s: s.restarts >= 2, timeout_s=10)
    assert len(starts(record, "m")) >= 2


async def test_killed_module_is_restarted_and_manual_restart_revives_a_failed_one(
    tmp_path: Path, record: Path, make_config: MakeConfig
) -> None:
    manifest = write_manifest(
        tmp_path / "m.json",
        {
            "victim": probe_module(record=record),
            "quitter": probe_module("crash", record=record, restartPolicy="never"),
        },
    )
    async with Supervisor(make_config(manifest), hub=RecordingHub()) as sup:
        await wait_until(lambda: len(starts(record, "victim")) == 1)
        first_pid = sup.status().module("victim").pid
        sup.kill("victim", signal.SIGKILL)
        await wait_until(lambda: len(starts(record, "victim")) == 2)
        after = sup.status().module("victim")
        assert after.state is ModuleState.RUNNING
        assert after.pid not in (None, first_pid)
        assert after.restarts == 1
        assert "killed by signal 9" in after.last_error
        await sup.wait_for("quitter", lambda s: s.state is ModuleState.FAILED)
        with pytest.raises(UnknownModuleError):
            sup.kill("nobody")
        restarted = await sup.restart("victim")
        assert restarted.pid not in (None, first_pid, after.pid)
        assert restarted.restarts == 2
        revived = await sup.restart("quitter")
        assert revived.restarts == 1
        await wait_until(lambda: len(starts(record, "victim")) == 3 and len(starts(record, "quitter")) == 2)
    victim = [r for r in read_records(record) if r["name"] == "victim"]
    assert [r["kind"] for r in victim] == ["start", "start", "term", "start", "term"]


async def test_unhealthy_module_is_killed_and_restarted_under_on_unhealthy(
    tmp_path: Path, record: Path, make_config: MakeConfig
) -> None:
    flag = tmp_path / "unhealthy"
    events: list[Event] = []
    manifest = write_manifest(
        tmp_path / "m.json",
        {
            "sick": probe_module(
                record=record, restartPolicy="on-unhealthy", env={"PROBE_UNHEALTHY_FILE": str(flag)}
            )
        },
    )
    async with Supervisor(make_config(manifest), hub=RecordingHub(), on_event=events.append) as sup:
        first = await sup.wait_for("sick", lambda s: s.state is ModuleState.RUNNING)
        flag.touch()
        status = await sup.wait_for("sick", lambda s: s.restarts >= 1, timeout_s=15)
        flag.unlink()
        assert "unhealthy" in status.last_error
        await sup.wait_for("sick", lambda s: s.state is ModuleState.RUNNING and s.pid != first.pid)
    assert ModuleState.UNHEALTHY in [e.state for e in events if e.module == "sick"]


async def test_stopped_in_manifest_is_not_started(
    tmp_path: Path, record: Path, make_config: MakeConfig
) -> None:
    manifest = write_manifest(tmp_path / "m.json", {"idle": probe_module(record=record, status="stopped")})
    async with Supervisor(make_config(manifest), hub=RecordingHub()) as sup:
        assert sup.status().module("idle").state is ModuleState.STOPPED
    assert starts(record) == []


async def test_stop_terminates_modules_gracefully_then_the_hub(
    tmp_path: Path, record: Path, make_config: MakeConfig
) -> None:
    hub = RecordingHub()
    manifest = write_manifest(
        tmp_path / "m.json",
        {
            "polite": probe_module(record=record, startupOrder=0),
            "stubborn": probe_module("ignore-term", record=record, startupOrder=1),
        },
    )
    sup = Supervisor(make_config(manifest, stop_grace_s=0.5), hub=hub)
    await sup.start()
    await sup.stop()
    snapshot = sup.status()
    assert snapshot.module("polite").exit_code == 0  # SIGTERM honoured
    assert snapshot.module("stubborn").exit_code == -signal.SIGKILL  # SIGKILL after the grace period
    terms = [r for r in read_records(record) if r["kind"] == "term"]
    assert [r["name"] for r in terms] == ["polite"]
    hub_stop = dict(hub.calls)["stop"]
    assert terms[0]["t"] < hub_stop
    assert "ignoring SIGTERM" in (tmp_path / "state" / "logs" / "stubborn.log").read_text()
    assert snapshot.hub.state is ModuleState.STOPPED
