"""A module running on its own event loop thread, driven synchronously from hypothesis tests."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from edgeloop_runtime import Context, Module
from edgeloop_runtime.testing import FakeHubClient, SentMessage

T = TypeVar("T")

# Cases run per fuzz target in this session (printed at the end of the run by conftest.py).
CASES: Counter[str] = Counter()


@dataclass(frozen=True)
class Outcome:
    """What one delivered message led to."""

    deadlettered: bool
    errors: float
    sent: list[SentMessage]


class LiveModule:
    """One module on the FakeHubClient seam, shared by every example of a test (started once).

    The module's loop runs in a thread; each call hops onto it and waits, so hypothesis drives it
    from a plain synchronous test. `ctx` is captured through a status provider added for the run.
    """

    def __init__(self, module: Module[Any, Any], env: dict[str, str], desired: dict[str, Any] | None = None):
        self.module = module
        self.env = {"METRICS_PORT": "-1", "SHUTDOWN_GRACE_SECONDS": "1", **env}
        self.client = FakeHubClient(twin={"desired": {"$version": 1, **(desired or {})}, "reported": {}})
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.task: asyncio.Task[int] | None = None
        self.ctx: Context[Any, Any] | None = None
        self.runner: Any = None
        self._thread = threading.Thread(target=self.loop.run_forever, name=f"fuzz:{module.name}", daemon=True)
        self._provider = self._capture

    def _capture(self, ctx: Context[Any, Any]) -> dict[str, Any]:
        self.ctx = ctx
        return {}

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> LiveModule:
        self.module.status_providers.append(self._provider)
        self._thread.start()

        async def boot() -> None:
            self.stop_event = asyncio.Event()
            self.task = asyncio.create_task(
                self.module.run(env=self.env, client=self.client, stop=self.stop_event)
            )
            while not (self.task.done() or self.client.reported.get("status") == "running"):
                await asyncio.sleep(0.01)
            if self.task.done():
                raise RuntimeError(f"{self.module.name} exited at start with {self.task.result()}")
            while self.module.inputs and self.client.message_handler is None:
                await asyncio.sleep(0.01)

        self.run(boot(), timeout)
        status, _ = self.call("getStatus")
        assert status == 200 and self.ctx is not None
        handler = self.client.method_handler
        self.runner = getattr(handler, "__self__", None)  # the ModuleRunner behind the seam
        return self

    def stop(self) -> int | None:
        try:
            if self.task is not None and not self.task.done():
                assert self.stop_event is not None
                self.loop.call_soon_threadsafe(self.stop_event.set)
                return self.run(self._wait_task(), 30)
            return None
        finally:
            self.module.status_providers.remove(self._provider)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            if not self._thread.is_alive():
                self.loop.close()

    async def _wait_task(self) -> int:
        assert self.task is not None
        return await self.task

    def run(self, coro: Awaitable[T], timeout: float = 10.0) -> T:
        """Run a coroutine on the module's loop and wait for it (a hang fails the test)."""
        future = asyncio.run_coroutine_threadsafe(_as_coro(coro), self.loop)
        return future.result(timeout)

    # ---- probes ---------------------------------------------------------------------------
    def metric(self, name: str, **labels: str) -> float:
        """One sample of the module's registry (0 when absent)."""
        assert self.ctx is not None
        value = self.ctx.metrics.registry.get_sample_value(name, {"module": self.module.name, **labels})
        return value or 0.0

    def metric_total(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples whose labels include these."""
        assert self.ctx is not None
        total = 0.0
        for family in self.ctx.metrics.registry.collect():
            for s in family.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    total += s.value
        return total

    def alive(self) -> bool:
        """The module's task still runs and `ping` answers 200."""
        if self.task is None or self.task.done():
            return False
        status, payload = self.call("ping")
        return status == 200 and isinstance(payload, dict) and payload.get("pong") is True

    def call(self, method: str, payload: Any = None, timeout: float = 10.0) -> tuple[int, Any]:
        """Invoke a direct method; (status, payload)."""
        result: tuple[int, Any] = self.run(self.client.call(method, payload, timeout=timeout), timeout + 1)
        return result

    def patch(self, patch: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """Push a desired patch and wait until the module acknowledged its version; the `config` report."""
        return self.run(self._patch(patch), timeout)

    async def _patch(self, patch: dict[str, Any]) -> dict[str, Any]:
        before = len(self.client.reported_patches)
        await self.client.patch_desired(patch)
        version = self.client.twin["desired"]["$version"]
        while True:
            for p in self.client.reported_patches[before:]:
                cfg = p.get("config")
                if isinstance(cfg, dict) and cfg.get("desiredVersion") == version:
                    return cfg
            await asyncio.sleep(0.002)

    def deliver(self, input_name: str, body: bytes, timeout: float = 10.0, **kwargs: Any) -> Outcome:
        """Deliver one message and wait until its handler finished; what it produced."""
        return self.run(self._deliver(input_name, body, **kwargs), timeout)

    async def _deliver(self, input_name: str, body: bytes, **kwargs: Any) -> Outcome:
        runner = self.runner
        errors = self.counter_total(runner.metrics.errors, input=input_name)
        sent_before = len(self.client.sent)
        await self.client.deliver(input_name, body, **kwargs)
        if input_name in runner.queues:
            await runner.queues[input_name].queue.join()  # the handler (and any dead letter) is done
        sent = self.client.sent[sent_before:]
        deadletters = [m for m in sent if m.output == "deadletter"]
        assert len(deadletters) <= 1, "one input gave several dead letters"
        if deadletters:
            dl = deadletters[0].message
            carried = dl.data
            if "edgeloopOriginalContentEncoding" in dl.properties:  # compressed to fit under 256 KB
                assert dl.content_encoding == "gzip"
                carried = gzip.decompress(carried)
            assert carried == body, "the dead letter must carry the original body"
            assert dl.properties.get("edgeloopError"), "a dead letter must say what failed"
            assert dl.properties.get("edgeloopInput") == input_name
        new_errors = self.counter_total(runner.metrics.errors, input=input_name) - errors
        if deadletters:
            assert new_errors >= 1, "a dead-lettered message must count as an error"
        del self.client.sent[sent_before:]  # keep memory flat over thousands of examples
        return Outcome(bool(deadletters), new_errors, sent)

    @staticmethod
    def counter_total(bound: Any, **labels: str) -> float:
        """The sum of one runtime metric's samples whose labels include these (fast: one metric only)."""
        total = 0.0
        for family in bound._metric.collect():
            for s in family.samples:
                if s.name.endswith("_total") and all(s.labels.get(k) == v for k, v in labels.items()):
                    total += s.value
        return total


async def _as_coro(aw: Awaitable[T]) -> T:
    return await aw


def json_outputs_are_valid(outcome: Outcome) -> None:
    """Every JSON output parses strictly (no NaN/Infinity), and enveloped ones carry an id."""
    for m in outcome.sent:
        if m.message.content_type != "application/json" or m.message.content_encoding == "gzip":
            continue
        body = json.loads(m.message.data, parse_constant=_refuse_constant)
        if isinstance(body, dict) and body.get("v") == 1:
            assert isinstance(body.get("id"), str) and body["id"] == m.message.message_id


def _refuse_constant(name: str) -> Any:
    raise AssertionError(f"output JSON carries {name}")


Check = Callable[[Outcome, bytes], None]
