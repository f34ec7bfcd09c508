"""The mandatory privacy webhooks through the running ingest: redact, shop redact, data request."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from libs.common.access import ApiTokenStore
from libs.common.crypto import TokenCipher
from libs.common.shops import ShopRegistry
from services.ingest.redaction import REDACTED, personal_data, redact
from simulators.shopify.payloads import customer_payload, order_payload
from simulators.shopify.webhooks import build_webhook, deliver
from tests.conftest import StackFactory
from tests.support.stack import SHOPIFY_SECRET, Stack


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(services=("ingest",))


async def send(
    stack: Stack, topic: str, payload: dict[str, Any], *, shop: str | None = None, **kw: Any
) -> int:
    hook = build_webhook(topic, shop or stack.shop, payload, kw.get("secret", SHOPIFY_SECRET))
    [status] = await deliver(stack.http, stack.url("ingest", "/webhooks/shopify"), hook)
    return status


async def bodies(stack: Stack, shop: str, topic: str | None = None) -> list[dict[str, Any]]:
    rows = await stack.pool.fetch(
        "SELECT body FROM ingest.webhook_events WHERE shop = $1"
        " AND ($2::text IS NULL OR topic = $2) ORDER BY received_at",
        shop,
        topic,
    )
    return [json.loads(row["body"]) for row in rows]


def privacy_payload(stack: Stack, customer: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "shop_id": 1,
        "shop_domain": stack.shop,
        "customer": {"id": customer["id"], "email": customer["email"], "phone": "+46701234567"},
        **extra,
    }


async def test_customers_redact_removes_personal_data_and_keeps_ids_and_money(
    stack: Stack,
) -> None:
    anna = order_payload(email="anna@example.com", note="Ring Anna on +46701234567")
    bo = order_payload(email="bo@example.com")
    profile = customer_payload(anna["customer"]["id"], email="anna@example.com")
    for topic, payload in (("orders/create", anna), ("orders/create", bo)):
        assert await send(stack, topic, payload) == 200
    assert await send(stack, "customers/update", profile) == 200
    request = privacy_payload(stack, anna["customer"], orders_to_redact=[anna["id"]])
    assert await send(stack, "customers/redact", request) == 200

    [stored_anna, stored_bo] = await bodies(stack, stack.shop, "orders/create")
    text = json.dumps(stored_anna)
    assert "anna@example.com" not in text and "Andersson" not in text and "Storgatan" not in text
    assert stored_anna["email"] == REDACTED and stored_anna["note"] == REDACTED
    assert stored_anna["billing_address"]["first_name"] == REDACTED
    assert stored_anna["billing_address"]["country_code"] == "SE"
    assert stored_anna["id"] == anna["id"] and stored_anna["name"] == anna["name"]
    assert stored_anna["total_price"] == anna["total_price"]
    assert stored_anna["line_items"] == anna["line_items"]
    assert stored_anna["customer"]["id"] == anna["customer"]["id"]
    assert stored_bo == bo  # another customer's order is untouched

    [stored_profile] = await bodies(stack, stack.shop, "customers/update")
    assert stored_profile["id"] == profile["id"]
    assert stored_profile["first_name"] == REDACTED and stored_profile["email"] == REDACTED
    [stored_request] = await bodies(stack, stack.shop, "customers/redact")
    assert stored_request["customer"]["email"] == REDACTED
    assert stored_request["orders_to_redact"] == [anna["id"]]


async def test_shop_redact_deletes_the_shops_rows_and_forgets_it(stack: Stack) -> None:
    other = f"other-{uuid.uuid4().hex[:8]}.myshopify.com"
    assert await send(stack, "orders/create", order_payload()) == 200
    assert await send(stack, "orders/create", order_payload(), shop=other) == 200
    payload = {"shop_id": 1, "shop_domain": stack.shop}
    assert await send(stack, "shop/redact", payload) == 200

    remaining = await stack.pool.fetch(
        "SELECT topic FROM ingest.webhook_events WHERE shop = $1", stack.shop
    )
    assert [row["topic"] for row in remaining] == ["shop/redact"]
    assert len(await bodies(stack, other)) == 1
    cipher = TokenCipher(stack.settings.token_encryption_keys.get_secret_value())
    assert await ShopRegistry(stack.pool, cipher).installation(stack.shop) is None


async def test_data_request_reports_what_is_held(stack: Stack) -> None:
    order = order_payload(email="anna@example.com")
    assert await send(stack, "orders/create", order) == 200
    request_id = str(uuid.uuid4().int % 10**9)
    payload = privacy_payload(
        stack, order["customer"], orders_requested=[order["id"]], data_request={"id": request_id}
    )
    assert await send(stack, "customers/data_request", payload) == 200

    url = stack.url("ingest", f"/admin/api/customers/data_requests/{request_id}.json")
    async with stack.http.get(url, params={"shop": stack.shop}) as response:
        assert response.status == 200, await response.text()
        report = (await response.json())["data_request"]
    assert report["customer_id"] == str(order["customer"]["id"])
    [held] = report["webhook_events"]
    assert held["topic"] == "orders/create" and held["order_id"] == str(order["id"])
    found = {item["field"]: item["value"] for item in held["personal_data"]}
    assert found["email"] == "anna@example.com"
    assert found["billing_address.last_name"] == "Andersson"
    assert "Bokföringslagen" in report["held_elsewhere"]

    listing = stack.url("ingest", "/admin/api/customers/data_requests.json")
    async with stack.http.get(listing, params={"shop": stack.shop}) as response:
        ids = [item["request_id"] for item in (await response.json())["data_requests"]]
    assert ids == [request_id]

    tokens = ApiTokenStore(stack.pool)
    orders_only = await tokens.create(stack.shop, "read_orders")
    other_shop = await tokens.create("other.myshopify.com", "read_customers")
    for token, expected in ((orders_only, 403), (other_shop, 404)):
        headers = {"Authorization": f"Bearer {token.token}"}
        async with stack.http.get(url, headers=headers) as response:
            assert response.status == expected


async def test_bad_hmac_on_a_privacy_webhook_is_401_and_nothing_is_stored(stack: Stack) -> None:
    order = order_payload()
    assert await send(stack, "orders/create", order) == 200
    for topic in ("customers/redact", "shop/redact", "customers/data_request"):
        payload = privacy_payload(stack, order["customer"], orders_to_redact=[order["id"]])
        assert await send(stack, topic, payload, secret="not-the-app-secret") == 401
    rows = await stack.pool.fetch(
        "SELECT topic FROM ingest.webhook_events WHERE shop = $1", stack.shop
    )
    assert [row["topic"] for row in rows] == ["orders/create"]
    assert (await bodies(stack, stack.shop))[0] == order


def test_redaction_keeps_order_names_and_product_names() -> None:
    order = order_payload(email="anna@example.com", note="call me: anna@example.com")
    cleaned = redact(order)
    assert cleaned["name"] == order["name"]
    names = [line["name"] for line in order["line_items"]]
    assert [line["name"] for line in cleaned["line_items"]] == names
    assert cleaned["customer"]["first_name"] == REDACTED
    assert cleaned["shipping_address"]["name"] == REDACTED
    assert "anna@example.com" not in json.dumps(cleaned)
    assert redact(cleaned) == cleaned  # idempotent
    assert personal_data(cleaned) == []
