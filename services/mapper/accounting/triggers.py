"""When an order's document is due, per the shop's (rule-resolved) settings.

- ``document_kind = none``: never; every event of the order is skipped with that reason.
- ``trigger = create`` (default): the first event of the order makes the document.
- ``trigger = paid``: orders/paid, or any full order whose financial_status shows it was paid.
- ``trigger = fulfilled``: orders/fulfilled, or any full order whose fulfillment_status is
  ``fulfilled``.

Once the document exists, every later event applies to it whatever the rules say now.
"""

from __future__ import annotations

from typing import Any

from services.mapper.accounting.settings import ShopSettings

PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})
NO_DOCUMENT = "the shop's rules make no Fortnox document for this order (document kind none)"
_TRIGGER_WORDS = {"paid": "paid", "fulfilled": "fulfilled"}


def is_paid(order: dict[str, Any]) -> bool:
    return str(order.get("financial_status") or "").lower() in PAID_STATUSES


def is_fulfilled(order: dict[str, Any]) -> bool:
    return str(order.get("fulfillment_status") or "").lower() == "fulfilled"


def trigger_reached(topic: str, order: dict[str, Any], settings: ShopSettings) -> bool:
    if settings.trigger == "paid":
        return topic == "orders/paid" or is_paid(order)
    if settings.trigger == "fulfilled":
        return topic == "orders/fulfilled" or is_fulfilled(order)
    return True


def held_reason(topic: str, order: dict[str, Any], settings: ShopSettings) -> str | None:
    """Why this event makes no document yet (None: it may make one)."""
    if settings.document_kind == "none":
        return NO_DOCUMENT
    if trigger_reached(topic, order, settings):
        return None
    when = _TRIGGER_WORDS[settings.trigger]
    if topic == "orders/cancelled":
        return (
            f"the order was cancelled before it was {when}; the shop's rules make its "
            f"document when it is {when}, so none was made"
        )
    return f"not yet: the shop's rules make the {settings.document_kind} when the order is {when}"
