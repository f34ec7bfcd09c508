"""Read one order from Shopify (Admin GraphQL) as the REST webhook payload the mapper reads.

Used by the order admin endpoints when no webhook ever brought the order, and by re-sync for
the order's current state. :func:`fetch_order` returns None when Shopify has no such order (or
the app may not read it); Shopify's failures come out as :class:`ShopifyUnavailable` (network,
5xx, throttling: worth retrying) or :class:`ShopifyRefused` (the token was revoked, or Shopify
refused the query); an order bigger than Fortbridge reads raises :class:`OrderTooLarge`.
"""

from __future__ import annotations

from typing import Any

from libs.common.errors import PermanentError, TransientError
from libs.common.shopify_admin import ShopifyAdmin
from services.ingest.shopify_orders import (
    LINE_ITEMS_QUERY,
    LINE_ITEMS_QUERY_COST,
    ORDER_QUERY,
    ORDER_QUERY_COST,
    order_gid,
    rest_order,
    truncated,
)

# Shopify caps what one order can hold; this only stops a cursor that never ends.
MAX_LINE_ITEM_PAGES = 200


class ShopifyUnavailable(Exception):
    """Shopify could not be reached or answered with an error worth retrying later."""


class OrderTooLarge(Exception):
    """The order holds more than one read takes (shipping lines, a refund's line items)."""


class ShopifyRefused(Exception):
    """Shopify refused the call: ``revoked`` when the shop's access token no longer works."""

    def __init__(self, message: str, *, revoked: bool) -> None:
        super().__init__(message)
        self.message = message
        self.revoked = revoked


async def shopify_call(
    admin: ShopifyAdmin,
    shop: str,
    token: str,
    operation: str,
    query: str,
    variables: dict[str, Any],
    cost: float,
) -> dict[str, Any]:
    """One Admin GraphQL call, Shopify's failures as :class:`ShopifyUnavailable` (retry later)
    or :class:`ShopifyRefused` (``revoked``: the token no longer works)."""
    try:
        return await admin.graphql(shop, token, operation, query, variables, expected_cost=cost)
    except TransientError as exc:
        raise ShopifyUnavailable(exc.message) from exc
    except PermanentError as exc:
        revoked = str(exc.code or "") in ("shopify_401", "shopify_403")
        raise ShopifyRefused(exc.message, revoked=revoked) from exc


async def fetch_order(
    admin: ShopifyAdmin, shop: str, token: str, order_id: int | str
) -> dict[str, Any] | None:
    """The order's current state as a REST ``orders/*`` payload; None if Shopify lacks it."""
    gid = order_gid(order_id)
    data = await shopify_call(
        admin, shop, token, "fortbridgeOrder", ORDER_QUERY, {"id": gid}, ORDER_QUERY_COST
    )
    node = data.get("order")
    if not isinstance(node, dict):
        return None
    too_large = truncated(node)
    if too_large:
        raise OrderTooLarge(f"order {order_id} has {too_large}")
    lines = node.get("lineItems") or {}
    nodes: list[dict[str, Any]] = list(lines.get("nodes") or [])
    page = lines.get("pageInfo") or {}
    for _ in range(MAX_LINE_ITEM_PAGES):
        if not page.get("hasNextPage"):
            break
        more = await shopify_call(
            admin,
            shop,
            token,
            "fortbridgeOrderLineItems",
            LINE_ITEMS_QUERY,
            {"id": gid, "after": page.get("endCursor")},
            LINE_ITEMS_QUERY_COST,
        )
        connection = ((more.get("order") or {}).get("lineItems")) or {}
        nodes.extend(connection.get("nodes") or [])
        page = connection.get("pageInfo") or {}
    node["lineItems"] = {"nodes": nodes}
    timezone = (data.get("shop") or {}).get("ianaTimezone")
    return rest_order(node, timezone)
