"""`edgeloop run`: the local edgeAgent: the hub plus every repo module as a supervised process."""

from __future__ import annotations
