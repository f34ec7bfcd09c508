"""A Refund's fields as the Admin GraphQL API (2025-07) has them, from a stored REST refund:
refundShippingLines, orderAdjustments, duties and transactions (shopify.dev Admin GraphQL
Refund, RefundShippingLine, OrderAdjustment, RefundDuty and OrderTransaction objects)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from simulators.shopify import ShopifySimulator
from simulators.shopify.graphql import execute

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DOMAIN = "refunds.myshopify.com"
MONEY = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"
REFUND = f"""
  id totalRefundedSet {{ {MONEY} }}
  refundShippingLines(first: 5) {{
    nodes {{ id shippingLine {{ id }} subtotalAmountSet {{ {MONEY} }} taxAmountSet {{ {MONEY} }} }}
  }}
  orderAdjustments(first: 5) {{
    nodes {{ id reason amountSet {{ {MONEY} }} taxAmountSet {{ {MONEY} }} }}
  }}
  duties {{ amountSet {{ {MONEY} }} originalDuty {{ id }} }}
  transactions(first: 5) {{
    nodes {{ id kind status gateway processedAt createdAt amountSet {{ {MONEY} }} }}
    pageInfo {{ hasNextPage }}
  }}
"""


def run(order: dict[str, Any], refunds: list[dict[str, Any]], selection: str) -> dict[str, Any]:
    sim = ShopifySimulator()
    shop = sim.add_shop(DOMAIN, access_token="simtok_refunds")
    sim.add_order(DOMAIN, copy.deepcopy(order))
    for refund in refunds:
        sim.add_refund(DOMAIN, order["id"], copy.deepcopy(refund))
    body = {
        "query": f"query one($id: ID!) {{ order(id: $id) {{ {selection} }} }}",
        "variables": {"id": f"gid://shopify/Order/{order['id']}"},
    }
    result = execute(shop, body, lambda: datetime.now(UTC))
    return dict(result.body)


def refunds_of(order: dict[str, Any], refunds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    body = run(order, refunds, f"refunds {{ {REFUND} }}")
    assert "errors" not in body, body
    return list(body["data"]["order"]["refunds"])


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text()))


def bag(shop: str, presentment: str | None = None, cur: str = "SEK") -> dict[str, Any]:
    return {
        "shopMoney": {"amount": shop, "currencyCode": "SEK"},
        "presentmentMoney": {"amount": presentment or shop, "currencyCode": cur},
    }


O1 = "orders/01_two_rates_vat_included.json"


def test_a_shipping_refund_is_a_refund_shipping_line_not_an_adjustment() -> None:
    order = fixture(O1)
    refund = fixture("refunds/15_paid_full_refund_credits_and_pays_back.json")
    [node] = refunds_of(order, [refund])
    [line] = node["refundShippingLines"]["nodes"]
    assert (
        line["shippingLine"]["id"]
        == f"gid://shopify/ShippingLine/{order['shipping_lines'][0]['id']}"
    )
    # REST's adjustment is negative (-49.00, tax -9.80); the refunded amounts are positive.
    assert line["subtotalAmountSet"] == bag("49.0")
    assert line["taxAmountSet"] == bag("9.8")
    assert node["orderAdjustments"]["nodes"] == []
    [tx] = node["transactions"]["nodes"]
    assert (tx["id"], tx["kind"], tx["status"], tx["gateway"]) == (
        "gid://shopify/OrderTransaction/5600000000015",
        "REFUND",
        "SUCCESS",
        "shopify_payments",
    )
    assert tx["processedAt"] == "2026-11-20T09:00:00Z"
    assert tx["amountSet"] == bag("536.0")
    assert node["totalRefundedSet"] == bag("536.0")
    assert node["duties"] == []


def test_a_failed_refund_transaction_is_listed_but_refunds_nothing() -> None:
    refund = fixture("refunds/17_paid_refund_failed_transaction_pays_nothing.json")
    [node] = refunds_of(fixture(O1), [refund])
    [tx] = node["transactions"]["nodes"]
    assert (tx["kind"], tx["status"]) == ("REFUND", "FAILURE")
    assert node["totalRefundedSet"] == bag("0.0")


def test_a_refund_in_eur_has_both_sides() -> None:
    order = fixture("orders/19_presentment_eur_explicit_rate.json")
    refund = fixture("refunds/16_paid_partial_refund_in_eur.json")
    [node] = refunds_of(order, [refund])
    [tx] = node["transactions"]["nodes"]
    rest_tx = refund["transactions"][0]
    money = tx["amountSet"]["presentmentMoney"]
    assert money["currencyCode"] == "EUR"
    assert Decimal(money["amount"]) == Decimal(rest_tx["amount"]) > 0
    assert tx["amountSet"]["shopMoney"]["currencyCode"] == "SEK"


def test_a_discrepancy_is_an_order_adjustment_with_its_reason() -> None:
    refund = fixture("refunds/07_goodwill_discrepancy.json")
    [node] = refunds_of(fixture(O1), [refund])
    [adjustment] = node["orderAdjustments"]["nodes"]
    rest = refund["order_adjustments"][0]
    assert adjustment["id"] == f"gid://shopify/OrderAdjustment/{rest['id']}"
    assert adjustment["reason"] == "REFUND_DISCREPANCY"
    assert adjustment["amountSet"] == bag("-50.0")
    assert adjustment["taxAmountSet"] == bag("0.0")
    assert node["refundShippingLines"]["nodes"] == []


def test_named_refund_shipping_lines_are_answered_as_they_are() -> None:
    order = fixture("orders/25_two_shipping_lines.json")
    second = order["shipping_lines"][1]
    legacy = fixture("refunds/06_shipping_only_excluded.json")["order_adjustments"][0]
    refund = {
        "id": 8_300_000_000_001,
        "created_at": "2026-11-20T10:00:00+01:00",
        "refund_line_items": [],
        "refund_shipping_lines": [
            {
                "id": 8_300_000_000_011,
                "shipping_line_id": second["id"],
                "subtotal_amount_set": second["price_set"],
            }
        ],
        # The legacy spelling of the same shipping refund is not listed a second time.
        "order_adjustments": [legacy],
    }
    [node] = refunds_of(order, [refund])
    [line] = node["refundShippingLines"]["nodes"]
    assert line["id"] == "gid://shopify/RefundShippingLine/8300000000011"
    assert line["shippingLine"]["id"] == f"gid://shopify/ShippingLine/{second['id']}"
    assert line["subtotalAmountSet"]["shopMoney"]["amount"] == "30.0"
    assert line["taxAmountSet"] == bag("0.0")
    assert node["orderAdjustments"]["nodes"] == []


def test_later_shipping_refunds_go_to_the_next_shipping_line() -> None:
    order = fixture("orders/25_two_shipping_lines.json")
    first, second = order["shipping_lines"]
    refunds = []
    for n, ship in enumerate((first, second)):
        refunds.append(
            {
                "id": 8_300_000_000_100 + n,
                "created_at": "2026-11-20T10:00:00+01:00",
                "order_adjustments": [
                    {"id": n + 1, "kind": "shipping_refund", "amount": f"-{ship['price']}"}
                ],
            }
        )
    nodes = refunds_of(order, refunds)
    lines = [node["refundShippingLines"]["nodes"][0] for node in nodes]
    assert [line["shippingLine"]["id"] for line in lines] == [
        f"gid://shopify/ShippingLine/{first['id']}",
        f"gid://shopify/ShippingLine/{second['id']}",
    ]
    assert [line["subtotalAmountSet"]["shopMoney"]["amount"] for line in lines] == [
        "49.0",
        "30.0",
    ]


def test_without_a_shipping_line_a_shipping_refund_stays_an_adjustment() -> None:
    order = {**fixture(O1), "shipping_lines": []}
    refund = fixture("refunds/04_full_refund_reverses_invoice.json")
    [node] = refunds_of(order, [refund])
    assert node["refundShippingLines"]["nodes"] == []
    [adjustment] = node["orderAdjustments"]["nodes"]
    assert adjustment["amountSet"] == bag("-49.0")


def test_refunded_duties_name_their_duty() -> None:
    order = fixture("orders/31_duties.json")
    [duty] = order["line_items"][0]["duties"]
    refund = {
        "id": 8_300_000_000_031,
        "created_at": "2026-11-20T10:00:00+01:00",
        "duties": [{"duty_id": duty["id"], "amount_set": duty["price_set"]}],
    }
    [node] = refunds_of(order, [refund])
    [refunded] = node["duties"]
    assert refunded["originalDuty"]["id"] == f"gid://shopify/Duty/{duty['id']}"
    assert refunded["amountSet"]["shopMoney"]["amount"] == "35.5"


def test_transactions_are_paged_like_any_connection() -> None:
    refund = fixture("refunds/14_paid_partial_refund_pays_back.json")
    tx = refund["transactions"][0]
    refund["transactions"] = [{**tx, "id": tx["id"] + i} for i in range(7)]
    [node] = refunds_of(fixture(O1), [refund])
    assert len(node["transactions"]["nodes"]) == 5
    assert node["transactions"]["pageInfo"]["hasNextPage"] is True


def test_order_adjustments_have_no_kind_since_2024_10() -> None:
    body = run(fixture(O1), [], "refunds { orderAdjustments(first: 5) { nodes { kind } } }")
    assert "errors" in body
    assert "kind" in json.dumps(body["errors"])
