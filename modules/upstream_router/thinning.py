"""Down-sampling of summaries when over budget: consecutive summaries of an asset merge into one."""

from __future__ import annotations

from typing import Any


def merge_summaries(envelopes: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary envelope covering all of these (same asset), min/max/mean/count combined."""
    first = envelopes[0]
    datas = [e["data"] for e in envelopes]
    fields: dict[str, dict[str, float]] = {}
    for d in datas:
        for name, agg in (d.get("fields") or {}).items():
            cur = fields.get(name)
            if cur is None:
                fields[name] = dict(agg)
                continue
            n = cur["count"] + agg["count"]
            cur["mean"] = (cur["mean"] * cur["count"] + agg["mean"] * agg["count"]) / n if n else 0.0
            cur["min"] = min(cur["min"], agg["min"])
            cur["max"] = max(cur["max"], agg["max"])
            cur["count"] = n
    data = {
        "asset": first["data"].get("asset"),
        "periodStart": min(d.get("periodStart", "") for d in datas),
        "periodEnd": max(d.get("periodEnd", "") for d in datas),
        "fields": fields,
        "anomalies": sum(int(d.get("anomalies", 0)) for d in datas),
        "merged": sum(int(d.get("merged", 1)) for d in datas),
    }
    return {**first, "data": data}
