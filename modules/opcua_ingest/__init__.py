"""The opcua_ingest IoT Edge module."""

from __future__ import annotations
