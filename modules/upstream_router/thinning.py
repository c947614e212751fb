"""Down-sampling of summaries when over budget: consecutive summaries of an asset merge into one."""

from __future__ import annotations

import math
from typing import Any

from edgeloop_runtime.errors import ContractError

_AGGREGATES = ("min", "max", "mean", "count")


def check_summary(data: object) -> None:
    """ContractError unless `data` is a summary the thinning can merge (checked before it is stored)."""
    if not isinstance(data, dict):
        raise ContractError("summary data must be an object")
    fields = data.get("fields", {})
    if not isinstance(fields, dict):
        raise ContractError("summary `fields` must be an object")
    for name, agg in fields.items():
        if not isinstance(agg, dict) or not all(_number(agg.get(k)) for k in _AGGREGATES):
            raise ContractError(f"summary field {name!r} needs numeric {', '.join(_AGGREGATES)}")
    for key in ("anomalies", "merged"):
        if key in data and not (_number(data[key]) and float(data[key]).is_integer()):
            raise ContractError(f"summary `{key}` must be a whole number")
    for key in ("periodStart", "periodEnd"):
        if key in data and not isinstance(data[key], str):
            raise ContractError(f"summary `{key}` must be a timestamp string")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


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
