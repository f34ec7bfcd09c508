"""Shopify's privacy webhooks, for what the mapper holds.

The mapper keeps the latest order payload per order (rule conditions for refunds, previews by
order id), which holds the customer's personal data. ``customers/redact`` deletes those of the
listed orders; ``shop/redact`` deletes everything the mapper holds for the shop. Accounting state
(what was invoiced and credited, as amounts) holds no personal data and stays while the shop is
installed. ``customers/data_request`` reports how many stored payloads concern the customer.
"""

from __future__ import annotations

from typing import Any

from libs.common.messages import ShopifyEvent

PRIVACY_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
SHOP_TABLES = (
    "order_payloads",
    "order_state",
    "shop_settings",
    "shop_settings_versions",
    "rule_sets",
    "vat_checks",
)


def _order_ids(payload: dict[str, Any], key: str) -> list[str]:
    values = payload.get(key) or []
    return [str(value) for value in values if isinstance(value, int | str)]


async def apply_privacy(conn: Any, event: ShopifyEvent) -> str:
    """Act on a privacy webhook; returns what was done, for the inbox record."""
    shop = event.shop
    if event.topic == "shop/redact":
        for table in SHOP_TABLES:
            await conn.execute(f"DELETE FROM mapper.{table} WHERE shop = $1", shop)
        await conn.execute(
            "DELETE FROM mapper.processed_events WHERE shop = $1 AND event_uid <> $2",
            shop,
            event.event_uid,
        )
        return "shop/redact: every row the mapper held for the shop deleted"
    if event.topic == "customers/redact":
        orders = _order_ids(event.payload, "orders_to_redact")
        status: str = await conn.execute(
            "DELETE FROM mapper.order_payloads WHERE shop = $1 AND order_id = ANY($2::text[])",
            shop,
            orders,
        )
        return f"customers/redact: {status.split()[-1]} stored order payload(s) deleted"
    orders = _order_ids(event.payload, "orders_requested")
    held = await conn.fetchval(
        "SELECT count(*) FROM mapper.order_payloads WHERE shop = $1 AND order_id = ANY($2::text[])",
        shop,
        orders,
    )
    return f"customers/data_request: the mapper holds {held} order payload(s) of the customer"
