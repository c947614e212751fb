#!/usr/bin/env python3
"""Benchmark the local hub: module-to-module throughput and per-hop latency, 1 KB messages.

Measured in one run against one hub subprocess (route a/out -> b/in):
  (a) real azure-iot-device clients (what a module sees), and
  (b) a lightweight asyncio MQTT client on the hub's own codec, speaking the same dialect (the hub's ceiling).
Each side: a saturation run (msg/s delivered to b) and a paced run at --rate msg/s (hop latency percentiles:
a's send -> b's receive, through the hub). Usage: .venv/bin/python scripts/bench_hub.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import struct
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from edgeloop_dev.hub.certs import client_ssl_context
from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, pick_hub_host
from edgeloop_dev.hub.identity import IdentityStore, make_sas_token
from edgeloop_dev.hub.mqtt import codec
from edgeloop_dev.hub.rawclient import USERNAME_QUERY

SIZE = 1024
_HEAD = struct.Struct("!dq")


def body(seq: int) -> bytes:
    """1 KB: the send time (monotonic, system-wide on Linux) and a sequence number, then padding."""
    head = _HEAD.pack(time.monotonic(), seq)
    return head + b"x" * (SIZE - len(head))


def percentiles(lat_ms: list[float]) -> dict[str, float]:
    if not lat_ms:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "max": float("nan")}
    q = statistics.quantiles(lat_ms, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "p99": q[98], "max": max(lat_ms)}


# ---- (b) lightweight asyncio client ------------------------------------------------------------


class LoadClient:
    """A minimal MQTT module client: CONNECT with SAS, SUBSCRIBE inputs, QoS 1 PUBLISH with a window."""

    def __init__(self, state_dir: Path, host: str, module: str) -> None:
        self.state_dir, self.host, self.module = state_dir, host, module
        self.store = IdentityStore(state_dir)
        self.decoder = codec.Decoder()
        self.acked = asyncio.Event()
        self.inflight: set[int] = set()
        self.received: list[float] = []
        self.count = 0
        self._pid = 0

    async def connect(self, subscribe: bool) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.host, 8883, ssl=client_ssl_context(self.state_dir), server_hostname=self.host
        )
        s = self.store
        username = f"{s.iothub_hostname}/{s.device_id}/{self.module}/{USERNAME_QUERY}"
        token = make_sas_token(s, self.module).encode()
        self.writer.write(codec.encode(codec.Connect(f"{s.device_id}/{self.module}", username, token, 60)))
        ack = await self._next()
        assert isinstance(ack, codec.Connack) and ack.return_code == 0, ack
        if subscribe:
            topic = f"devices/{s.device_id}/modules/{self.module}/inputs/#"
            self.writer.write(codec.encode(codec.Subscribe(1, ((topic, 1),))))
            assert isinstance(await self._next(), codec.Suback)
        self.task = asyncio.create_task(self._read())

    async def _next(self) -> codec.Packet:
        while True:
            pkts = self.decoder.feed(await self.reader.read(65536))
            if pkts:
                assert len(pkts) == 1
                return pkts[0]

    async def _read(self) -> None:
        while True:
            data = await self.reader.read(262144)
            if not data:
                return
            now = time.monotonic()
            acks = []
            for p in self.decoder.feed(data):
                if isinstance(p, codec.Publish):
                    self.received.append((now - _HEAD.unpack_from(p.payload)[0]) * 1000)
                    self.count += 1
                    if p.packet_id is not None:
                        acks.append(codec.encode(codec.Puback(p.packet_id)))
                elif isinstance(p, codec.Puback):
                    self.inflight.discard(p.packet_id)
                    self.acked.set()
            if acks:
                self.writer.write(b"".join(acks))

    async def publish(self, output: str, payload: bytes, window: int) -> None:
        while len(self.inflight) >= window:
            self.acked.clear()
            await self.acked.wait()
        self._pid = self._pid % 65535 + 1
        self.inflight.add(self._pid)
        topic = f"devices/{self.store.device_id}/modules/{self.module}/messages/events/%24.on={output}"
        self.writer.write(codec.encode_publish(topic, payload, 1, self._pid))

    async def close(self) -> None:
        self.writer.write(codec.encode(codec.Disconnect()))
        self.writer.close()
        self.task.cancel()


async def light_run(hub: HubProcess, seconds: float, rate: float | None, window: int) -> dict[str, Any]:
    src = LoadClient(hub.state_dir, hub.host, "a")
    dst = LoadClient(hub.state_dir, hub.host, "b")
    await dst.connect(subscribe=True)
    await src.connect(subscribe=False)
    seq = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if rate is None:
            for _ in range(50):
                await src.publish("out", body(seq), window)
                seq += 1
            await asyncio.sleep(0)
        else:
            due = start + seq / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await src.publish("out", body(seq), window)
            seq += 1
    deadline = time.monotonic() + 10
    while dst.count < seq and time.monotonic() < deadline:  # noqa: ASYNC110 - polling a counter is fine here
        await asyncio.sleep(0.01)
    elapsed = time.monotonic() - start
    await src.close()
    await dst.close()
    return {"sent": seq, "received": dst.count, "rate": dst.count / elapsed, **percentiles(dst.received)}


# ---- (a) real SDK clients ----------------------------------------------------------------------


def sdk_run(hub: HubProcess, seconds: float, rate: float | None, threads: int) -> dict[str, Any]:
    lat: list[float] = []
    lock = threading.Lock()

    def on_input(msg: Any) -> None:
        now = time.monotonic()
        with lock:
            lat.append((now - _HEAD.unpack_from(msg.data)[0]) * 1000)

    b = SdkModule(hub.env("b"))
    b.client.on_message_received = on_input
    b.client.connect()
    a = SdkModule(hub.env("a"), inputs=False).connect()
    seq = [0]
    start = time.monotonic()

    def sender(k: int) -> None:
        from azure.iot.device import Message

        n = 0
        while time.monotonic() - start < seconds:
            if rate is not None:
                due = start + (n * threads + k) / rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            a.client.send_message_to_output(Message(body(n)), "out")
            n += 1
        with lock:
            seq[0] += n

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(sender, range(threads)))
    deadline = time.monotonic() + 10
    while len(lat) < seq[0] and time.monotonic() < deadline:
        time.sleep(0.01)
    elapsed = time.monotonic() - start
    a.shutdown()
    b.shutdown()
    return {"sent": seq[0], "received": len(lat), "rate": len(lat) / elapsed, **percentiles(lat)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="duration of each run")
    ap.add_argument("--rate", type=float, default=1000.0, help="paced rate for the latency runs (msg/s)")
    ap.add_argument("--window", type=int, default=500, help="light client: QoS 1 messages in flight")
    ap.add_argument("--sdk-threads", type=int, default=8, help="SDK: concurrent senders")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    route = 'FROM /messages/modules/a/outputs/out INTO BrokeredEndpoint("/modules/b/inputs/in")'
    rows: list[tuple[str, str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        hub = HubProcess(
            Path(tmp) / "state", make_manifest({"r": route}, {"a": {}, "b": {}}), pick_hub_host()
        )
        with hub:
            rows.append(
                (
                    "light asyncio client",
                    "saturation",
                    asyncio.run(light_run(hub, args.seconds, None, args.window)),
                )
            )
            rows.append(
                (
                    "light asyncio client",
                    f"paced {args.rate:g}/s",
                    asyncio.run(light_run(hub, args.seconds, args.rate, args.window)),
                )
            )
            rows.append(
                ("real SDK clients", "saturation", sdk_run(hub, args.seconds, None, args.sdk_threads))
            )
            rows.append(
                (
                    "real SDK clients",
                    f"paced {args.rate:g}/s",
                    sdk_run(hub, args.seconds, args.rate, args.sdk_threads),
                )
            )
    py = sys.version.split()[0]
    print(f"\nlocal hub, 1 KB messages, route a/out -> b/in, {args.seconds:g} s per run, python {py}")
    cols = ("sent", "recv", "msg/s", "p50 ms", "p95 ms", "p99 ms", "max ms")
    print(f"{'client':<22} {'load':<14} " + " ".join(f"{c:>8}" for c in cols))
    for client, load, r in rows:
        print(
            f"{client:<22} {load:<14} {r['sent']:>7} {r['received']:>7} {r['rate']:>8.0f} "
            f"{r['p50']:>8.2f} {r['p95']:>8.2f} {r['p99']:>8.2f} {r['max']:>8.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps([{"client": c, "load": lo, **r} for c, lo, r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
