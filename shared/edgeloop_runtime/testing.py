"""A HubClient fake for unit tests of modules and of the runtime (a seam, never the proof)."""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import textwrap
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .client import DesiredHandler, MessageHandler, MethodHandler
from .errors import HubConnectionError
from .messages import InputMessage, MethodRequest, OutgoingMessage

T = TypeVar("T")


def describe_wait(predicate: Callable[[], Any], what: str | None = None) -> str:
    """What a wait waits for: `what` when the test says it, else the predicate's own source text."""
    if what:
        return what
    try:
        source = inspect.getsource(predicate)
    except (OSError, TypeError):
        return getattr(predicate, "__qualname__", repr(predicate))
    text = " ".join(source.split())
    try:  # the lambda itself, not the rest of the statement around it
        tree = ast.parse(textwrap.dedent(source).strip())
    except SyntaxError:
        return text[max(text.find("lambda"), 0) :][:240]
    lambdas = [node for node in ast.walk(tree) if isinstance(node, ast.Lambda)]
    return ast.unparse(lambdas[0])[:240] if lambdas else text[:240]


def wait_timeout_message(predicate: Callable[[], Any], what: str | None, timeout: float, last: Any) -> str:
    """The message of a wait that ran out: what it waited for, for how long, and the last value seen."""
    return f"waited {timeout} s for {describe_wait(predicate, what)}; last value: {last!r}"[:1000]


def _poll_once(predicate: Callable[[], T], what: str | None, timeout: float, deadline: float) -> T | None:
    """The predicate's value if truthy, None to poll again; TimeoutError once the deadline has passed."""
    value = predicate()
    if value:
        return value
    if time.monotonic() >= deadline:
        raise TimeoutError(wait_timeout_message(predicate, what, timeout, value))
    return None


def wait_for_sync(
    predicate: Callable[[], T], what: str | None = None, *, timeout: float = 10.0, interval: float = 0.05
) -> T:
    """Poll (blocking) until `predicate()` is truthy and return it; TimeoutError names what was awaited."""
    deadline = time.monotonic() + timeout
    while (value := _poll_once(predicate, what, timeout, deadline)) is None:
        time.sleep(interval)
    return value


async def wait_for_async(
    predicate: Callable[[], T], what: str | None = None, *, timeout: float = 5.0, interval: float = 0.005
) -> T:
    """Poll on the loop until `predicate()` is truthy and return it; TimeoutError names what was awaited."""
    deadline = time.monotonic() + timeout
    # a predicate has no event to wait on: polling is the point
    while (value := _poll_once(predicate, what, timeout, deadline)) is None:  # noqa: ASYNC110
        await asyncio.sleep(interval)
    return value


async def within(awaitable: Awaitable[T], timeout: float, what: str) -> T:
    """`asyncio.wait_for` whose TimeoutError says what did not finish in time."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except TimeoutError as exc:
        raise TimeoutError(f"waited {timeout} s for {what}") from exc


@dataclass
class SentMessage:
    """A message the module sent, with its output name."""

    output: str
    message: OutgoingMessage

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.message.data)


@dataclass
class FakeHubClient:
    """Records what the module sends and reports; lets a test deliver inputs, patches and method calls.

    Handlers run on a separate event loop thread in the real SDK; here they run on the test's loop,
    which exercises the same bridging code (run_coroutine_threadsafe onto the module's loop).
    """

    twin: dict[str, Any] = field(default_factory=lambda: {"desired": {"$version": 1}, "reported": {}})
    sent: list[SentMessage] = field(default_factory=list)
    reported: dict[str, Any] = field(default_factory=dict)
    reported_patches: list[dict[str, Any]] = field(default_factory=list)
    method_responses: dict[str, tuple[int, Any]] = field(default_factory=dict)
    connected: bool = False
    fail_sends: bool = False
    message_handler: MessageHandler | None = None
    method_handler: MethodHandler | None = None
    desired_handler: DesiredHandler | None = None
    settled: list[str] = field(default_factory=list)
    _rid: int = 0
    _answered: dict[str, asyncio.Event] = field(default_factory=dict)

    async def connect(self) -> None:
        self.connected = True

    async def shutdown(self) -> None:
        self.connected = False

    async def send_to_output(self, message: OutgoingMessage, output: str) -> None:
        if self.fail_sends:
            raise HubConnectionError("fake link down")
        self.sent.append(SentMessage(output, message))

    async def get_twin(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.twin))  # type: ignore[no-any-return]

    async def patch_reported(self, patch: dict[str, Any]) -> None:
        self.reported_patches.append(patch)
        self.reported.update(patch)

    async def send_method_response(self, request_id: str, status: int, payload: Any) -> None:
        self.method_responses[request_id] = (status, payload)
        self._answered.setdefault(request_id, asyncio.Event()).set()

    async def set_message_handler(self, handler: MessageHandler | None) -> None:
        self.message_handler = handler

    async def set_method_handler(self, handler: MethodHandler | None) -> None:
        self.method_handler = handler

    async def set_desired_handler(self, handler: DesiredHandler | None) -> None:
        self.desired_handler = handler

    def settle(self, delivery: str | None) -> None:
        if delivery is not None:
            self.settled.append(delivery)

    def unacknowledged(self) -> int:
        return 0

    # ---- test side ------------------------------------------------------------------------
    async def deliver(self, input_name: str, body: bytes | str | Any, **kwargs: Any) -> None:
        """Deliver a message to an input as edgeHub would (JSON-encodes non-bytes bodies)."""
        if self.message_handler is None:
            raise RuntimeError("the module has not subscribed to inputs")
        if isinstance(body, str):
            data = body.encode()
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
            kwargs.setdefault("content_type", "application/json")
            kwargs.setdefault("content_encoding", "utf-8")
        await self.message_handler(InputMessage(input_name, data, **kwargs))

    async def call(self, name: str, payload: Any = None, timeout: float = 5.0) -> tuple[int, Any]:
        """Invoke a direct method and wait for the module's response."""
        if self.method_handler is None:
            raise RuntimeError("the module has not registered for methods")
        self._rid += 1
        rid = str(self._rid)
        answered = self._answered.setdefault(rid, asyncio.Event())
        await self.method_handler(MethodRequest(rid, name, payload))
        await asyncio.wait_for(answered.wait(), timeout)
        return self.method_responses.pop(rid)

    async def patch_desired(self, patch: dict[str, Any]) -> None:
        """Push a desired-properties patch (with the next $version)."""
        if self.desired_handler is None:
            raise RuntimeError("the module has not registered for desired patches")
        version = int(self.twin["desired"].get("$version", 1)) + 1
        self.twin["desired"].update(patch)
        self.twin["desired"]["$version"] = version
        await self.desired_handler({**patch, "$version": version})

    def outputs(self, output: str) -> list[SentMessage]:
        """Messages sent on one output, in order."""
        return [m for m in self.sent if m.output == output]
