"""Sensor windows: PubSub decoding, window assembly, input drift."""
