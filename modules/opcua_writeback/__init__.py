"""The opcua_writeback IoT Edge module."""

from __future__ import annotations
