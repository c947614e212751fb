"""OPC UA client code shared by the OPC UA modules: PKI, security, error mapping, node ids, subscriptions."""

from __future__ import annotations

from .errors import SECURITY_STATUSES, SecurityRejectedError, map_error, status_name
from .nodeid import needs_namespaces, resolve_node_id
from .pki import Pki
from .security import POLICY_CLASSES, SecurityMode, most_secure_endpoint, secure_client, security_string
from .subscription import (
    BatchSubscription,
    create_batch_subscription,
    discard_subscription,
    subscription_parameters,
)

__all__ = [
    "POLICY_CLASSES",
    "SECURITY_STATUSES",
    "BatchSubscription",
    "Pki",
    "SecurityMode",
    "SecurityRejectedError",
    "create_batch_subscription",
    "discard_subscription",
    "map_error",
    "most_secure_endpoint",
    "needs_namespaces",
    "resolve_node_id",
    "secure_client",
    "security_string",
    "status_name",
    "subscription_parameters",
]
