"""Every contract by name: what module.json declares per input and output, the linter and the docs read."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from . import frames


@dataclass(frozen=True, slots=True)
class ContractInfo:
    """One contract: its name, how its body is carried, and its model (None for opaque bodies like JPEG)."""

    name: str
    content_type: str
    model: type[msgspec.Struct] | None
    enveloped: bool = True
    summary: str = ""


# Filled as contracts are added: name -> info. Kept explicit (no import-time magic) so grep finds each one.
CONTRACTS: dict[str, ContractInfo] = {
    frames.NAME: ContractInfo(
        frames.NAME, frames.CONTENT_TYPE, None, enveloped=False, summary=frames.SUMMARY
    ),
}


def _register_pubsub() -> None:
    """The OPC UA PubSub telemetry contract (not enveloped: the body is OPC Publisher's network message)."""
    from . import pubsub

    CONTRACTS["opcua-pubsub"] = ContractInfo(
        name="opcua-pubsub",
        content_type="application/json",
        model=pubsub.NetworkMessage,
        enveloped=False,
        summary="OPC UA Part 14 PubSub JSON network message as OPC Publisher emits it (ua-data; "
        "ua-deltaframe/ua-keyframe/ua-keepalive/ua-event data set messages; no StatusCode means Good)",
    )


_register_pubsub()
