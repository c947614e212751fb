"""The status table and the hub-metrics parsing, from plain data."""

from __future__ import annotations

from rich.console import Console

from edgeloop_dev.supervisor.metrics import Counts, message_counts
from edgeloop_dev.supervisor.policy import ModuleState
from edgeloop_dev.supervisor.spec import SkippedModule
from edgeloop_dev.supervisor.status import ModuleStatus, Snapshot
from edgeloop_dev.supervisor.view import duration, plain, render

HUB_METRICS = """\
# TYPE edgehub_messages_received counter
edgehub_messages_received_total{iothub="h",edge_device="d",instance_number="1",protocol="mqtt",id="d/ingest"} 7.0
edgehub_messages_received_total{iothub="h",edge_device="d",instance_number="1",protocol="mqtt",id="d/filter"} 2.0
# TYPE edgehub_messages_sent counter
edgehub_messages_sent_total{iothub="h",edge_device="d",instance_number="1",from="",to="filter",from_route_output="",to_route_input="telemetry",priority="0"} 5.0
edgehub_messages_sent_total{iothub="h",edge_device="d",instance_number="1",from="",to="filter",from_route_output="",to_route_input="scores",priority="2"} 1.0
edgehub_messages_sent_total{iothub="h",edge_device="d",instance_number="1",from="filter",to="upstream",from_route_output="x",to_route_input="",priority="2"} 2.0
# TYPE edgehub_queue_length gauge
edgehub_queue_length{iothub="h",edge_device="d",instance_number="1",endpoint="filter/telemetry",priority="0"} 3.0
"""


def test_messages_in_are_deliveries_to_a_module_and_out_are_messages_it_sent() -> None:
    assert message_counts(HUB_METRICS, ["ingest", "filter", "idle"]) == {
        "ingest": Counts(messages_in=0, messages_out=7),
        "filter": Counts(messages_in=6, messages_out=2),
        "idle": Counts(),
    }


def snapshot() -> Snapshot:
    return Snapshot(
        hub=ModuleStatus("$edgeHub", ModuleState.RUNNING, pid=10, uptime_s=75.0),
        modules=(
            ModuleStatus("ingest", ModuleState.RUNNING, pid=11, uptime_s=3700.0, messages_out=7),
            ModuleStatus(
                "filter",
                ModuleState.FAILED,
                restarts=5,
                last_error="exited with code 1; gave up after 5 restarts in a row",
                last_lines=("Traceback (most recent call last):", "KeyError: 'threshold'"),
            ),
            ModuleStatus("writer", ModuleState.BACKOFF, restarts=1, next_start_in_s=3.2),
        ),
        skipped=(SkippedModule("SimulatedTemperatureSensor", "not a module of this repo (image mcr/x)"),),
    )


def test_table_shows_every_module_and_the_last_log_lines_of_a_failing_one() -> None:
    console = Console(width=160, record=True, color_system=None)
    console.print(render(snapshot(), "/tmp/state"))
    text = console.export_text()
    for expected in ("$edgeHub", "ingest", "1h01m", "failed", "backoff (3.2s)", "gave up after 5 restarts"):
        assert expected in text
    assert "filter: last log lines" in text and "KeyError: 'threshold'" in text
    assert "SimulatedTemperatureSensor" in text and "not run" in text
    assert "Ctrl-C" in text


def test_plain_summary_has_one_line_per_process() -> None:
    lines = plain(snapshot()).splitlines()
    assert len(lines) == 4
    assert lines[2].startswith("filter") and "restarts=5" in lines[2] and "gave up" in lines[2]


def test_durations_read_naturally() -> None:
    assert [duration(s) for s in (None, 5.9, 65, 3725)] == ["", "5s", "1m05s", "1h02m"]
