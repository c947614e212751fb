"""`edgeloop run` as a developer runs it: a real process, plain log lines, Ctrl-C, exit 0."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sup_helpers import FIXTURES, probe_module, read_records, write_manifest


def run_cli(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "edgeloop_dev.cli", "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_run_no_tui_prints_state_changes_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path, record: Path, hub_host: str
) -> None:
    manifest = write_manifest(
        tmp_path / "m.json",
        {
            "steady": probe_module(record=record),
            "crashy": probe_module("crash", record=record, restartPolicy="never"),
        },
    )
    state = tmp_path / "state"
    args = ["--manifest", str(manifest), "--state-dir", str(state), "--host", hub_host, "--no-tui"]
    process = run_cli([*args, "--module-path", str(FIXTURES), "--stop-grace", "3"])
    try:
        deadline = time.monotonic() + 60
        while not any(r["name"] == "steady" for r in read_records(record)) and time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            time.sleep(0.1)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "$edgeHub" in output and "running" in output
    assert "crashy" in output and "failed" in output and "simulated crash" in output  # its last log lines
    assert [r["name"] for r in read_records(record) if r["kind"] == "term"] == ["steady"]
    lines = output.splitlines()
    last_hub = max(i for i, line in enumerate(lines) if "$edgeHub" in line and "stopped" in line)
    last_module = max(
        i for i, line in enumerate(lines) if line.split()[1:2] == ["steady"] and "stopped" in line
    )
    assert last_module < last_hub


def test_run_with_a_bad_manifest_exits_2_with_the_reason(tmp_path: Path) -> None:
    manifest = tmp_path / "m.json"
    manifest.write_text(
        '{"modulesContent": {"$edgeAgent": {"properties.desired": {"modules": {"a": {"restartPolicy": "sometimes", "settings": {"image": "${MODULES.a}"}}}}}}}'
    )
    process = run_cli(["--manifest", str(manifest), "--state-dir", str(tmp_path / "s"), "--no-tui"])
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "modules.a.restartPolicy" in output


def test_modules_and_hub_do_not_outlive_a_hard_killed_supervisor(
    tmp_path: Path, record: Path, hub_host: str
) -> None:
    manifest = write_manifest(tmp_path / "m.json", {"orphan": probe_module(record=record)})
    args = [
        "--manifest",
        str(manifest),
        "--state-dir",
        str(tmp_path / "state"),
        "--host",
        hub_host,
        "--no-tui",
    ]
    process = run_cli([*args, "--module-path", str(FIXTURES)])
    try:
        deadline = time.monotonic() + 60
        while not read_records(record) and time.monotonic() < deadline:
            assert process.poll() is None
            time.sleep(0.1)
        process.kill()  # no chance to stop anything itself
        process.communicate(timeout=10)
        deadline = time.monotonic() + 10
        while not [r for r in read_records(record) if r["kind"] == "term"] and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
    assert [r["name"] for r in read_records(record) if r["kind"] == "term"] == ["orphan"]
    for _ in range(100):
        try:
            socket.create_connection((hub_host, 8883), timeout=0.5).close()
        except OSError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the hub still listens after its supervisor was killed")
