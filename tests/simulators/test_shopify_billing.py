"""The Shopify simulator's Billing API: usage subscriptions, usage records, their webhooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from simulators.shopify import ShopifySimulator
from simulators.shopify.billing import TRANSITIONS
from simulators.shopify.webhooks import sign

DOMAIN = "billing-demo.myshopify.com"
TOKEN = "simtok_billing"
SECRET = "billing-webhook-secret"
Json = dict[str, Any]

CREATE = """
mutation Create($name: String!, $returnUrl: URL!, $lineItems: [AppSubscriptionLineItemInput!]!,
                $test: Boolean) {
  appSubscriptionCreate(name: $name, returnUrl: $returnUrl, lineItems: $lineItems, test: $test) {
    confirmationUrl
    appSubscription {
      id status test
      lineItems { id plan { pricingDetails { __typename
        ... on AppUsagePricing { terms cappedAmount { amount currencyCode }
                                 balanceUsed { amount currencyCode } } } } }
    }
    userErrors { field message }
  }
}
"""
RECORD = """
mutation Usage($id: ID!, $price: MoneyInput!, $description: String!, $key: String) {
  appUsageRecordCreate(subscriptionLineItemId: $id, price: $price, description: $description,
                       idempotencyKey: $key) {
    appUsageRecord { id idempotencyKey price { amount currencyCode }
      subscriptionLineItem { plan { pricingDetails {
        ... on AppUsagePricing { balanceUsed { amount } cappedAmount { amount } } } } } }
    userErrors { field message }
  }
}
"""
ACTIVE = """
{ currentAppInstallation { activeSubscriptions { id status
    lineItems { id plan { pricingDetails { ... on AppUsagePricing {
      balanceUsed { amount } cappedAmount { amount } } } } } } } }
"""
RAISE_CAP = """
mutation Raise($id: ID!, $cap: MoneyInput!) {
  appSubscriptionLineItemUpdate(id: $id, cappedAmount: $cap) {
    confirmationUrl userErrors { field message }
  }
}
"""


@dataclass
class Api:
    sim: ShopifySimulator
    base: str
    http: aiohttp.ClientSession
    received: list[tuple[str, Json]] = field(default_factory=list)

    async def gql(self, query: str, **variables: Any) -> Json:
        url = self.sim.graphql_url(self.base, DOMAIN)
        async with self.http.post(
            url,
            json={"query": query, "variables": variables},
            headers={"X-Shopify-Access-Token": TOKEN},
        ) as response:
            assert response.status == 200
            body: Json = await response.json()
            assert "errors" not in body, body
            return body["data"]

    async def subscribe(self, cap: str = "1.50", *, test: bool = True) -> Json:
        data = await self.gql(
            CREATE,
            name="Fortbridge usage",
            returnUrl="https://app.example.com/billing/return",
            test=test,
            lineItems=[
                {
                    "plan": {
                        "appUsagePricingDetails": {
                            "terms": "$0.15 per sync",
                            "cappedAmount": {"amount": cap, "currencyCode": "USD"},
                        }
                    }
                }
            ],
        )
        created: Json = data["appSubscriptionCreate"]
        assert created["userErrors"] == []
        return created

    async def act(self, sub_id: str, action: str) -> tuple[int, Json]:
        legacy = sub_id.rsplit("/", 1)[-1]
        url = f"{self.base}/_sim/shops/{DOMAIN}/app_subscriptions/{legacy}/{action}"
        async with self.http.post(url) as response:
            return response.status, await response.json()

    async def charge(self, line_item: str, key: str | None, amount: str = "0.15") -> Json:
        data = await self.gql(
            RECORD,
            id=line_item,
            price={"amount": amount, "currencyCode": "USD"},
            description="Fortnox invoice for order #1001",
            key=key,
        )
        result: Json = data["appUsageRecordCreate"]
        return result


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    sim = ShopifySimulator()
    sim.add_shop(DOMAIN, access_token=TOKEN)
    sim.webhook_secret = SECRET
    received: list[tuple[str, Json]] = []

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        assert request.headers["X-Shopify-Hmac-Sha256"] == sign(body, SECRET)
        received.append((request.headers["X-Shopify-Topic"], json.loads(body)))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/webhooks", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook_url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks"
    shop = sim.shop(DOMAIN)
    for n, topic in enumerate(
        ("APP_SUBSCRIPTIONS_UPDATE", "APP_SUBSCRIPTIONS_APPROACHING_CAPPED_AMOUNT"), start=1
    ):
        shop.webhook_subscriptions[n] = {
            "id": n, "topic": topic, "format": "JSON", "uri": hook_url,
            "include_fields": [], "created_at": "2026-01-01T00:00:00Z",
        }  # fmt: skip
    try:
        async with sim.serve() as base, aiohttp.ClientSession() as http:
            yield Api(sim, base, http, received)
    finally:
        await runner.cleanup()


async def test_a_usage_subscription_starts_pending_with_a_confirmation_url(api: Api) -> None:
    created = await api.subscribe()
    sub = created["appSubscription"]
    assert sub["status"] == "PENDING" and sub["test"] is True
    details = sub["lineItems"][0]["plan"]["pricingDetails"]
    assert details["__typename"] == "AppUsagePricing"
    assert details["terms"] == "$0.15 per sync"
    assert details["cappedAmount"] == {"amount": "1.5", "currencyCode": "USD"}
    assert details["balanceUsed"]["amount"] == "0.0"
    # Nothing can be charged before the merchant approves.
    refused = await api.charge(sub["lineItems"][0]["id"], "k-1")
    assert refused["appUsageRecord"] is None
    assert "pending" in refused["userErrors"][0]["message"]
    # The merchant's page shows the terms; approving redirects to the app's returnUrl.
    url = created["confirmationUrl"]
    async with api.http.get(url) as page:
        assert page.status == 200 and "$0.15 per sync" in await page.text()
    async with api.http.get(url.replace("signature=", "signature=x")) as forged:
        assert forged.status == 404
    async with api.http.post(url, data={"decision": "approve"}, allow_redirects=False) as done:
        assert done.status == 302
        assert done.headers["Location"].startswith("https://app.example.com/billing/return?")
        assert "charge_id=" in done.headers["Location"]
    active = await api.gql(ACTIVE)
    assert [s["id"] for s in active["currentAppInstallation"]["activeSubscriptions"]] == [sub["id"]]
    await api.sim.drain_webhooks()
    assert api.received[-1][0] == "app_subscriptions/update"
    payload = api.received[-1][1]["app_subscription"]
    assert payload["status"] == "ACTIVE" and payload["admin_graphql_api_id"] == sub["id"]
    assert payload["capped_amount"] == "1.5"


async def test_an_idempotency_key_charges_once_and_the_cap_is_enforced(api: Api) -> None:
    created = await api.subscribe("1.50")
    sub = created["appSubscription"]
    line = sub["lineItems"][0]["id"]
    assert (await api.act(sub["id"], "approve"))[0] == 200
    first = await api.charge(line, "doc-1")
    again = await api.charge(line, "doc-1")
    assert first["appUsageRecord"]["id"] == again["appUsageRecord"]["id"]
    assert len(api.sim.shop(DOMAIN).usage_records) == 1
    used = again["appUsageRecord"]["subscriptionLineItem"]["plan"]["pricingDetails"]
    assert used["balanceUsed"]["amount"] == "0.15"
    for n in range(2, 10):  # 9 x 0.15 = 1.35: 90 % of the cap
        assert (await api.charge(line, f"doc-{n}"))["userErrors"] == []
    await api.sim.drain_webhooks()
    approaching = [p for topic, p in api.received if topic.endswith("approaching_capped_amount")]
    assert len(approaching) == 1
    assert approaching[0]["app_subscription"]["balance_used"] == "1.35"
    assert approaching[0]["app_subscription"]["capped_amount"] == "1.5"
    assert (await api.charge(line, "doc-10"))["userErrors"] == []  # exactly the cap
    over = await api.charge(line, "doc-11")
    assert over["appUsageRecord"] is None
    assert over["userErrors"][0]["message"] == "Total price exceeds balance remaining"
    # A replayed key is still answered with its record at the cap (no second charge).
    assert (await api.charge(line, "doc-3"))["userErrors"] == []
    assert len(api.sim.shop(DOMAIN).usage_records) == 10
    assert (await api.charge(line, "k" * 256))["userErrors"][0]["field"] == ["idempotencyKey"]
    # The merchant raises the cap: approved on its own confirmation page.
    raised = (await api.gql(RAISE_CAP, id=line, cap={"amount": "3.00", "currencyCode": "USD"}))[
        "appSubscriptionLineItemUpdate"
    ]
    async with api.http.post(
        raised["confirmationUrl"], data={"decision": "approve"}, allow_redirects=False
    ) as response:
        assert response.status == 302
    assert (await api.charge(line, "doc-11"))["userErrors"] == []
    await api.sim.drain_webhooks()
    assert api.received[-1][1]["app_subscription"]["capped_amount"] == "3.0"


@pytest.mark.parametrize(
    ("actions", "status"),
    [
        (["decline"], "DECLINED"),
        (["approve", "freeze"], "FROZEN"),
        (["approve", "freeze", "unfreeze"], "ACTIVE"),
        (["approve", "cancel"], "CANCELLED"),
    ],
)
async def test_each_merchant_decision_sends_app_subscriptions_update(
    api: Api, actions: list[str], status: str
) -> None:
    sub = (await api.subscribe())["appSubscription"]
    for action in actions:
        code, body = await api.act(sub["id"], action)
        assert code == 200, body
    assert body["status"] == status
    await api.sim.drain_webhooks()
    expected = [TRANSITIONS[action][1] for action in actions]
    assert [p["app_subscription"]["status"] for _, p in api.received] == expected
    if status != "ACTIVE":
        refused = await api.charge(sub["lineItems"][0]["id"], "k")
        assert refused["appUsageRecord"] is None
    code, _ = await api.act(sub["id"], "approve")
    assert code == 409  # only a pending subscription is approved


async def test_a_usage_record_whose_answer_times_out_was_stored_once(api: Api) -> None:
    sub = (await api.subscribe())["appSubscription"]
    line = sub["lineItems"][0]["id"]
    await api.act(sub["id"], "approve")
    api.sim.faults.add("delay", delay=0.6, operation="appUsageRecordCreate")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await api.charge(line, "doc-timeout")
    async with asyncio.timeout(5):  # Shopify stores it after our side gave up
        while not api.sim.shop(DOMAIN).usage_records:
            await asyncio.sleep(0.05)
    assert len(api.sim.shop(DOMAIN).usage_records) == 1
    retried = await api.charge(line, "doc-timeout")
    assert retried["userErrors"] == []
    assert len(api.sim.shop(DOMAIN).usage_records) == 1
    async with api.http.get(f"{api.base}/_sim/shops/{DOMAIN}/usage_records") as response:
        records = await response.json()
    assert [r["idempotency_key"] for r in records] == ["doc-timeout"]
    assert records[0]["test"] is True and records[0]["price"] == "0.15"
