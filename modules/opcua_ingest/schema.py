"""Every field of OPC Publisher 2.9's publishednodes.json schema: honoured, or refused with a reason.

A field that is not honoured may still appear with the value that means "off" (its default), as files written
by OPC Publisher itself carry them; any other value refuses the entry, naming the field. A field that is not
in the schema at all refuses the entry too (a typo must not pass silently).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Entry-level fields this module implements (modules/opcua_ingest/README.md has the table with the tests).
HONOURED_ENTRY = frozenset(
    {
        "EndpointUrl", "UseSecurity", "EndpointSecurityMode", "EndpointSecurityPolicy",
        "OpcAuthenticationMode", "OpcAuthenticationUsername", "OpcAuthenticationPassword",
        "DataSetWriterGroup", "DataSetWriterId", "DataSetPublishingInterval",
        "DataSetPublishingIntervalTimespan", "DataSetSamplingInterval", "DataSetSamplingIntervalTimespan",
        "MessagingMode", "MessageEncoding", "DataSetWriterWatchdogBehavior", "OpcNodes", "NodeId",
        "Version", "LastChangeTimespan", "DisableSubscriptionTransfer", "SendKeepAliveDataSetMessages",
        "DataSetKeyFrameCount", "MetaDataUpdateTime", "MetaDataUpdateTimeTimespan", "DataSetName",
        "DataSetDescription", "OpcNodeWatchdogTimespan", "OpcNodeWatchdogCondition", "BatchSize",
        "BatchTriggerInterval", "BatchTriggerIntervalTimespan", "LastChangeDateTime", "WriterGroupRootNodeId",
        "WriterGroupType", "WriterGroupProperties", "DefaultHeartbeatInterval",
        "DefaultHeartbeatIntervalTimespan", "DefaultHeartbeatBehavior", "MaxKeepAliveCount",
    }
)  # fmt: skip

HONOURED_NODE = frozenset(
    {
        "Id", "ExpandedNodeId", "DisplayName", "DataSetFieldId", "OpcSamplingInterval",
        "OpcSamplingIntervalTimespan", "OpcPublishingInterval", "OpcPublishingIntervalTimespan",
        "HeartbeatInterval", "HeartbeatIntervalTimespan", "HeartbeatBehavior", "SkipFirst", "QueueSize",
        "DiscardNew", "DataChangeTrigger", "DeadbandType", "DeadbandValue", "AttributeId", "IndexRange",
        "EventFilter", "UseCyclicRead",
    }
)  # fmt: skip

_NOT_YET = "not supported by opcua_ingest yet"
# field -> (values accepted because they mean "off", why any other value is refused)
REFUSED_ENTRY: dict[str, tuple[tuple[Any, ...], str]] = {
    "UseReverseConnect": ((False, None), "reverse connect is not supported"),
    "DataSetClassId": ((None, "00000000-0000-0000-0000-000000000000"), _NOT_YET),
    "DataSetExtensionFields": ((None, {}), _NOT_YET),
    "DataSetFetchDisplayNames": ((None, False), f"{_NOT_YET}: name fields with DisplayName"),
    "MetaDataQueueName": ((None,), "ua-metadata messages go to the telemetry output; route them in edgeHub"),
    "WriterGroupTransport": ((None, "IoTHub", "AzureIoTHub"), "the only transport is edgeHub"),
    "WriterGroupQualityOfService": ((None, "AtLeastOnce"), "edgeHub delivers at least once"),
    "WriterGroupPartitions": ((None, 1), "the only transport is edgeHub (one output)"),
    "WriterGroupMessageRetention": ((None, False), "edgeHub's store-and-forward decides retention"),
    "WriterGroupMessageTtlTimespan": ((None,), "edgeHub's timeToLiveSecs decides the time to live"),
    "QualityOfService": ((None, "AtLeastOnce"), "edgeHub delivers at least once"),
    "QueueName": ((None,), "the output is the module's telemetry output; route it in edgeHub"),
    "MessageRetention": ((None, False), "edgeHub's store-and-forward decides retention"),
    "MessageTtlTimespan": ((None,), "edgeHub's timeToLiveSecs decides the time to live"),
    "RepublishAfterTransfer": ((None, False), "subscriptions are recreated, not transferred"),
    "EncryptedAuthUsername": ((None,), "encrypted credentials are not supported"),
    "EncryptedAuthPassword": ((None,), "encrypted credentials are not supported"),
    "Priority": ((None, 0), _NOT_YET),
    # Fields of the newer 2.9 entry model (PublishedNodesEntryModel.cs): refused by name, not as unknown.
    "DataSetRouting": ((None, "None"), f"{_NOT_YET}: browse-name routing"),
    "WriterGroupQueueName": ((None,), "the output is the module's telemetry output; route it in edgeHub"),
    "WriterGroupMessageTtlTimepan": ((None,), "edgeHub's timeToLiveSecs decides the time to live"),
    "DataSetSourceUri": ((None,), "cloud events headers are not produced"),
    "DataSetSubject": ((None,), "cloud events headers are not produced"),
    "DataSetType": ((None,), "cloud events headers are not produced"),
    "DataSetRootNodeId": ((None,), f"browse paths are {_NOT_YET}"),
    "MetaDataRetention": ((None, False), "edgeHub's store-and-forward decides retention"),
    "MetaDataTtlTimespan": ((None,), "edgeHub's timeToLiveSecs decides the time to live"),
    "SendKeepAliveAsKeyFrameMessages": ((None, False), _NOT_YET),
    "PublisherId": ((None,), "one PublisherId for the module: set publisherId on the module"),
    "DumpConnectionDiagnostics": ((None, False), _NOT_YET),
}

REFUSED_NODE: dict[str, tuple[tuple[Any, ...], str]] = {
    "RegisterNode": ((None, False), f"{_NOT_YET}"),
    "FetchDisplayName": ((None, False), f"{_NOT_YET}: set DisplayName or DataSetFieldId"),
    "DataSetClassFieldId": ((None, "00000000-0000-0000-0000-000000000000"), _NOT_YET),
    "BrowsePath": ((None, []), f"browse paths are {_NOT_YET}"),
    "ModelChangeHandling": ((None,), _NOT_YET),
    "ConditionHandling": ((None,), f"condition handling is {_NOT_YET}"),
    "TriggeredNodes": ((None, []), _NOT_YET),
    "Topic": ((None,), "the output is the module's telemetry output; route it in edgeHub"),
    "QualityOfService": ((None, "AtLeastOnce"), "edgeHub delivers at least once"),
    "Facet": ((None,), _NOT_YET),
    "MonitoringMode": ((None, "Reporting"), _NOT_YET),
    "CyclicReadMaxAgeTimespan": ((None,), f"cyclic reads are {_NOT_YET}"),
}


def refusals(
    raw: Mapping[str, Any], honoured: frozenset[str], refused: dict[str, Any], where: str
) -> list[str]:
    """Problems with fields of one entry or node: not honoured with a value other than "off", or unknown."""
    problems = []
    for name, value in raw.items():
        if name in honoured:
            continue
        if name in refused:
            accepted, reason = refused[name]
            if value not in accepted:
                problems.append(f"{where}.{name}: refused, {reason} (value {value!r})")
            continue
        problems.append(f"{where}.{name}: refused, not a field of OPC Publisher's publishednodes.json schema")
    return problems
