#!/usr/bin/env python3
"""A window score built and encoded for `ctx.send`, before (a dict, json.dumps) and now (the contract,
msgspec), side by side in one run, plus the receiver's parse of the same bytes both ways.

    .venv/bin/python scripts/bench_contracts.py [--n 20000] [--rounds 5]

"before" is the dict inference built and the envelope `make_envelope` + `json.dumps` made of it (the path
`ctx.send` still takes for plain data); "now" is `Score` in `Envelope`, encoded by msgspec in one pass. The
receiver arms are `json.loads` + anomaly_filter's checks then (plain JSON) against `decode_envelope(raw,
Score)`. Rounds alternate the order of the arms; the bytes of both arms are checked to hold the same JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

from edgeloop_contracts import Envelope, Source, decode_envelope, encode
from edgeloop_contracts.score import ModelRef, Score
from edgeloop_runtime.envelope import make_envelope, utc_now_iso

FIELDS = [f"Field{i}" for i in range(8)]
IDS = ["m-1", "m-2", "m-3"]


def before() -> bytes:
    data = {
        "type": "window", "asset": "pump", "model": {"name": "sensor_anomaly", "version": "1"},
        "score": 1.23456, "threshold": 1.0, "contributions": {f: 0.125 for f in FIELDS}, "quality": "good",
        "windowStart": "2027-01-15T08:00:00.000Z", "windowEnd": "2027-01-15T08:00:10.000Z",
        "sourceTimestamp": "2027-01-15T08:00:10.000Z", "sourceMessageIds": list(IDS),
    }  # fmt: skip
    env = make_envelope("score", data, module="inference", version="0.1.0", message_id="id-1")
    return json.dumps(env, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode()


def now() -> bytes:
    data = Score(
        type="window", asset="pump", model=ModelRef("sensor_anomaly", "1"), score=1.23456, threshold=1.0,
        contributions={f: 0.125 for f in FIELDS}, quality="good", window_start="2027-01-15T08:00:00.000Z",
        window_end="2027-01-15T08:00:10.000Z", source_timestamp="2027-01-15T08:00:10.000Z",
        source_message_ids=list(IDS),
    )  # fmt: skip
    env = Envelope(kind="score", id="id-1", ts=utc_now_iso(), source=Source("inference", "0.1.0"), data=data)
    return encode(env)


def parse_before(raw: bytes) -> Any:
    env = json.loads(raw)
    data = env["data"]
    assert isinstance(data["asset"], str) and isinstance(data["score"], float)
    assert isinstance(data["model"]["name"], str) and isinstance(data["contributions"], dict)
    return data


def parse_now(raw: bytes) -> Any:
    return decode_envelope(raw, Score).data


def _per_s(fn: Callable[[], Any], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    a, b = json.loads(before()), json.loads(now())
    assert {**a, "ts": 0} == {**b, "ts": 0}, "both arms send the same JSON"
    raw = now()
    arms: list[tuple[str, Callable[[], Any]]] = [
        ("send_before_dict_json", before),
        ("send_now_contract_msgspec", now),
        ("receive_before_json_checks", lambda: parse_before(raw)),
        ("receive_now_contract_decode", lambda: parse_now(raw)),
    ]
    print(json.dumps({"loadavg": [round(x, 2) for x in os.getloadavg()], "n": args.n}))
    got: dict[str, list[float]] = {name: [] for name, _ in arms}
    for r in range(args.rounds):
        for name, fn in arms if r % 2 == 0 else arms[::-1]:
            got[name].append(_per_s(fn, args.n))
    for name, rates in got.items():
        print(
            json.dumps(
                {
                    "arm": name,
                    "per_s_best": round(max(rates)),
                    "per_s_median": round(sorted(rates)[len(rates) // 2]),
                }
            )
        )
    sb, sn = max(got["send_before_dict_json"]), max(got["send_now_contract_msgspec"])
    rb, rn = max(got["receive_before_json_checks"]), max(got["receive_now_contract_decode"])
    print(
        json.dumps(
            {
                "send_now_over_before": round(sn / sb, 2),
                "receive_now_over_before": round(rn / rb, 2),
                "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
