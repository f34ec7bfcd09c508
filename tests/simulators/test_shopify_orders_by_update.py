"""The simulator's orders listing as reconciliation reads it: updated_at filter, UPDATED_AT
order, cursor pages, cost-based throttling; orders and refunds stored without a webhook; the
financial status and cancellation in Shopify's spelling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from services.ingest.reconcile.listing import ORDERS_BY_UPDATE_QUERY
from simulators.shopify import ShopifySimulator
from simulators.shopify.payloads import order_payload

DOMAIN = "listing.myshopify.com"
TOKEN = "simtok_listing_0001"
BASE = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
QUERY = """
query page($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes { id updatedAt refunds { id } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


class Shop:
    def __init__(self, sim: ShopifySimulator, url: str, http: aiohttp.ClientSession) -> None:
        self.sim, self.url, self.http = sim, url, http

    async def post(self, variables: dict[str, Any], query: str = QUERY) -> dict[str, Any]:
        body = {"query": query, "variables": variables}
        headers = {"X-Shopify-Access-Token": TOKEN}
        async with self.http.post(self.url, json=body, headers=headers) as response:
            assert response.status == 200
            result: dict[str, Any] = await response.json()
            return result


@pytest.fixture
async def shop() -> AsyncIterator[Shop]:
    sim = ShopifySimulator(bucket_size=1000.0, restore_rate=50.0)
    sim.add_shop(DOMAIN, access_token=TOKEN)
    async with sim.serve() as base_url, aiohttp.ClientSession() as http:
        yield Shop(sim, sim.graphql_url(base_url, DOMAIN), http)


def add(sim: ShopifySimulator, order_id: int, updated_minutes: int) -> None:
    sim.add_order(
        DOMAIN,
        order_payload(
            order_id, created_at=BASE, updated_at=BASE + timedelta(minutes=updated_minutes)
        ),
    )


async def test_orders_updated_since_come_oldest_update_first_in_cursor_pages(shop: Shop) -> None:
    # Ids and update times in different orders: the sort is by update, not by id.
    for order_id, minutes in [(5001, 30), (5002, 10), (5003, 50), (5004, 20), (5005, 5)]:
        add(shop.sim, order_id, minutes)
    since = "updated_at:>='2026-11-20T09:10:00Z'"
    seen: list[str] = []
    cursor = None
    while True:
        body = await shop.post({"first": 2, "after": cursor, "query": since})
        connection = body["data"]["orders"]
        seen.extend(node["id"] for node in connection["nodes"])
        cost = body["extensions"]["cost"]
        assert cost["requestedQueryCost"] == 2 + 2  # 2 per connection + 1 per node
        if not connection["pageInfo"]["hasNextPage"]:
            break
        cursor = connection["pageInfo"]["endCursor"]
    assert seen == [f"gid://shopify/Order/{n}" for n in (5002, 5004, 5001, 5003)]


async def test_an_order_updated_between_pages_moves_behind_the_cursor(shop: Shop) -> None:
    for order_id, minutes in [(6001, 1), (6002, 2), (6003, 3)]:
        add(shop.sim, order_id, minutes)
    query = "updated_at:>='2026-11-20T09:00:00Z'"
    first = await shop.post({"first": 2, "query": query})
    cursor = first["data"]["orders"]["pageInfo"]["endCursor"]
    add(shop.sim, 6001, 9)  # updated after it was read: it comes again, last
    second = await shop.post({"first": 2, "after": cursor, "query": query})
    assert [n["id"] for n in second["data"]["orders"]["nodes"]] == [
        "gid://shopify/Order/6003",
        "gid://shopify/Order/6001",
    ]


async def test_throttled_when_the_bucket_cannot_pay_the_page(shop: Shop) -> None:
    add(shop.sim, 7001, 1)
    shop.sim.shop(DOMAIN).bucket.drain(to=50.0)
    body = await shop.post({"first": 100, "query": "updated_at:>='2026-11-20T09:00:00Z'"})
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 102
    assert "data" not in body or body["data"] is None


async def test_a_refund_added_without_a_webhook_shows_on_the_order_and_moves_it(
    shop: Shop,
) -> None:
    add(shop.sim, 8001, 1)
    before = shop.sim.shop(DOMAIN).orders[8001]["updated_at"]
    refund_gid = shop.sim.add_refund(
        DOMAIN, 8001, {"id": 9900000001, "created_at": "2026-11-21T10:00:00+01:00"}
    )
    assert refund_gid == "gid://shopify/Refund/9900000001"
    order = shop.sim.shop(DOMAIN).orders[8001]
    assert order["updated_at"] > before
    body = await shop.post({"first": 5, "query": f"updated_at:>='{order['updated_at']}'"})
    [node] = body["data"]["orders"]["nodes"]
    assert node["refunds"] == [{"id": refund_gid}]


async def test_the_listing_shows_the_financial_status_and_cancellation_as_shopify(
    shop: Shop,
) -> None:
    """Reconciliation's own listing query: ``displayFinancialStatus`` is an
    OrderDisplayFinancialStatus value (PAID, PARTIALLY_REFUNDED, VOIDED, ...), ``cancelledAt``
    a UTC DateTime or null; scalars add nothing to the cost (2 + 1 per node)."""
    base = BASE + timedelta(minutes=1)
    orders = [
        order_payload(9001, created_at=BASE, updated_at=base, financial_status="paid"),
        order_payload(9002, created_at=BASE, updated_at=base, financial_status="pending"),
        order_payload(
            9003, created_at=BASE, updated_at=base, financial_status="partially_refunded"
        ),
        order_payload(9004, created_at=BASE, updated_at=base, financial_status="voided"),
    ]
    orders[3]["cancelled_at"] = "2026-11-20T10:30:00+01:00"
    orders[3]["cancel_reason"] = "customer"
    for order in orders:
        shop.sim.add_order(DOMAIN, order)
    variables = {"first": 10, "query": "updated_at:>='2026-11-20T09:00:00Z'"}
    body = await shop.post(variables, ORDERS_BY_UPDATE_QUERY)
    assert body["extensions"]["cost"]["requestedQueryCost"] == 2 + 10
    nodes = {node["id"]: node for node in body["data"]["orders"]["nodes"]}
    seen = {
        gid.rsplit("/", 1)[1]: (node["displayFinancialStatus"], node["cancelledAt"])
        for gid, node in nodes.items()
    }
    assert seen == {
        "9001": ("PAID", None),
        "9002": ("PENDING", None),
        "9003": ("PARTIALLY_REFUNDED", None),
        "9004": ("VOIDED", "2026-11-20T09:30:00Z"),
    }


async def test_without_read_all_orders_orders_older_than_60_days_are_not_shown(
    shop: Shop,
) -> None:
    now = datetime.now(UTC)
    shop.sim.add_order(DOMAIN, order_payload(6001, created_at=now - timedelta(days=61)))
    shop.sim.add_order(DOMAIN, order_payload(6002, created_at=now - timedelta(days=59)))
    by_id = "query one($id: ID!) { order(id: $id) { id } }"

    async def listed() -> list[str]:
        body = await shop.post({"first": 10, "query": "created_at:>='2020-01-01T00:00:00Z'"})
        return [node["id"] for node in body["data"]["orders"]["nodes"]]

    assert len(await listed()) == 2  # an app with the scope (the default) sees both
    shop.sim.shop(DOMAIN).read_all_orders = False
    assert await listed() == ["gid://shopify/Order/6002"]
    gone = await shop.post({"id": "gid://shopify/Order/6001"}, by_id)
    assert gone["data"]["order"] is None
