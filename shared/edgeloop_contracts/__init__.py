"""The messages that cross edgeHub routes, as typed contracts shared by sender and receiver (msgspec)."""
