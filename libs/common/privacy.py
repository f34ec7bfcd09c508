"""Shopify's redact webhooks as every service sees them (``PRIVACY_KEYS`` in the topology).

``customers/redact`` names a customer (id, e-mail) and the orders whose personal data must go;
``shop/redact`` (48 h after uninstall) means everything held for the shop. Each service deletes
or redacts what it holds; booked Fortnox documents stay (see docs/shopify-app.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from libs.common.messages import ShopifyEvent
from libs.common.messaging.consumer import Delivery

REDACTED = "[redacted]"
_TOPICS = {"customers/redact": "customer", "shop/redact": "shop"}


@dataclass(frozen=True)
class Redaction:
    shop: str
    scope: Literal["customer", "shop"]
    customer_id: str | None
    email: str | None
    order_ids: tuple[str, ...]


def _ids(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list):
        return ()
    return tuple(str(v) for v in values if isinstance(v, int | str) and not isinstance(v, bool))


def redaction_of(delivery: Delivery) -> Redaction | None:
    """The redact request a delivery carries, or None for any other message.

    A dead-lettered privacy event (it failed somewhere) is a failed job, not a request: only a
    fresh event, without dead-letter headers, counts.
    """
    if delivery.schema != ShopifyEvent.schema_name():
        return None
    if "x-death" in delivery.headers or "x-fortbridge-error-class" in delivery.headers:
        return None
    event = delivery.parse(ShopifyEvent)
    scope = _TOPICS.get(event.topic)
    if scope is None:
        return None
    customer = event.payload.get("customer") or {}
    email = customer.get("email") if isinstance(customer, dict) else None
    customer_id = customer.get("id") if isinstance(customer, dict) else None
    return Redaction(
        shop=event.shop,
        scope="shop" if scope == "shop" else "customer",
        customer_id=None if customer_id is None else str(customer_id),
        email=str(email).strip().lower() if email else None,
        order_ids=_ids(event.payload.get("orders_to_redact")),
    )
