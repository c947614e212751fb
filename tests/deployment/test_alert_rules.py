"""The shipped Prometheus alert rules are valid and fire (or stay quiet) as their promtool unit tests say."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from deploy_helpers import DEPLOYMENT

MONITORING = DEPLOYMENT / "monitoring"
ASKED = {  # what the GPU sample asks alerts for → the rules that answer it
    "gpu temperature": {"EdgeGpuTemperatureHigh", "EdgeGpuTemperatureCritical"},
    "disk space": {"EdgeDiskSpaceLow", "EdgeDiskSpaceCritical"},
    "module failing or restarting": {"EdgeModuleRestarting", "EdgeModuleNotRunning", "EdgeModuleUnhealthy"},
    "disconnected / backlog": {"EdgeHubOffline", "EdgeUpstreamLinkDown", "EdgeUpstreamBacklogGrowing"},
}


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not installed (Debian: apt-get install prometheus; scripts/test installs it)")
    return path


def test_rules_are_valid_prometheus_rules() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", "edgeloop.rules.yml"], cwd=MONITORING, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_alert_fires_when_it_should_and_not_on_the_near_miss() -> None:
    result = subprocess.run(
        [_promtool(), "test", "rules", "rules.test.yml"], cwd=MONITORING, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_ask_has_rules_and_every_rule_has_a_unit_test() -> None:
    rules = yaml.safe_load((MONITORING / "edgeloop.rules.yml").read_text())
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert set().union(*ASKED.values()) == names
    tests = yaml.safe_load((MONITORING / "rules.test.yml").read_text())
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"]}
    assert tested == names


def test_the_azure_monitor_queries_cover_the_same_alerts() -> None:
    text = (MONITORING / "azure-monitor-alerts.kql").read_text()
    covered = set(re.findall(r"^// --- (\w+):", text, flags=re.M))
    assert covered >= {"EdgeGpuTemperatureHigh", "EdgeDiskSpaceLow", "EdgeModuleRestarting", "EdgeHubOffline"}
