"""A bytes-per-hour bandwidth budget (token bucket): lower classes wait for tokens, higher ones never do."""

from __future__ import annotations

from dataclasses import dataclass

from .classes import NEVER_WAIT


@dataclass
class Budget:
    """Tokens refill at `bytes_per_hour`/3600 per second up to `burst_s` seconds' worth; None = unlimited."""

    bytes_per_hour: float | None
    burst_s: float = 60.0
    tokens: float = 0.0
    updated: float | None = None

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    @property
    def capacity(self) -> float:
        """The bucket's size in bytes."""
        return float("inf") if self.bytes_per_hour is None else self.bytes_per_hour * self.burst_s / 3600.0

    def set_rate(self, bytes_per_hour: float | None, now: float) -> None:
        """Change the budget; the tokens already earned are kept up to the new capacity."""
        self.refill(now)
        self.bytes_per_hour = bytes_per_hour
        self.tokens = min(self.tokens, self.capacity) if bytes_per_hour is not None else self.capacity

    def refill(self, now: float) -> None:
        """Add the tokens earned since the last call."""
        if self.updated is not None and self.bytes_per_hour is not None:
            self.tokens = min(
                self.capacity, self.tokens + (now - self.updated) * self.bytes_per_hour / 3600.0
            )
        self.updated = now

    def allows(self, cls: str, size: int, now: float) -> bool:
        """Whether a batch of `size` bytes of class `cls` may go now."""
        if self.bytes_per_hour is None or cls in NEVER_WAIT:
            return True
        self.refill(now)
        return self.tokens >= min(size, self.capacity)

    def spend(self, size: int, now: float) -> None:
        """Take `size` bytes from the bucket (higher classes may drive it negative)."""
        self.refill(now)
        if self.bytes_per_hour is not None:
            self.tokens -= size

    def over(self, now: float) -> bool:
        """Whether the bucket is empty (the budget is exhausted for now)."""
        self.refill(now)
        return self.bytes_per_hour is not None and self.tokens <= 0
