"""Shopify Payments payouts and balance transactions in the simulator, read over GraphQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from simulators.shopify import ShopifySimulator
from simulators.shopify.payloads import order_payload

DOMAIN = "payouts.myshopify.com"
TOKEN = "simtok_payouts_0001"
D = Decimal
PAYOUTS = """
query payouts($first: Int!, $query: String) {
  shopifyPaymentsAccount {
    payouts(first: $first, query: $query, sortKey: ISSUED_AT) {
      nodes { id legacyResourceId status issuedAt net { amount currencyCode }
              summary { chargesGross { amount } chargesFee { amount }
                        refundsFeeGross { amount } adjustmentsGross { amount } } }
    }
  }
}
"""
TRANSACTIONS = """
query txns($first: Int!, $query: String) {
  shopifyPaymentsAccount {
    balanceTransactions(first: $first, query: $query) {
      nodes { id type amount { amount } fee { amount } net { amount }
              sourceOrderTransactionId associatedOrder { id name }
              associatedPayout { id status } transactionDate }
    }
  }
}
"""


class Shop:
    def __init__(self, sim: ShopifySimulator, base: str, http: aiohttp.ClientSession) -> None:
        self.sim, self.base, self.http = sim, base, http
        self.url = sim.graphql_url(base, DOMAIN)

    async def gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = {"query": query, "variables": variables}
        headers = {"X-Shopify-Access-Token": TOKEN}
        async with self.http.post(self.url, json=body, headers=headers) as response:
            result: dict[str, Any] = await response.json()
            assert "errors" not in result, result
            data: dict[str, Any] = result["data"]["shopifyPaymentsAccount"]
            return data


@pytest.fixture
async def shop() -> AsyncIterator[Shop]:
    sim = ShopifySimulator()
    sim.add_shop(DOMAIN, access_token=TOKEN)
    async with sim.serve() as base_url, aiohttp.ClientSession() as http:
        yield Shop(sim, base_url, http)


async def test_payout_of_charges_refund_and_adjustment(shop: Shop) -> None:
    first = order_payload(5_000_000_000_101)
    second = order_payload(5_000_000_000_102)
    other = order_payload(5_000_000_000_103, gateway="manual")
    for order in (first, second, other):
        shop.sim.add_order(DOMAIN, order)
    shop.sim.add_refund(
        DOMAIN,
        second["id"],
        {
            "id": 9_000_000_001,
            "created_at": second["created_at"],
            "transactions": [
                {"id": 8_000_000_001, "kind": "refund", "status": "success", "amount": "50.00"}
            ],
        },
    )
    async with shop.http.post(
        f"{shop.base}/_sim/shops/{DOMAIN}/payouts",
        json={"adjustments": [{"amount": "-10.00", "reason": "dispute"}]},
    ) as response:
        assert response.status == 201
        payout = (await response.json())["payout"]
    totals = D(first["total_price"]) + D(second["total_price"])
    fees = sum(
        ((D(o["total_price"]) * D("1.8") / 100 + D("1.80")).quantize(D("0.01")))
        for o in (first, second)
    )
    assert D(payout["amount"]) == totals - fees - D("50.00") - D("10.00")

    data = await shop.gql(
        TRANSACTIONS, {"first": 50, "query": f"payments_transfer_id:{payout['id']}"}
    )
    nodes = data["balanceTransactions"]["nodes"]
    kinds = sorted(n["type"] for n in nodes)
    assert kinds == ["ADJUSTMENT", "CHARGE", "CHARGE", "PAYOUT", "REFUND"]
    for node in nodes:
        assert D(node["net"]["amount"]) == D(node["amount"]["amount"]) - D(node["fee"]["amount"])
        assert node["associatedPayout"]["status"] == "PAID"
    assert sum(D(n["net"]["amount"]) for n in nodes) == 0  # the payout empties the balance
    charge_fees = sum(D(n["fee"]["amount"]) for n in nodes if n["type"] == "CHARGE")
    assert charge_fees == fees

    listed = await shop.gql(PAYOUTS, {"first": 10, "query": "status:paid"})
    (node,) = listed["payouts"]["nodes"]
    assert node["legacyResourceId"] == str(payout["id"])
    assert D(node["net"]["amount"]) == D(payout["amount"])
    assert D(node["summary"]["chargesFee"]["amount"]) == fees
    assert D(node["summary"]["refundsFeeGross"]["amount"]) == D("-50.00")

    again = shop.sim.make_payout(DOMAIN)  # nothing new: an empty payout
    assert D(again["amount"]) == 0
