"""The Shopify simulator over real loopback HTTP, its webhook sender and its sample payloads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from simulators.shopify import ShopifySimulator
from simulators.shopify.payloads import (
    customer_payload,
    order_payload,
    product_payload,
)
from simulators.shopify.queries import node_for_gid
from simulators.shopify.schema import TYPES

DOMAIN = "demo.myshopify.com"
TOKEN = "simtok_test_0001"
VERSION = "2025-07"
Json = dict[str, Any]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Client:
    sim: ShopifySimulator
    base_url: str
    session: aiohttp.ClientSession

    async def gql(
        self, query: str, variables: Json | None = None, *, token: str | None = TOKEN
    ) -> tuple[int, Json]:
        headers = {} if token is None else {"X-Shopify-Access-Token": token}
        url = self.sim.graphql_url(self.base_url, DOMAIN, VERSION)
        body = {"query": query, "variables": variables or {}}
        async with self.session.post(url, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def data(self, query: str, variables: Json | None = None) -> Json:
        status, body = await self.gql(query, variables)
        assert status == 200, body
        assert "errors" not in body, body
        result: Json = body["data"]
        return result


@asynccontextmanager
async def running(sim: ShopifySimulator) -> AsyncIterator[Client]:
    async with sim.serve() as base_url, aiohttp.ClientSession() as session:
        assert base_url.startswith("http://127.0.0.1:")
        yield Client(sim, base_url, session)


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    sim = ShopifySimulator()
    sim.add_shop(DOMAIN, access_token=TOKEN)
    async with running(sim) as c:
        yield c


def add_order(sim: ShopifySimulator, **kwargs: Any) -> str:
    return sim.add_order(DOMAIN, order_payload(**kwargs))


# ---------------------------------------------------------------- auth and errors


async def test_wrong_or_missing_token_gets_401(client: Client) -> None:
    for token in ("simtok_wrong", None):
        status, body = await client.gql("{ shop { name } }", token=token)
        assert status == 401
        assert body == {
            "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
        }
    status, body = await client.gql("{ shop { name currencyCode } }")
    assert status == 200
    assert body["data"]["shop"]["currencyCode"] == "SEK"
    assert [r.status for r in client.sim.requests] == [401, 401, 200]


def test_tokens_that_look_real_are_refused() -> None:
    sim = ShopifySimulator()
    with pytest.raises(ValueError, match="simtok_"):
        sim.add_shop("x.myshopify.com", access_token="shpat_" + "x" * 8)
    assert sim.add_shop("y.myshopify.com").access_token.startswith("simtok_")


async def test_unknown_root_field_is_an_error_and_free(client: Client) -> None:
    status, body = await client.gql("query { shop { name } ordersss(first: 1) { nodes { id } } }")
    assert status == 200
    assert body["errors"][0]["message"] == "Field 'ordersss' doesn't exist on type 'QueryRoot'"
    assert "data" not in body
    status, body = await client.gql("{ order(id: $id) { nope } }")
    assert status == 200
    assert "not declared" in body["errors"][0]["message"]
    assert [(r.requested_cost, r.cost) for r in client.sim.requests] == [(0, 0), (0, 0)]


# ---------------------------------------------------------------- mutations

METAFIELDS_SET = """
mutation SetStatus($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key value type updatedAt }
    userErrors { field message code }
  }
}"""


async def test_metafields_set_stores_and_returns(client: Client) -> None:
    order_gid = add_order(client.sim)
    inputs = [
        {
            "ownerId": order_gid,
            "namespace": "fortbridge",
            "key": "sync_status",
            "value": "synced",
            "type": "single_line_text_field",
        },
        {
            "ownerId": order_gid,
            "namespace": "fortbridge",
            "key": "fortnox",
            "value": json.dumps({"invoice": 1017}),
            "type": "json",
        },
    ]
    data = await client.data(METAFIELDS_SET, {"metafields": inputs})
    result = data["metafieldsSet"]
    assert result["userErrors"] == []
    assert [(m["key"], m["value"], m["type"]) for m in result["metafields"]] == [
        ("sync_status", "synced", "single_line_text_field"),
        ("fortnox", '{"invoice": 1017}', "json"),
    ]
    assert all(m["id"].startswith("gid://shopify/Metafield/") for m in result["metafields"])
    stored = client.sim.shop(DOMAIN).metafields
    assert stored[(order_gid, "fortbridge", "sync_status")]["value"] == "synced"
    assert set(stored[(order_gid, "fortbridge", "fortnox")]) == {"value", "type", "updatedAt"}

    # An update keeps the id; the type may be left out once the metafield exists.
    first_id = result["metafields"][0]["id"]
    update = {"ownerId": order_gid, "namespace": "fortbridge", "key": "sync_status"}
    data = await client.data(METAFIELDS_SET, {"metafields": [{**update, "value": "failed"}]})
    assert data["metafieldsSet"]["metafields"][0]["id"] == first_id
    read = await client.data(
        'query($id: ID!) { order(id: $id) { metafield(namespace: "fortbridge", '
        'key: "sync_status") { value } } }',
        {"id": order_gid},
    )
    assert read["order"]["metafield"] == {"value": "failed"}


async def test_metafields_set_user_errors_are_atomic(client: Client) -> None:
    order_gid = add_order(client.sim)
    good = {"ownerId": order_gid, "namespace": "fortbridge", "key": "ok", "value": "1"}
    bad_inputs = [
        [{**good, "type": "number_integer"}, {**good, "key": "k2"}],  # second: no type
        [{**good, "type": "number_integer", "ownerId": "gid://shopify/Order/1"}],
        [{**good, "type": "number_integer", "value": "abc"}],
        [{**good, "type": "number_integer", "key": f"k{i}"} for i in range(26)],
    ]
    codes = []
    for inputs in bad_inputs:
        data = await client.data(METAFIELDS_SET, {"metafields": inputs})
        assert data["metafieldsSet"]["metafields"] == []
        codes.append([e["code"] for e in data["metafieldsSet"]["userErrors"]])
    assert codes == [["BLANK"], ["INVALID"], ["INVALID_VALUE"], ["LESS_THAN_OR_EQUAL_TO"]]
    assert client.sim.shop(DOMAIN).metafields == {}


async def test_metafield_values_are_limited_in_size_by_type(client: Client) -> None:
    order_gid = add_order(client.sim)
    base = {"ownerId": order_gid, "namespace": "fortbridge"}
    too_big = [
        {**base, "key": "j", "type": "json", "value": json.dumps("x" * 128 * 1024)},
        {**base, "key": "t", "type": "multi_line_text_field", "value": "å" * 32_769},
        {**base, "key": "u", "type": "url", "value": "https://e.se/" + "a" * 2_040},
    ]
    for item in too_big:
        data = await client.data(METAFIELDS_SET, {"metafields": [{**item, "key": "kk"}]})
        assert [e["code"] for e in data["metafieldsSet"]["userErrors"]] == ["TOO_LONG"]
    fits = {**base, "key": "kk", "type": "json", "value": json.dumps("x" * (128 * 1024 - 2))}
    data = await client.data(METAFIELDS_SET, {"metafields": [fits]})
    assert data["metafieldsSet"]["userErrors"] == []


TAGS_ADD = """
mutation AddTags($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    node { id ... on Order { tags updatedAt } }
    userErrors { field message }
  }
}"""


async def test_tags_add_appends_without_duplicates(client: Client) -> None:
    order_gid = add_order(client.sim, tags="vip", updated_at="2025-01-10T10:00:00+01:00")
    data = await client.data(TAGS_ADD, {"id": order_gid, "tags": ["fortnox-synced", "VIP"]})
    assert data["tagsAdd"]["userErrors"] == []
    assert data["tagsAdd"]["node"]["tags"] == ["vip", "fortnox-synced"]
    assert data["tagsAdd"]["node"]["updatedAt"] > "2025-01-10T09:00:00Z"
    data = await client.data(TAGS_ADD, {"id": order_gid, "tags": "fortnox-synced, extra"})
    assert data["tagsAdd"]["node"]["tags"] == ["vip", "fortnox-synced", "extra"]
    assert client.sim.shop(DOMAIN).order_tags[order_gid] == ["vip", "fortnox-synced", "extra"]
    legacy_id = order_gid.rsplit("/", 1)[1]
    url = f"{client.base_url}/_sim/shops/{DOMAIN}/orders/{legacy_id}/tags"
    async with client.session.get(url) as response:
        assert await response.json() == {
            "id": order_gid,
            "tags": ["vip", "fortnox-synced", "extra"],
        }
    missing = await client.data(TAGS_ADD, {"id": "gid://shopify/Order/42", "tags": ["x"]})
    assert missing["tagsAdd"]["node"] is None
    assert missing["tagsAdd"]["userErrors"][0]["field"] == ["id"]


# ---------------------------------------------------------------- queries

ORDERS_PAGE = """
query Reconcile($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id } }
    nodes { name updatedAt }
  }
}"""


async def test_orders_pagination_with_cursors_and_updated_at_filter(client: Client) -> None:
    # Inserted out of order; updated_at decides the order of the pages.
    for day in (5, 1, 7, 3, 6, 2, 4):
        add_order(client.sim, name=f"#D{day}", updated_at=f"2025-03-0{day}T12:00:00+01:00")
    query = "updated_at:>='2025-03-03T11:00:00Z' status:any"
    names: list[str] = []
    after = None
    pages = 0
    while True:
        data = await client.data(ORDERS_PAGE, {"first": 2, "after": after, "query": query})
        connection = data["orders"]
        pages += 1
        names += [node["name"] for node in connection["nodes"]]
        assert connection["edges"][-1]["cursor"] == connection["pageInfo"]["endCursor"]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert names == ["#D3", "#D4", "#D5", "#D6", "#D7"]
    assert pages == 3

    one = next(o for o in client.sim.shop(DOMAIN).orders.values() if o["name"] == "#D6")
    data = await client.data(ORDERS_PAGE, {"first": 5, "query": f"id:{one['id']}"})
    assert [n["name"] for n in data["orders"]["nodes"]] == ["#D6"]
    assert data["orders"]["nodes"][0]["updatedAt"] == "2025-03-06T11:00:00Z"


ORDER_QUERY = """
query Order($id: ID!) {
  order(id: $id) {
    id legacyResourceId name email createdAt updatedAt currencyCode taxesIncluded tags
    totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
    lineItems(first: 10) { nodes { id sku quantity title
      originalUnitPriceSet { shopMoney { amount currencyCode } }
      taxLines { rate priceSet { shopMoney { amount } } } } }
    customer { id email firstName lastName }
  }
}"""


async def test_order_query_is_derived_from_the_rest_payload(client: Client) -> None:
    payload = order_payload(presentment_currency="EUR", exchange_rate="0.087")
    order_gid = client.sim.add_order(DOMAIN, payload)
    order = (await client.data(ORDER_QUERY, {"id": order_gid}))["order"]
    assert order["legacyResourceId"] == str(payload["id"])
    assert order["createdAt"].endswith("Z")
    total = order["totalPriceSet"]
    assert Decimal(total["shopMoney"]["amount"]) == Decimal(payload["total_price"])
    assert total["presentmentMoney"]["currencyCode"] == "EUR"
    lines = order["lineItems"]["nodes"]
    assert [(li["sku"], li["quantity"]) for li in lines] == [
        (li["sku"], li["quantity"]) for li in payload["line_items"]
    ]
    assert [li["taxLines"][0]["rate"] for li in lines] == [0.25, 0.12]
    assert order["customer"]["email"] == payload["customer"]["email"]

    guest_gid = add_order(client.sim, customer=None, billing_address=None)
    guest = (await client.data(ORDER_QUERY, {"id": guest_gid}))["order"]
    assert guest["customer"] is None


async def test_products_and_customers(client: Client) -> None:
    client.sim.add_product(DOMAIN, product_payload(title="Ullsockor"))
    client.sim.add_product(DOMAIN, product_payload(title="Mössa", tags="vinter"))
    client.sim.add_customer(DOMAIN, customer_payload(email="bo@example.com", first_name="Bo"))
    data = await client.data(
        "query($q: String) { products(first: 5, query: $q) { nodes { title "
        "variants(first: 5) { nodes { sku price inventoryQuantity } } } } "
        'customers(first: 5, query: "email:bo@example.com") { nodes { email firstName } } }',
        {"q": "tag:vinter"},
    )
    assert [p["title"] for p in data["products"]["nodes"]] == ["Mössa"]
    assert data["products"]["nodes"][0]["variants"]["nodes"][0]["price"] == "199.00"
    assert data["customers"]["nodes"] == [{"email": "bo@example.com", "firstName": "Bo"}]


def test_shapes_cover_every_schema_field() -> None:
    sim = ShopifySimulator()
    shop = sim.add_shop(DOMAIN, access_token=TOKEN)
    order_gid = sim.add_order(DOMAIN, order_payload())
    product_gid = sim.add_product(DOMAIN, product_payload())
    customer_gid = sim.add_customer(DOMAIN, customer_payload())
    for owner in (order_gid, product_gid, customer_gid):
        node = node_for_gid(shop, owner)
        assert node is not None
        assert set(TYPES[node["__typename"]]) <= set(node), node["__typename"]
    order = node_for_gid(shop, order_gid)
    assert order is not None
    line_page, _ = order["lineItems"]({"first": 1}).page({"first": 1})
    assert set(TYPES["LineItem"]) <= set(line_page["nodes"][0])


# ---------------------------------------------------------------- cost and throttling

NESTED = "{ orders(first: 10) { nodes { id lineItems(first: 5) { nodes { sku } } } } }"


async def test_cost_of_nested_connections(client: Client) -> None:
    add_order(client.sim)
    add_order(client.sim)
    status, body = await client.gql(NESTED)
    assert status == 200
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 10 * (1 + 2 + 5)
    assert cost["actualQueryCost"] == 2 + 2 + 2 * (2 + 2)  # two orders of two lines
    assert cost["throttleStatus"]["maximumAvailable"] == 1000.0
    assert client.sim.requests[-1].cost == cost["actualQueryCost"]


async def test_throttled_when_drained_then_recovers_after_restore() -> None:
    clock = FakeClock()
    sim = ShopifySimulator(bucket_size=50.0, restore_rate=10.0, clock=clock)
    sim.add_shop(DOMAIN, access_token=TOKEN)
    query = "{ orders(first: 20) { nodes { id } } }"  # requests 22, costs 2 with no orders
    async with running(sim) as c:
        _, body = await c.gql("{ orders(first: 100) { nodes { id } } }")
        assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
        sim.shop(DOMAIN).bucket.drain(to=21.0)
        _, body = await c.gql(query)
        assert body["errors"] == [
            {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
        ]
        assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 21
        assert sim.requests[-1].throttled and sim.requests[-1].cost == 0
        clock.now += 0.2  # +2 points: enough
        _, body = await c.gql(query)
        assert "errors" not in body
        assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 23 - 2


async def test_real_time_restore_with_a_small_bucket() -> None:
    sim = ShopifySimulator(bucket_size=30.0, restore_rate=100.0)
    sim.add_shop(DOMAIN, access_token=TOKEN)
    query = "{ orders(first: 25) { nodes { id } } }"  # 27 points: 270 ms of restore
    async with running(sim) as c:
        sim.shop(DOMAIN).bucket.drain()
        _, body = await c.gql(query)
        assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
        await asyncio.sleep(0.4)  # 40 points restored, capped at 30
        _, body = await c.gql(query)
        assert body["data"] == {"orders": {"nodes": []}}


async def test_faults_and_control_endpoints(client: Client) -> None:
    base = f"{client.base_url}/_sim"
    order = order_payload()
    async with client.session.post(f"{base}/shops/{DOMAIN}/orders", json={"order": order}) as r:
        assert r.status == 201
        assert (await r.json())["ids"] == [order["admin_graphql_api_id"]]
    async with client.session.post(f"{base}/faults", json={"kind": "status", "status": 502}) as r:
        assert r.status == 201
    status, _ = await client.gql("{ shop { name } }")
    assert status == 502
    status, _ = await client.gql("{ shop { name } }")
    assert status == 200
    client.sim.faults.add("drop")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.gql("{ shop { name } }")
    async with client.session.get(f"{base}/requests") as r:
        records = await r.json()
    assert [(x["status"], x["fault"]) for x in records] == [
        (502, "status"),
        (200, None),
        (0, "drop"),
    ]


# ---------------------------------------------------------------- webhooks
