"""The plant's ground truth and process model, without a server."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from itertools import pairwise
from typing import get_args

import pytest

from edgeloop_dev.cli import main as cli_main
from edgeloop_dev.plant import ASSETS, PROCESS_TAGS, FaultSchedule, PlantModel, fault_schedule
from edgeloop_dev.plant.faults import Fault, FaultKind


def run(model: PlantModel, start: float, end: float, dt: float = 0.1) -> list[dict[str, float]]:
    out = []
    t = start
    while t < end:
        out.append({k: s.value for k, s in model.step(t).items()})
        t += dt
    return out


def test_same_seed_same_schedule_other_seed_other_schedule() -> None:
    a, b, c = fault_schedule(7, "demo"), fault_schedule(7, "demo"), fault_schedule(8, "demo")
    assert a == b
    assert a.faults != c.faults


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed{s}") for s in (1, 2, 3, 42)])
def test_demo_has_a_fault_early_and_then_regularly(seed: int) -> None:
    sched = fault_schedule(seed, "demo", horizon_s=600)
    first = sched.faults[0]
    assert 12.0 <= first.start_s <= 18.0
    assert first.kind in ("bearing_wear", "cavitation")
    gaps = [b.start_s - a.end_s for a, b in zip(sched.faults, sched.faults[1:], strict=False)]
    assert all(g >= 5.0 for g in gaps), "faults do not overlap"
    assert 10 <= len(sched.faults) <= 20, "one every 30-50 s"
    assert len({f.kind for f in sched.faults}) >= 4


@pytest.mark.parametrize("scenario", [pytest.param("steady", id="steady"), pytest.param("load", id="load")])
def test_steady_and_load_have_no_faults(scenario: str) -> None:
    assert fault_schedule(1, scenario).faults == ()


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        fault_schedule(1, "nope")


def test_schedule_json_names_tags_and_times() -> None:
    doc = json.loads(fault_schedule(3, "demo", 200).to_json("2026-01-01T00:00:00.000Z"))
    assert doc["startedAt"] == "2026-01-01T00:00:00.000Z"
    f = doc["faults"][0]
    assert {"id", "kind", "asset", "tags", "startS", "endS"} <= f.keys()
    known = {t.name for t in PROCESS_TAGS}
    assert all(set(x["tags"]) <= known for x in doc["faults"])


def test_cli_prints_the_schedule(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["plant", "--seed", "5", "--print-schedule"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["faults"][0]["startS"] == fault_schedule(5, "demo").faults[0].start_s


def one_fault(kind: str, tags: tuple[str, ...], asset: str = "pump") -> FaultSchedule:
    return FaultSchedule(1, "test", 100, (Fault("F1", kind, asset, tags, 10.0, 40.0, 1.0),))  # type: ignore[arg-type]


def test_signals_are_correlated_pump_flow_follows_speed_setpoint() -> None:
    model = PlantModel(fault_schedule(1, "steady"))
    before = run(model, 0, 30)
    model.setpoints["Pump.SpeedSetpoint"] = 1400.0
    after = run(model, 30, 60)

    def mean(rows: list[dict[str, float]], k: str) -> float:
        return statistics.mean(r[k] for r in rows[-50:])

    assert mean(after, "Pump.Flow") > mean(before, "Pump.Flow") * 1.15
    assert mean(after, "Pump.MotorCurrent") > mean(before, "Pump.MotorCurrent")
    assert mean(after, "Pump.DischargePressure") > mean(before, "Pump.DischargePressure")


def test_bearing_wear_raises_vibration_and_temperature() -> None:
    model = PlantModel(one_fault("bearing_wear", ("Pump.Vibration", "Pump.BearingTemp")))
    rows = run(model, 0, 40)
    normal, worn = rows[60:100], rows[-20:]
    assert statistics.mean(r["Pump.Vibration"] for r in worn) > 2 * statistics.mean(
        r["Pump.Vibration"] for r in normal
    )
    assert (
        statistics.mean(r["Pump.BearingTemp"] for r in worn)
        > statistics.mean(r["Pump.BearingTemp"] for r in normal) + 5
    )


def test_cavitation_drops_suction_pressure_and_flow() -> None:
    model = PlantModel(one_fault("cavitation", ("Pump.SuctionPressure", "Pump.Flow")))
    rows = run(model, 0, 30)
    normal, cav = rows[50:100], rows[-50:]
    assert statistics.mean(r["Pump.SuctionPressure"] for r in cav) < 40
    assert statistics.mean(r["Pump.SuctionPressure"] for r in normal) > 100
    assert statistics.mean(r["Pump.Flow"] for r in cav) < 0.8 * statistics.mean(
        r["Pump.Flow"] for r in normal
    )


def test_spike_is_ten_times_and_dip_minus_ten_times() -> None:
    checks: tuple[tuple[str, Callable[[float, float], bool]], ...] = (
        ("spike", lambda v, base: v > 8 * base),
        ("dip", lambda v, base: v < -8 * base),
    )
    for kind, check in checks:
        model = PlantModel(one_fault(kind, ("Pump.Flow",)))
        base = run(model, 0, 9.9)[-1]["Pump.Flow"]
        v = model.step(10.0)["Pump.Flow"].value
        assert check(v, base), (kind, v, base)


def test_stuck_sensor_repeats_its_last_value_then_recovers() -> None:
    model = PlantModel(one_fault("stuck", ("Pump.Flow",)))
    rows = run(model, 0, 45)
    stuck = [r["Pump.Flow"] for r in rows[101:399]]
    assert len(set(stuck)) == 1
    assert len({r["Pump.Flow"] for r in rows[-40:]}) > 30


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        pytest.param("bad_status", "BadSensorFailure", id="bad"),
        pytest.param("uncertain_status", "UncertainLastUsableValue", id="uncertain"),
    ],
)
def test_status_periods(kind: str, status: str) -> None:
    model = PlantModel(one_fault(kind, ("Pump.Flow",)))
    run(model, 0, 9.95)
    assert model.step(20.0)["Pump.Flow"].status == status
    assert model.step(20.0)["Pump.Vibration"].status == "Good"
    assert model.step(41.0)["Pump.Flow"].status == "Good"


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed{s}") for s in (1, 7, 42)])
def test_the_tour_shows_every_kind_and_every_asset_within_two_minutes(seed: int) -> None:
    sched = fault_schedule(seed, "tour", horizon_s=600)
    early = [f for f in sched.faults if f.end_s <= 120.0]
    assert {f.kind for f in early} == set(get_args(FaultKind))
    assert {f.asset for f in early} == set(ASSETS)
    for asset in ASSETS:  # one asset's faults apart, so each opens an anomaly of its own
        own = [f for f in sched.faults if f.asset == asset]
        assert all(b.start_s - a.end_s >= 5.0 for a, b in pairwise(own)), asset
    assert all(f.start_s >= 120.0 for f in sched.faults[len(early) :]), "then the demo's random faults"
    known = {t.name for t in PROCESS_TAGS}
    assert all(
        set(f.tags) <= known and f.asset in f.tags[0].lower() for f in sched.faults if f.kind != "cavitation"
    )


def test_held_faults_show_nothing_and_count_from_where_they_start() -> None:
    model = PlantModel(one_fault("bad_status", ("Pump.Flow",)))
    model.faults_from = None
    run(model, 0, 20)
    assert model.step(20.0)["Pump.Flow"].status == "Good", "a held fault was injected"
    model.faults_from = 25.0
    assert model.step(30.0)["Pump.Flow"].status == "Good", "the fault came before its 10 s after the start"
    assert model.step(36.0)["Pump.Flow"].status == "BadSensorFailure", (
        "the fault did not come 10 s after the start"
    )
    assert model.step(66.0)["Pump.Flow"].status == "Good", "the fault did not end 40 s after the start"
