"""Link state from send outcomes: failures and timeouts put it down with capped exponential back-off."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Link:
    """Up until a send fails; then retried after a back-off that doubles up to `max_backoff_s`."""

    min_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    forced_down: bool = False
    up: bool = True
    failures: int = 0
    next_try: float = 0.0
    last_error: str | None = None
    outages: int = 0

    def can_try(self, now: float) -> bool:
        """Whether a send may be attempted now."""
        return now >= self.next_try

    def failed(self, now: float, error: str) -> None:
        """Record a failed send; the link is down until a send succeeds."""
        if self.up:
            self.outages += 1
        self.up = False
        self.failures += 1
        self.last_error = error
        backoff = min(self.max_backoff_s, self.min_backoff_s * 2 ** min(self.failures - 1, 16))
        self.next_try = now + backoff * (0.75 + 0.5 * random.random())

    def succeeded(self) -> None:
        """Record a successful send."""
        self.up = True
        self.failures = 0
        self.next_try = 0.0

    def set_forced(self, down: bool) -> None:
        """The test hook: a forced-down link makes every send fail as a real outage would."""
        self.forced_down = down
        if not down:
            self.next_try = 0.0
