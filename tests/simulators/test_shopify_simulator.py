"""The Shopify simulator over real loopback HTTP, its webhook sender and its sample payloads."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from simulators.shopify import ShopifySimulator, WebhookSender, build_webhook, deliver, sign
from simulators.shopify.payloads import (
    DiscountSpec,
    LineSpec,
    ShippingSpec,
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


def test_sign_matches_an_independent_hmac() -> None:
    body = b'{"id":5000000000001,"total_price":"186.90"}'
    secret = "simsecret_hush"
    independent = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    assert sign(body, secret) == independent.decode()
    assert sign(body, secret) == "xS0ip9szOvaVyiOplKG2TZlTMgNlTscQ0Q/mMmTblNE="  # openssl dgst
    assert sign(body + b" ", secret) != sign(body, secret)


@dataclass
class Receiver:
    url: str
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@asynccontextmanager
async def receiver(
    respond: Callable[[int], Any] | None = None,
) -> AsyncIterator[Receiver]:
    """A tiny webhook endpoint on loopback that records each request."""
    state = Receiver("")

    async def handle(request: web.Request) -> web.Response:
        state.seen.append((dict(request.headers), await request.read()))
        outcome = respond(len(state.seen)) if respond else 200
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        return web.Response(status=int(outcome))

    app = web.Application()
    app.router.add_post("/webhooks", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks"
    try:
        yield state
    finally:
        await runner.cleanup()


async def test_deliver_copies_sends_identical_duplicates() -> None:
    payload = order_payload(customer=customer_payload(first_name="Åsa"))
    hook = build_webhook("orders/create", DOMAIN, payload, "simsecret_x")
    async with receiver() as rx, aiohttp.ClientSession() as session:
        statuses = await deliver(session, rx.url, hook, copies=3)
    assert statuses == [200, 200, 200]
    assert len(rx.seen) == 3
    bodies = {body for _, body in rx.seen}
    assert bodies == {hook.body}
    for headers, body in rx.seen:
        assert headers["X-Shopify-Webhook-Id"] == hook.webhook_id
        assert headers["X-Shopify-Event-Id"] == hook.event_id
        assert headers["X-Shopify-Topic"] == "orders/create"
        assert headers["X-Shopify-Shop-Domain"] == DOMAIN
        assert headers["X-Shopify-Hmac-Sha256"] == sign(body, "simsecret_x")
    decoded = json.loads(hook.body)
    assert decoded["id"] == payload["id"] and isinstance(decoded["id"], int)
    assert decoded["total_price"] == payload["total_price"]
    assert "Åsa".encode() in hook.body  # raw UTF-8, as Shopify sends it


async def test_webhook_sender_retries_failures_with_the_same_delivery() -> None:
    async def flaky(n: int) -> int:
        if n == 2:
            await asyncio.sleep(0.5)  # longer than the sender's timeout
        return 500 if n == 1 else 200

    hook = build_webhook("orders/paid", DOMAIN, {"id": 1}, "simsecret_x")
    async with receiver(flaky) as rx, aiohttp.ClientSession() as session:
        sender = WebhookSender(session, timeout=0.2, backoff=lambda n: 0.01)
        result = await sender.send(rx.url, hook)
    assert result.delivered
    assert [(a.attempt, a.status) for a in result.attempts] == [(1, 500), (2, None), (3, 200)]
    assert result.attempts[1].error is not None and "timeout" in result.attempts[1].error
    assert {h["X-Shopify-Webhook-Id"] for h, _ in rx.seen} == {hook.webhook_id}
    assert sender.attempts == result.attempts


# ---------------------------------------------------------------- payloads


def _money(value: Any) -> Decimal:
    assert isinstance(value, str), value
    assert len(value.split(".")[1]) == 2, value
    return Decimal(value)


def _check_side(order: Json, side: str | None) -> None:
    """Recompute every total of the order from its lines, in shop or presentment money."""

    def amount(obj: Json, name: str) -> Decimal:
        if side is None:
            return _money(obj[name])
        return _money(obj[f"{name}_set"][side]["amount"])

    incl = order["taxes_included"]
    line_total = sum(
        (amount(li, "price") * li["quantity"] for li in order["line_items"]), Decimal(0)
    )
    discounts = Decimal(0)
    line_taxes = Decimal(0)
    for li in order["line_items"]:
        allocated = sum((amount(a, "amount") for a in li["discount_allocations"]), Decimal(0))
        discounts += allocated
        net = amount(li, "price") * li["quantity"] - allocated
        for tax in li["tax_lines"]:
            rate = Decimal(str(tax["rate"]))
            expected = net * rate / (1 + rate) if incl else net * rate
            assert amount(tax, "price") == expected.quantize(Decimal("0.01")), (net, tax)
            line_taxes += amount(tax, "price")
    shipping = sum((amount(s, "price") for s in order["shipping_lines"]), Decimal(0))
    ship_tax = sum(
        (amount(t, "price") for s in order["shipping_lines"] for t in s["tax_lines"]), Decimal(0)
    )
    assert amount(order, "total_line_items_price") == line_total
    assert amount(order, "total_discounts") == discounts
    assert amount(order, "subtotal_price") == line_total - discounts
    assert amount(order, "total_tax") == line_taxes + ship_tax
    order_tax = sum((amount(t, "price") for t in order["tax_lines"]), Decimal(0))
    assert order_tax == line_taxes + ship_tax
    total = line_total - discounts + shipping + (0 if incl else line_taxes + ship_tax)
    assert amount(order, "total_price") == total
    assert amount(order, "current_total_price") == total
    if side is not None:
        assert _money(order["total_shipping_price_set"][side]["amount"]) == shipping
    else:
        codes = sum((_money(d["amount"]) for d in order["discount_codes"]), Decimal(0))
        assert codes == discounts


VARIANTS: dict[str, dict[str, Any]] = {
    "two_vat_rates": {},
    "percentage_discount": {"discount_codes": [DiscountSpec("WELCOME10", "10")]},
    "fixed_discount_odd_split": {
        "lines": [LineSpec(price="33.33", quantity=3), LineSpec("Mössa", "99.99", 1, "0.12")],
        "discount_codes": [DiscountSpec("MINUS50", "50", "fixed_amount")],
    },
    "free_shipping_and_six_percent": {
        "lines": [LineSpec("Bok", "249.00", 1, "0.06", "BOOK-1")],
        "shipping": ShippingSpec("Fri frakt", "0.00"),
    },
    "no_shipping_taxes_excluded": {"taxes_included": False, "shipping": None, "currency": "USD"},
    "taxes_excluded_with_discount": {
        "taxes_included": False,
        "discount_codes": [DiscountSpec("TENOFF", "10.00", "fixed_amount")],
    },
    "guest_with_null_customer": {"customer": None, "billing_address": None, "email": None},
    "presentment_eur": {"presentment_currency": "EUR", "exchange_rate": "0.0871"},
}


@pytest.mark.parametrize("options", VARIANTS.values(), ids=VARIANTS.keys())
def test_order_payload_totals_add_up(options: dict[str, Any]) -> None:
    order = json.loads(json.dumps(order_payload(**options)))  # as it travels
    for side in (None, "shop_money", "presentment_money"):
        _check_side(order, side)
    assert isinstance(order["id"], int) and len(str(order["id"])) == 13
    assert all(isinstance(li["variant_id"], int) for li in order["line_items"])
    assert order["created_at"].endswith("+01:00")
    assert order["admin_graphql_api_id"] == f"gid://shopify/Order/{order['id']}"


def test_guest_order_has_null_customer_and_addresses() -> None:
    order = order_payload(customer=None, billing_address=None)
    assert order["customer"] is None
    assert order["billing_address"] is None and order["shipping_address"] is None
    default = order_payload()
    assert default["customer"]["admin_graphql_api_id"].startswith("gid://shopify/Customer/")
    assert default["shipping_address"] == default["billing_address"]
    assert default["shipping_address"] is not default["billing_address"]


def test_discount_is_allocated_exactly_over_lines() -> None:
    order = order_payload(
        lines=[LineSpec(price="10.00", quantity=1), LineSpec("B", "10.00", 1, sku="B")],
        discount_codes=[DiscountSpec("THIRD", "3.33", "fixed_amount")],
    )
    parts = [li["discount_allocations"][0]["amount"] for li in order["line_items"]]
    assert parts == ["1.67", "1.66"]
    assert order["total_discounts"] == "3.33"
    assert order["line_items"][0]["total_discount"] == "0.00"  # as in real discount-code orders
