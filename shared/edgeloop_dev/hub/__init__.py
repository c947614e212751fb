"""The local edge hub: an edgeHub-compatible MQTT server for modules using azure-iot-device."""

from __future__ import annotations
