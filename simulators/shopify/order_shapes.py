"""The GraphQL ``Order`` derived from a stored REST order (the webhook shape).

Its transactions and refunds come from refund_shapes.py; line items, shipping lines, customer
and addresses from shapes.py.
"""

from __future__ import annotations

from decimal import Decimal

from ._money import dec
from ._state import Payload, ShopState, gid
from .execution import Connection, Node
from .metafields import metafield_fields
from .refund_shapes import refund_node, transaction_node
from .shapes import (
    address_node,
    customer_node,
    line_item_node,
    money_bag,
    shipping_line_node,
    tax_line_node,
    utc,
)

_FULFILLMENT = {None: "UNFULFILLED", "fulfilled": "FULFILLED", "partial": "PARTIALLY_FULFILLED"}


def order_node(shop: ShopState, rest: Payload) -> Node:
    order_gid = rest.get("admin_graphql_api_id") or gid("Order", rest["id"])
    cur = rest.get("currency") or shop.currency
    lines = list(rest.get("line_items") or [])
    ships = list(rest.get("shipping_lines") or [])
    customer = rest.get("customer")
    if customer and customer.get("id") in shop.customers:
        customer = shop.customers[customer["id"]]

    def bag(name: str) -> Node:
        return money_bag(rest.get(f"{name}_set"), rest.get(name), cur)

    shipping = rest.get("total_shipping_price_set")
    if not shipping:
        total = sum((dec(s.get("price") or "0") for s in ships), Decimal(0))
        shipping = {
            "shop_money": {"amount": str(total), "currency_code": cur},
            "presentment_money": {"amount": str(total), "currency_code": cur},
        }
    status = rest.get("financial_status")
    return {
        "__typename": "Order",
        "id": order_gid,
        "legacyResourceId": str(rest["id"]),
        "name": rest.get("name"),
        "email": rest.get("email"),
        "phone": rest.get("phone"),
        "createdAt": utc(rest.get("created_at")),
        "updatedAt": utc(rest.get("updated_at")),
        "processedAt": utc(rest.get("processed_at") or rest.get("created_at")),
        "cancelledAt": utc(rest.get("cancelled_at")),
        "closedAt": utc(rest.get("closed_at")),
        "cancelReason": (rest.get("cancel_reason") or "").upper() or None,
        "test": bool(rest.get("test")),
        "confirmed": bool(rest.get("confirmed", True)),
        "currencyCode": cur,
        "presentmentCurrencyCode": rest.get("presentment_currency") or cur,
        "taxesIncluded": bool(rest.get("taxes_included")),
        "displayFinancialStatus": str(status).upper() if status else None,
        "displayFulfillmentStatus": _FULFILLMENT.get(
            rest.get("fulfillment_status"), str(rest.get("fulfillment_status")).upper()
        ),
        "note": rest.get("note"),
        "tags": list(shop.order_tags.get(order_gid, [])),
        "discountCodes": [d.get("code") for d in rest.get("discount_codes") or []],
        "paymentGatewayNames": list(rest.get("payment_gateway_names") or []),
        "sourceName": rest.get("source_name"),
        "totalPriceSet": bag("total_price"),
        "subtotalPriceSet": bag("subtotal_price"),
        "totalTaxSet": bag("total_tax"),
        "totalDiscountsSet": bag("total_discounts"),
        "totalShippingPriceSet": money_bag(shipping, None, cur),
        "currentTotalPriceSet": bag("current_total_price"),
        "currentSubtotalPriceSet": bag("current_subtotal_price"),
        "currentTotalTaxSet": bag("current_total_tax"),
        "currentTotalDiscountsSet": bag("current_total_discounts"),
        "totalOutstandingSet": money_bag(None, rest.get("total_outstanding"), cur),
        "totalTipReceivedSet": bag("total_tip_received"),
        "customAttributes": [
            {"__typename": "Attribute", "key": a.get("name"), "value": a.get("value")}
            for a in rest.get("note_attributes") or []
        ],
        "lineItems": lambda _args: Connection.of(
            "LineItem", [line_item_node(shop, li, cur) for li in lines], [li["id"] for li in lines]
        ),
        "shippingLines": lambda args: Connection.of(
            "ShippingLine",
            [
                shipping_line_node(s, cur)
                for s in ships
                if args.get("includeRemovals") or not s.get("is_removed")
            ],
        ),
        "taxLines": [tax_line_node(t, cur) for t in rest.get("tax_lines") or []],
        "customer": customer_node(shop, customer) if customer else None,
        "billingAddress": address_node(rest.get("billing_address")),
        "shippingAddress": address_node(rest.get("shipping_address")),
        "transactions": lambda args: [
            transaction_node(rest, t, cur)
            for t in (rest.get("transactions") or [])[: args.get("first") or None]
        ],
        "refunds": lambda args: [
            refund_node(shop, rest, r, cur)
            for r in (rest.get("refunds") or [])[: args.get("first") or None]
        ],
        **metafield_fields(shop, order_gid),
    }
