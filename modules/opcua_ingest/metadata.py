"""Part 14 `ua-metadata` messages: a data set writer's fields and their OPC UA types (as OPC Publisher)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from asyncua import Client, ua

_EPOCH_2000 = 946_684_800  # ConfigurationVersion counts seconds since 2000-01-01 (Part 14 VersionTime)
_NAMESPACE = uuid.UUID("5f0e3a52-7d0e-4f7b-9a55-6c1f8e0b2a11")
_EXTENSION_OBJECT = 22


def version_time() -> int:
    """Seconds since 2000-01-01 UTC, a metadata ConfigurationVersion."""
    return int(time.time()) - _EPOCH_2000


def _good(dv: ua.DataValue) -> bool:
    return dv.Value is not None and (dv.StatusCode is None or dv.StatusCode.is_good())


async def field_types(client: Client, nids: list[ua.NodeId]) -> list[tuple[str | None, int, int]]:
    """(DataType as a string, BuiltInType, ValueRank) per node; unknown when the server cannot say."""
    if not nids:
        return []
    nodes = [client.get_node(n) for n in nids]
    types = await client.read_attributes(nodes, ua.AttributeIds.DataType)
    ranks = await client.read_attributes(nodes, ua.AttributeIds.ValueRank)
    out: list[tuple[str | None, int, int]] = []
    for t, r in zip(types, ranks, strict=True):
        dtype = (
            t.Value.Value
            if t.Value is not None and t.StatusCode is not None and t.StatusCode.is_good()
            else None
        )
        rank = (
            r.Value.Value
            if r.Value is not None and r.StatusCode is not None and r.StatusCode.is_good()
            else -1
        )
        builtin = _EXTENSION_OBJECT
        if isinstance(dtype, ua.NodeId) and dtype.NamespaceIndex == 0 and isinstance(dtype.Identifier, int):
            builtin = dtype.Identifier if dtype.Identifier <= 25 else _EXTENSION_OBJECT
        out.append((dtype.to_string() if isinstance(dtype, ua.NodeId) else None, builtin, int(rank)))
    return out


def metadata_message(
    publisher_id: str,
    writer_id: str,
    writer_group: str,
    fields: Iterable[tuple[str, str | None, int, int]],
    *,
    name: str | None = None,
    description: str | None = None,
    version: int,
) -> dict[str, Any]:
    """One `ua-metadata` network message: the writer's DataSetMetaData (fields as (name, DataType,
    BuiltInType, ValueRank)), each field's DataSetFieldId stable for the writer and field name."""
    return {
        "MessageId": str(uuid.uuid4()),
        "MessageType": "ua-metadata",
        "PublisherId": publisher_id,
        "DataSetWriterId": writer_id,
        "DataSetWriterGroup": writer_group,
        "MetaData": {
            "Name": name or writer_id,
            **({"Description": {"Text": description}} if description else {}),
            "Fields": [
                {
                    "Name": field,
                    "FieldFlags": 0,
                    "BuiltInType": builtin,
                    "DataType": dtype,
                    "ValueRank": rank,
                    "DataSetFieldId": str(uuid.uuid5(_NAMESPACE, f"{writer_id}/{field}")),
                }
                for field, dtype, builtin, rank in fields
            ],
            "ConfigurationVersion": {"MajorVersion": version, "MinorVersion": version},
        },
    }
