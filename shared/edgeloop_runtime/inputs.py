"""Bounded input queues with an explicit overflow policy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .messages import InputMessage

Overflow = Literal["block", "drop_oldest", "drop_newest"]
OVERFLOW_POLICIES: tuple[Overflow, ...] = ("block", "drop_oldest", "drop_newest")

InputHandler = Callable[[Any, InputMessage], Awaitable[None]]


@dataclass(frozen=True)
class InputSpec:
    """One registered input: its handler, queue bound, overflow policy and worker count."""

    name: str
    handler: InputHandler
    queue_size: int = 1000
    overflow: Overflow = "block"
    concurrency: int = 1

    def __post_init__(self) -> None:
        if self.overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}, not {self.overflow!r}")
        if self.queue_size < 1 or self.concurrency < 1:
            raise ValueError("queue_size and concurrency must be at least 1")


@dataclass
class InputQueue:
    """The bounded queue of one input for one run of the module (created on the module's loop)."""

    spec: InputSpec
    queue: asyncio.Queue[InputMessage] = field(init=False)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.spec.queue_size)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def overflow(self) -> Overflow:
        return self.spec.overflow

    async def offer(self, message: InputMessage) -> InputMessage | None:
        """Queue a message under the overflow policy; return the message dropped, if any.

        `block` waits for room (back-pressure into the SDK's inbox); `drop_oldest` makes room by
        discarding the oldest queued message; `drop_newest` discards the incoming one.
        """
        if self.overflow == "block":
            await self.queue.put(message)
            return None
        if not self.queue.full():
            self.queue.put_nowait(message)
            return None
        if self.overflow == "drop_newest":
            return message
        dropped = self.queue.get_nowait()
        self.queue.task_done()
        self.queue.put_nowait(message)
        return dropped
