"""Order fields the Admin GraphQL API has and the mapper needs: duties, shipping discounts,
the tip, transactions and refunds' line items (shopify.dev Admin GraphQL Order, LineItem, Duty,
ShippingLine, OrderTransaction, Refund and RefundLineItem objects)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from simulators.shopify import ShopifySimulator
from simulators.shopify.graphql import execute

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DOMAIN = "fields.myshopify.com"
MONEY = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"


def query(order: dict[str, Any], selection: str) -> dict[str, Any]:
    sim = ShopifySimulator()
    shop = sim.add_shop(DOMAIN, access_token="simtok_fields")
    sim.add_order(DOMAIN, order)
    body = {
        "query": f"query one($id: ID!) {{ order(id: $id) {{ {selection} }} }}",
        "variables": {"id": f"gid://shopify/Order/{order['id']}"},
    }
    result = execute(shop, body, lambda: datetime.now(UTC))
    assert "errors" not in result.body, result.body
    data: dict[str, Any] = result.body["data"]["order"]
    return data


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text()))


def test_line_item_duties() -> None:
    order = fixture("orders/31_duties.json")
    data = query(
        order,
        f"lineItems(first: 5) {{ nodes {{ id duties {{ id harmonizedSystemCode "
        f"countryCodeOfOrigin price {{ {MONEY} }} taxLines {{ rate }} }} }} }}",
    )
    [duty] = data["lineItems"]["nodes"][0]["duties"]
    rest = order["line_items"][0]["duties"][0]
    assert duty["id"] == f"gid://shopify/Duty/{rest['id']}"
    assert duty["harmonizedSystemCode"] == rest["harmonized_system_code"]
    assert duty["price"]["shopMoney"]["amount"] == "35.5"


def test_shipping_line_discount_allocations_and_the_tip() -> None:
    order = fixture("orders/24_free_shipping_discount_excluded.json")
    data = query(
        order,
        f"totalTipReceivedSet {{ {MONEY} }} shippingLines(first: 5) {{ nodes {{ "
        f"discountAllocations {{ allocatedAmountSet {{ {MONEY} }} }} }} }}",
    )
    [ship] = data["shippingLines"]["nodes"]
    [allocation] = ship["discountAllocations"]
    rest = order["shipping_lines"][0]["discount_allocations"][0]
    assert Decimal(allocation["allocatedAmountSet"]["shopMoney"]["amount"]) == Decimal(
        rest["amount"]
    )
    assert Decimal(rest["amount"]) > 0
    assert data["totalTipReceivedSet"]["shopMoney"]["currencyCode"] == order["currency"]


def test_transactions_and_refund_line_items() -> None:
    order = fixture("edits/10_paid_gift_card_and_card.json")
    data = query(
        order, f"transactions {{ id kind status gateway processedAt amountSet {{ {MONEY} }} }}"
    )
    assert [(t["kind"], t["status"], t["gateway"]) for t in data["transactions"]] == [
        ("SALE", "SUCCESS", "gift_card"),
        ("SALE", "SUCCESS", "shopify_payments"),
    ]
    assert data["transactions"][0]["amountSet"]["presentmentMoney"]["amount"] == "200.0"
    refunded = fixture("edits/04_update_after_refund_unchanged.json")
    data = query(
        refunded,
        f"refunds {{ id totalRefundedSet {{ {MONEY} }} refundLineItems(first: 10) {{ nodes {{ "
        f"quantity restockType subtotalSet {{ {MONEY} }} lineItem {{ id }} }} }} }}",
    )
    [item] = data["refunds"][0]["refundLineItems"]["nodes"]
    rest = refunded["refunds"][0]["refund_line_items"][0]
    assert item["quantity"] == rest["quantity"] and item["restockType"] == "RETURN"
    assert item["lineItem"]["id"] == f"gid://shopify/LineItem/{rest['line_item_id']}"
