"""MQTT 3.1.1: a sans-io codec and the asyncio TLS server the hub speaks to modules with."""

from __future__ import annotations
