"""One Shopify order through the Admin GraphQL API, in the REST webhook shape the mapper reads.

"Create now" for an order no webhook ever brought, and "re-sync" of an order's current state,
read the order with :data:`ORDER_QUERY` (and :data:`LINE_ITEMS_QUERY` for line items past the
first page) and turn it into the payload an ``orders/*`` webhook carries (:func:`rest_order`):
money as decimal strings ("186.90") with ``*_set`` {shop_money, presentment_money}, ids as
integers, ``tax_lines`` with price and rate, discount allocations, duties, shipping lines (the
removed ones too, ``is_removed``), customer and addresses (null when absent), statuses in REST
spelling, ``note_attributes``, tags as one comma-separated string, the transactions (for
payments), the refunds' line items and timestamps in the shop's time zone (a webhook's offset,
so the document date is the shop's).

Cost, by the simulator's rule for Shopify's calculated query cost (simulators/shopify/throttle.py):
nothing paged sits inside a line item (tax lines, allocations and duties are plain lists), so
``order`` costs 1 + (2 + 50) for line items + (2 + 25) for shipping lines + (2 + 100) for the
refunds' line items, and ``shop`` 1: 183 points; a further page of 50 line items costs 53. An
order with more shipping lines or refund line items than one read holds is refused
(:func:`truncated`), never converted short.
Shopify's own estimate also charges each nested object (money bags, tax lines), which that
rule leaves out: hence pages of 50 line items rather than 250, far under the 1,000-point limit
by the rule, to leave that margin (not measured against the real Shopify).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LINE_ITEMS_PER_PAGE = 50
SHIPPING_LINES = 25
REFUND_LINE_ITEMS = 100

_MONEY = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"
_TAX_LINES = f"taxLines {{ title rate channelLiable priceSet {{ {_MONEY} }} }}"
_ALLOCATIONS = f"discountAllocations {{ allocatedAmountSet {{ {_MONEY} }} }}"
_ADDRESS = (
    "firstName lastName name company address1 address2 city zip province provinceCode "
    "country countryCodeV2 phone"
)
LINE_ITEM_FIELDS = f"""
      id name title variantTitle sku vendor quantity currentQuantity taxable isGiftCard
      requiresShipping
      originalUnitPriceSet {{ {_MONEY} }}
      totalDiscountSet {{ {_MONEY} }}
      {_TAX_LINES}
      {_ALLOCATIONS}
      duties {{
        id harmonizedSystemCode countryCodeOfOrigin price {{ {_MONEY} }} {_TAX_LINES}
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
    totalPriceSet {{ {_MONEY} }}
    subtotalPriceSet {{ {_MONEY} }}
    totalTaxSet {{ {_MONEY} }}
    totalDiscountsSet {{ {_MONEY} }}
    totalShippingPriceSet {{ {_MONEY} }}
    currentTotalPriceSet {{ {_MONEY} }}
    currentSubtotalPriceSet {{ {_MONEY} }}
    currentTotalTaxSet {{ {_MONEY} }}
    currentTotalDiscountsSet {{ {_MONEY} }}
    totalTipReceivedSet {{ {_MONEY} }}
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
        originalPriceSet {{ {_MONEY} }}
        discountedPriceSet {{ {_MONEY} }}
        {_TAX_LINES}
        {_ALLOCATIONS}
      }}
      pageInfo {{ hasNextPage }}
    }}
    transactions {{
      id kind status gateway processedAt createdAt amountSet {{ {_MONEY} }}
    }}
    refunds {{
      id createdAt note
      refundLineItems(first: {REFUND_LINE_ITEMS}) {{
        nodes {{
          id quantity restockType
          subtotalSet {{ {_MONEY} }}
          totalTaxSet {{ {_MONEY} }}
          lineItem {{ id }}
        }}
        pageInfo {{ hasNextPage }}
      }}
    }}
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
ORDER_QUERY_COST = (
    1 + 1 + (2 + LINE_ITEMS_PER_PAGE) + (2 + SHIPPING_LINES) + (2 + REFUND_LINE_ITEMS)
)
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
    if ((node.get("shippingLines") or {}).get("pageInfo") or {}).get("hasNextPage"):
        return f"more than {SHIPPING_LINES} shipping lines"
    for refund in node.get("refunds") or []:
        if ((refund.get("refundLineItems") or {}).get("pageInfo") or {}).get("hasNextPage"):
            return f"a refund of more than {REFUND_LINE_ITEMS} line items"
    return None


def legacy_id(value: Any) -> int | None:
    """The integer id of a global id ("gid://shopify/LineItem/123?x=y" -> 123)."""
    if value is None:
        return None
    tail = str(value).rsplit("/", 1)[-1].split("?", 1)[0]
    return int(tail) if tail.isascii() and tail.isdigit() else None


def shop_zone(name: Any) -> tzinfo:
    """The shop's time zone (webhooks give times with its offset); UTC when unknown."""
    try:
        return ZoneInfo(str(name)) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local_time(value: Any, zone: tzinfo) -> str | None:
    """An ISO 8601 time in the shop's zone, as webhooks have it ("2026-11-15T12:00:00+01:00")."""
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).isoformat()


def amount(value: Any) -> str:
    """A GraphQL Decimal as a REST money string: at least two decimals ("186.9" -> "186.90")."""
    try:
        number = Decimal(str(value if value is not None else "0"))
    except InvalidOperation:
        return str(value)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        number = number.quantize(Decimal("0.01"))
    return format(number, "f")


_SIDES = (("shop_money", "shopMoney"), ("presentment_money", "presentmentMoney"))


def money_set(bag: Any) -> dict[str, Any] | None:
    """MoneyBag -> {shop_money, presentment_money} (None for a missing bag)."""
    if not isinstance(bag, dict):
        return None
    out: dict[str, Any] = {}
    for rest_side, gql_side in _SIDES:
        money = bag.get(gql_side) or {}
        out[rest_side] = {
            "amount": amount(money.get("amount")),
            "currency_code": money.get("currencyCode"),
        }
    return out


def _shop_amount(bag: Any) -> str | None:
    money = money_set(bag)
    return None if money is None else str(money["shop_money"]["amount"])


def _priced(prefix: str, bag: Any) -> dict[str, Any]:
    """``{prefix: "12.00", prefix_set: {...}}`` from one MoneyBag."""
    return {prefix: _shop_amount(bag), f"{prefix}_set": money_set(bag)}


def tax_lines(nodes: Any) -> list[dict[str, Any]]:
    return [
        {
            "title": node.get("title"),
            **_priced("price", node.get("priceSet")),
            "rate": node.get("rate"),
            "channel_liable": node.get("channelLiable"),
        }
        for node in nodes or []
    ]


def discount_allocations(nodes: Any) -> list[dict[str, Any]]:
    return [
        _priced("amount", node.get("allocatedAmountSet"))
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
        **_priced("price", node.get("originalUnitPriceSet")),
        **_priced("total_discount", node.get("totalDiscountSet")),
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
        **_priced("price", node.get("originalPriceSet")),
        **_priced("discounted_price", node.get("discountedPriceSet")),
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


def refund(node: dict[str, Any], order_id: int | None, zone: tzinfo) -> dict[str, Any]:
    items = ((node.get("refundLineItems") or {}).get("nodes")) or []
    return {
        "id": legacy_id(node.get("id")),
        "admin_graphql_api_id": node.get("id"),
        "order_id": order_id,
        "created_at": local_time(node.get("createdAt"), zone),
        "note": node.get("note"),
        "refund_line_items": [
            {
                "id": legacy_id(item.get("id")),
                "line_item_id": legacy_id((item.get("lineItem") or {}).get("id")),
                "quantity": item.get("quantity"),
                "restock_type": str(item.get("restockType") or "").lower() or None,
                **_priced("subtotal", item.get("subtotalSet")),
                **_priced("total_tax", item.get("totalTaxSet")),
            }
            for item in items
        ],
    }


def transaction(node: dict[str, Any], zone: tzinfo) -> dict[str, Any]:
    """A REST transaction: its amount and currency are the presentment side, as in REST."""
    money = money_set(node.get("amountSet")) or {}
    presentment = money.get("presentment_money") or {}
    return {
        "id": legacy_id(node.get("id")),
        "kind": _status(node.get("kind")),
        "status": _status(node.get("status")),
        "gateway": node.get("gateway"),
        "amount": presentment.get("amount"),
        "currency": presentment.get("currency_code"),
        "amount_set": money or None,
        "processed_at": local_time(node.get("processedAt"), zone),
        "created_at": local_time(node.get("createdAt"), zone),
    }


def _status(value: Any) -> str | None:
    return str(value).lower() if value else None


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
        "cancel_reason": _status(node.get("cancelReason")),
        "test": bool(node.get("test")),
        "confirmed": node.get("confirmed"),
        "currency": node.get("currencyCode"),
        "presentment_currency": node.get("presentmentCurrencyCode") or node.get("currencyCode"),
        "taxes_included": bool(node.get("taxesIncluded")),
        "financial_status": _status(node.get("displayFinancialStatus")),
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
        **_priced("total_price", node.get("totalPriceSet")),
        **_priced("subtotal_price", node.get("subtotalPriceSet")),
        **_priced("total_tax", node.get("totalTaxSet")),
        **_priced("total_discounts", node.get("totalDiscountsSet")),
        "total_shipping_price_set": money_set(node.get("totalShippingPriceSet")),
        **_priced("current_total_price", node.get("currentTotalPriceSet")),
        **_priced("current_subtotal_price", node.get("currentSubtotalPriceSet")),
        **_priced("current_total_tax", node.get("currentTotalTaxSet")),
        **_priced("current_total_discounts", node.get("currentTotalDiscountsSet")),
        # A webhook carries the tip in shop money only (no *_set).
        "total_tip_received": _shop_amount(tip) if tip else "0.00",
        "tax_lines": tax_lines(node.get("taxLines")),
        "customer": customer(node.get("customer")),
        "billing_address": address(node.get("billingAddress")),
        "shipping_address": address(node.get("shippingAddress")),
        "line_items": [line_item(line) for line in lines],
        "shipping_lines": [shipping_line(ship) for ship in ships],
        "transactions": [transaction(t, zone) for t in node.get("transactions") or []],
        "refunds": [refund(r, order_id, zone) for r in node.get("refunds") or []],
    }
