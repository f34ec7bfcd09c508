"""In-project Shopify simulator: an Admin GraphQL subset, webhook sender and sample payloads.

See simulator.py (Python API), graphql.py (HTTP behaviour), control.py (/_sim endpoints),
webhooks.py and payloads.py.
"""

from ._state import RequestRecord, ShopState
from .faults import Fault, FaultSet
from .simulator import ShopifySimulator
from .webhooks import (
    DeliveryAttempt,
    DeliveryResult,
    Webhook,
    WebhookSender,
    build_webhook,
    deliver,
    redelivery,
    sign,
)

__all__ = [
    "DeliveryAttempt",
    "DeliveryResult",
    "Fault",
    "FaultSet",
    "RequestRecord",
    "ShopState",
    "ShopifySimulator",
    "Webhook",
    "WebhookSender",
    "build_webhook",
    "deliver",
    "redelivery",
    "sign",
]
