"""One Shopify order through the Admin GraphQL API, in the REST webhook shape the mapper reads.

"Create now" for an order no webhook ever brought, and "re-sync" of an order's current state,
read the order with :data:`ORDER_QUERY` (and :data:`LINE_ITEMS_QUERY` for line items past the
first page) and turn it into the payload an ``orders/*`` webhook carries (:func:`rest_order`):
money as decimal strings ("186.90") with ``*_set`` {shop_money, presentment_money}, ids as
integers, ``tax_lines`` with price and rate, discount allocations, duties, shipping lines (the
removed ones too, ``is_removed``), customer and addresses (null when absent), statuses in REST
spelling, ``note_attributes``, tags as one comma-separated string, the transactions (for
payments), the refunds as ``refunds/create`` payloads (shopify_refunds.py: line items, shipping,
order adjustments, duties, transactions) and timestamps in the shop's time zone (a webhook's
offset, so the document date is the shop's).

Cost, by the simulator's rule for Shopify's calculated query cost (simulators/shopify/throttle.py):
nothing paged sits inside a line item (tax lines, allocations and duties are plain lists), so
``order`` costs 1 + (2 + 50) for line items + (2 + 25) for shipping lines + 163 for the refunds'
connections (shopify_refunds.py), and ``shop`` 1: 244 points; a further page of 50 line items
costs 53. An order with more shipping lines, or a refund with more of anything, than one read
holds is refused (:func:`truncated`), never converted short.
Shopify's own estimate also charges each nested object (money bags, tax lines), which that
rule leaves out: hence pages of 50 line items rather than 250, far under the 1,000-point limit
by the rule, to leave that margin (not measured against the real Shopify).
"""

from __future__ import annotations

from typing import Any

from services.ingest.shopify_refunds import (
    REFUND_FIELDS,
    REFUND_LINE_ITEMS,
    REFUNDS_COST,
    TRANSACTION_FIELDS,
    refund,
    refund_truncated,
    transaction,
)
from services.ingest.shopify_values import (
    MONEY,
    amount,
    has_more,
    legacy_id,
    local_time,
    money_set,
    priced,
    shop_amount,
    shop_zone,
    status,
)

__all__ = [
    "LINE_ITEMS_PER_PAGE",
    "LINE_ITEMS_QUERY",
    "LINE_ITEMS_QUERY_COST",
    "ORDER_QUERY",
    "ORDER_QUERY_COST",
    "REFUND_LINE_ITEMS",
    "SHIPPING_LINES",
    "amount",
    "legacy_id",
    "local_time",
    "order_gid",
    "rest_order",
    "shop_zone",
    "truncated",
]

LINE_ITEMS_PER_PAGE = 50
SHIPPING_LINES = 25

_TAX_LINES = f"taxLines {{ title rate channelLiable priceSet {{ {MONEY} }} }}"
_ALLOCATIONS = f"discountAllocations {{ allocatedAmountSet {{ {MONEY} }} }}"
_ADDRESS = (
    "firstName lastName name company address1 address2 city zip province provinceCode "
    "country countryCodeV2 phone"
)
LINE_ITEM_FIELDS = f"""
      id name title variantTitle sku vendor quantity currentQuantity taxable isGiftCard
      requiresShipping
      originalUnitPriceSet {{ {MONEY} }}
      totalDiscountSet {{ {MONEY} }}
      {_TAX_LINES}
      {_ALLOCATIONS}
      duties {{
        id harmonizedSystemCode countryCodeOfOrigin price {{ {MONEY} }} {_TAX_LINES}
      }}
      customAttributes {{ key value }}
      variant {{ legacyResourceId }}
      product {{ legacyResourceId }}
"""

ORDER_QUERY = f"""
query fortbridgeOrder($id: ID!) {{
  shop {{ ianaTimezone currencyCode }}
  order(id: $id) {{
    id legacyResourceId name email phone createdAt updatedAt processedAt cancelledAt closedAt
    cancelReason test confirmed currencyCode presentmentCurrencyCode taxesIncluded
    displayFinancialStatus displayFulfillmentStatus note tags discountCodes
    paymentGatewayNames sourceName
    totalPriceSet {{ {MONEY} }}
    subtotalPriceSet {{ {MONEY} }}
    totalTaxSet {{ {MONEY} }}
    totalDiscountsSet {{ {MONEY} }}
    totalShippingPriceSet {{ {MONEY} }}
    currentTotalPriceSet {{ {MONEY} }}
    currentSubtotalPriceSet {{ {MONEY} }}
    currentTotalTaxSet {{ {MONEY} }}
    currentTotalDiscountsSet {{ {MONEY} }}
    totalTipReceivedSet {{ {MONEY} }}
    customAttributes {{ key value }}
    {_TAX_LINES}
    customer {{
      legacyResourceId email firstName lastName phone tags note taxExempt state
      defaultAddress {{ {_ADDRESS} }}
    }}
    billingAddress {{ {_ADDRESS} }}
    shippingAddress {{ {_ADDRESS} }}
    lineItems(first: {LINE_ITEMS_PER_PAGE}) {{
      nodes {{ {LINE_ITEM_FIELDS} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
    shippingLines(first: {SHIPPING_LINES}, includeRemovals: true) {{
      nodes {{
        id title code source isRemoved
        originalPriceSet {{ {MONEY} }}
        discountedPriceSet {{ {MONEY} }}
        {_TAX_LINES}
        {_ALLOCATIONS}
      }}
      pageInfo {{ hasNextPage }}
    }}
    transactions {{ {TRANSACTION_FIELDS} }}
    refunds {{ {REFUND_FIELDS} }}
  }}
}}
"""

LINE_ITEMS_QUERY = f"""
query fortbridgeOrderLineItems($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: {LINE_ITEMS_PER_PAGE}, after: $after) {{
      nodes {{ {LINE_ITEM_FIELDS} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}
"""

# Shopify's calculated cost of each query (see the module docstring).
ORDER_QUERY_COST = 1 + 1 + (2 + LINE_ITEMS_PER_PAGE) + (2 + SHIPPING_LINES) + REFUNDS_COST
LINE_ITEMS_QUERY_COST = 1 + 2 + LINE_ITEMS_PER_PAGE

_FULFILLMENT = {
    "FULFILLED": "fulfilled",
    "PARTIALLY_FULFILLED": "partial",
    "RESTOCKED": "restocked",
}


def order_gid(order_id: int | str) -> str:
    return f"gid://shopify/Order/{order_id}"


def truncated(node: dict[str, Any]) -> str | None:
    """What of the order one read could not hold (None: nothing was left out)."""
    if has_more(node.get("shippingLines")):
        return f"more than {SHIPPING_LINES} shipping lines"
    for node_refund in node.get("refunds") or []:
        too_large = refund_truncated(node_refund)
        if too_large:
            return too_large
    return None


def tax_lines(nodes: Any) -> list[dict[str, Any]]:
    return [
        {
            "title": node.get("title"),
            **priced("price", node.get("priceSet")),
            "rate": node.get("rate"),
            "channel_liable": node.get("channelLiable"),
        }
        for node in nodes or []
    ]


def discount_allocations(nodes: Any) -> list[dict[str, Any]]:
    return [
        priced("amount", node.get("allocatedAmountSet"))
        for node in nodes or []
        if node.get("allocatedAmountSet")
    ]


def address(node: Any) -> dict[str, Any] | None:
    if not isinstance(node, dict):
        return None
    return {
        "first_name": node.get("firstName"),
        "last_name": node.get("lastName"),
        "name": node.get("name"),
        "company": node.get("company"),
        "address1": node.get("address1"),
        "address2": node.get("address2"),
        "city": node.get("city"),
        "zip": node.get("zip"),
        "province": node.get("province"),
        "province_code": node.get("provinceCode"),
        "country": node.get("country"),
        "country_code": node.get("countryCodeV2"),
        "phone": node.get("phone"),
    }


def tags(value: Any) -> str:
    return ", ".join(str(tag) for tag in value) if isinstance(value, list) else str(value or "")


def line_item(node: dict[str, Any]) -> dict[str, Any]:
    variant = node.get("variant") or {}
    product = node.get("product") or {}
    return {
        "id": legacy_id(node.get("id")),
        "admin_graphql_api_id": node.get("id"),
        "name": node.get("name"),
        "title": node.get("title"),
        "variant_title": node.get("variantTitle"),
        "sku": node.get("sku"),
        "vendor": node.get("vendor"),
        "quantity": node.get("quantity"),
        "current_quantity": node.get("currentQuantity"),
        **priced("price", node.get("originalUnitPriceSet")),
        **priced("total_discount", node.get("totalDiscountSet")),
        "taxable": node.get("taxable"),
        "gift_card": bool(node.get("isGiftCard")),
        "requires_shipping": node.get("requiresShipping"),
        "product_id": legacy_id(product.get("legacyResourceId")),
        "variant_id": legacy_id(variant.get("legacyResourceId")),
        "properties": [
            {"name": a.get("key"), "value": a.get("value")}
            for a in node.get("customAttributes") or []
        ],
        "tax_lines": tax_lines(node.get("taxLines")),
        "discount_allocations": discount_allocations(node.get("discountAllocations")),
        "duties": [
            {
                "id": legacy_id(duty.get("id")),
                "admin_graphql_api_id": duty.get("id"),
                "harmonized_system_code": duty.get("harmonizedSystemCode"),
                "country_code_of_origin": duty.get("countryCodeOfOrigin"),
                "price_set": money_set(duty.get("price")),
                "tax_lines": tax_lines(duty.get("taxLines")),
            }
            for duty in node.get("duties") or []
        ],
    }


def shipping_line(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": legacy_id(node.get("id")),
        "title": node.get("title"),
        "code": node.get("code"),
        "source": node.get("source"),
        "is_removed": bool(node.get("isRemoved")),
        **priced("price", node.get("originalPriceSet")),
        **priced("discounted_price", node.get("discountedPriceSet")),
        "tax_lines": tax_lines(node.get("taxLines")),
        "discount_allocations": discount_allocations(node.get("discountAllocations")),
    }


def customer(node: Any) -> dict[str, Any] | None:
    if not isinstance(node, dict):
        return None
    customer_id = legacy_id(node.get("legacyResourceId"))
    return {
        "id": customer_id,
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
        "email": node.get("email"),
        "first_name": node.get("firstName"),
        "last_name": node.get("lastName"),
        "phone": node.get("phone"),
        "tags": tags(node.get("tags")),
        "note": node.get("note"),
        "tax_exempt": node.get("taxExempt"),
        "state": str(node.get("state") or "").lower() or None,
        "default_address": address(node.get("defaultAddress")),
    }


def rest_order(node: dict[str, Any], timezone: Any = None) -> dict[str, Any]:
    """A GraphQL ``Order`` (all its line items in ``lineItems.nodes``) as a REST order payload.

    ``timezone``: the shop's ``ianaTimezone``; timestamps get its offset, as in a webhook.
    """
    zone = shop_zone(timezone)
    order_id = legacy_id(node.get("legacyResourceId") or node.get("id"))
    lines = ((node.get("lineItems") or {}).get("nodes")) or []
    ships = ((node.get("shippingLines") or {}).get("nodes")) or []
    fulfillment = node.get("displayFulfillmentStatus")
    tip = node.get("totalTipReceivedSet")
    return {
        "id": order_id,
        "admin_graphql_api_id": node.get("id") or order_gid(order_id or 0),
        "name": node.get("name"),
        "email": node.get("email"),
        "phone": node.get("phone"),
        "created_at": local_time(node.get("createdAt"), zone),
        "updated_at": local_time(node.get("updatedAt"), zone),
        "processed_at": local_time(node.get("processedAt"), zone),
        "cancelled_at": local_time(node.get("cancelledAt"), zone),
        "closed_at": local_time(node.get("closedAt"), zone),
        "cancel_reason": status(node.get("cancelReason")),
        "test": bool(node.get("test")),
        "confirmed": node.get("confirmed"),
        "currency": node.get("currencyCode"),
        "presentment_currency": node.get("presentmentCurrencyCode") or node.get("currencyCode"),
        "taxes_included": bool(node.get("taxesIncluded")),
        "financial_status": status(node.get("displayFinancialStatus")),
        "fulfillment_status": _FULFILLMENT.get(str(fulfillment)) if fulfillment else None,
        "note": node.get("note"),
        "note_attributes": [
            {"name": a.get("key"), "value": a.get("value")}
            for a in node.get("customAttributes") or []
        ],
        "tags": tags(node.get("tags")),
        "discount_codes": [{"code": code} for code in node.get("discountCodes") or []],
        "payment_gateway_names": list(node.get("paymentGatewayNames") or []),
        "source_name": node.get("sourceName"),
        **priced("total_price", node.get("totalPriceSet")),
        **priced("subtotal_price", node.get("subtotalPriceSet")),
        **priced("total_tax", node.get("totalTaxSet")),
        **priced("total_discounts", node.get("totalDiscountsSet")),
        "total_shipping_price_set": money_set(node.get("totalShippingPriceSet")),
        **priced("current_total_price", node.get("currentTotalPriceSet")),
        **priced("current_subtotal_price", node.get("currentSubtotalPriceSet")),
        **priced("current_total_tax", node.get("currentTotalTaxSet")),
        **priced("current_total_discounts", node.get("currentTotalDiscountsSet")),
        # A webhook carries the tip in shop money only (no *_set).
        "total_tip_received": shop_amount(tip) if tip else "0.00",
        "tax_lines": tax_lines(node.get("taxLines")),
        "customer": customer(node.get("customer")),
        "billing_address": address(node.get("billingAddress")),
        "shipping_address": address(node.get("shippingAddress")),
        "line_items": [line_item(line) for line in lines],
        "shipping_lines": [shipping_line(ship) for ship in ships],
        "transactions": [transaction(t, zone) for t in node.get("transactions") or []],
        "refunds": [refund(r, order_id, zone) for r in node.get("refunds") or []],
    }
