"""The demo's report: a PNG timeline of faults, anomalies and write-backs, and an HTML page around it."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path

from edgeloop_dev.demo.observe import DemoState, parse_ts
from edgeloop_dev.demo.summary import Summary
from edgeloop_dev.plant import ASSETS, Fault


def timeline_rows(state: DemoState) -> dict[str, int]:
    """One labelled row per plant asset, then one per other source of anomalies (a camera), in order
    of appearance; the plant writes take the row after these."""
    names = list(ASSETS)
    for anomaly in state.anomaly_opens:
        name = str(anomaly.get("asset") or "unknown")
        if name not in names:
            names.append(name)
    return {name: i for i, name in enumerate(names)}


def plot(state: DemoState, faults: Sequence[Fault], plant_start: float, summary: Summary, path: Path) -> None:
    """Timeline per asset (fault spans, anomaly opens, plant writes) and the latency distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (timeline, latency) = plt.subplots(
        2, 1, figsize=(11, 6.5), gridspec_kw={"height_ratios": [2, 1]}, constrained_layout=True
    )
    rows = timeline_rows(state)
    writes_row = len(rows)
    for fault in faults:
        if fault.start_s > summary.duration_s:
            continue
        y = rows.get(fault.asset, len(rows))
        timeline.broken_barh(
            [(fault.start_s, max(fault.end_s - fault.start_s, 0.5))],
            (y - 0.3, 0.6),
            color="#f4a261",
            alpha=0.7,
        )
        timeline.text(fault.start_s, y + 0.33, fault.kind, fontsize=7)
    for anomaly in state.anomaly_opens:
        when = parse_ts(anomaly.get("sourceTimestamp")) or anomaly.get("_enqueued")
        if when is None:
            continue
        timeline.plot(when - plant_start, rows[str(anomaly.get("asset") or "unknown")], "rv", markersize=8)
    for record in state.plant_writes:
        when = parse_ts(record.get("ts") or record.get("timestamp"))
        if when is not None:
            timeline.plot(when - plant_start, writes_row, "g|", markersize=12)
    timeline.set_yticks([*rows.values(), writes_row], [*rows.keys(), "plant writes"])
    timeline.set_ylim(-0.7, writes_row + 0.7)
    timeline.set_xlabel("seconds since the plant started")
    timeline.set_title(
        "injected faults (bars), anomalies opened (red), write-backs applied in the plant (green)"
    )
    data = [v for v in state.writeback_latency_ms if v >= 0]
    if data:
        latency.hist(data, bins=30, color="#2a9d8f")
    latency.set_xlabel("closed-loop latency, OPC UA source timestamp -> write-back applied (ms)")
    latency.set_ylabel("write-backs")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(
    state: DemoState, faults: Sequence[Fault], plant_start: float, summary: Summary, folder: Path
) -> Path:
    """Write report.png and report.html into folder; return the HTML path."""
    png = folder / "report.png"
    plot(state, faults, plant_start, summary, png)
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v))}</td></tr>"
        for k, v in summary.to_dict().items()
    )
    image = base64.b64encode(png.read_bytes()).decode()
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>edgeloop demo report</title>
<style>body{{font-family:sans-serif;margin:2em}}th{{text-align:left;padding-right:1em}}</style></head>
<body><h1>edgeloop demo: {"loop closed" if summary.loop_closed else "loop NOT closed"}</h1>
<table>{rows}</table><p><img alt="timeline" src="data:image/png;base64,{image}"></p></body></html>"""
    out = folder / "report.html"
    out.write_text(page, encoding="utf-8")
    return out
