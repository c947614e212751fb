"""OPC UA client code shared by the OPC UA modules: PKI, security, error mapping, node ids, subscriptions."""

from __future__ import annotations

from .subscription import BatchSubscription, create_batch_subscription, subscription_parameters

__all__ = ["BatchSubscription", "create_batch_subscription", "subscription_parameters"]
