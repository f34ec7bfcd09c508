"""Shopify webhook signing and delivery, and the REST payload builders."""

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

from simulators.shopify import WebhookSender, build_webhook, deliver, redelivery, sign
from simulators.shopify.payloads import (
    DiscountSpec,
    LineSpec,
    ShippingSpec,
    customer_payload,
    order_payload,
)

DOMAIN = "demo.myshopify.com"
TOKEN = "simtok_test_0001"
VERSION = "2025-07"
Json = dict[str, Any]


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


async def test_an_event_is_redelivered_under_a_new_webhook_id() -> None:
    """As Shopify does for a second subscription or a duplicate: only the event id is shared."""
    hook = build_webhook("orders/paid", DOMAIN, order_payload(), "simsecret_x")
    async with receiver() as rx, aiohttp.ClientSession() as session:
        sender = WebhookSender(session, timeout=1.0, backoff=lambda n: 0.01)
        first = await sender.send(rx.url, hook)
        again = await sender.redeliver(rx.url, hook)
    assert first.delivered and again.delivered
    [(original, body), (repeated, body_again)] = rx.seen
    assert original["X-Shopify-Webhook-Id"] == hook.webhook_id
    assert repeated["X-Shopify-Webhook-Id"] not in (hook.webhook_id, "")
    assert again.webhook.webhook_id == repeated["X-Shopify-Webhook-Id"]
    for name in ("X-Shopify-Event-Id", "X-Shopify-Topic", "X-Shopify-Triggered-At"):
        assert repeated[name] == original[name]
    assert body_again == body == hook.body
    assert repeated["X-Shopify-Hmac-Sha256"] == sign(body, "simsecret_x")
    assert redelivery(hook, webhook_id="wh-2").headers["X-Shopify-Webhook-Id"] == "wh-2"
    with pytest.raises(ValueError):
        redelivery(hook, webhook_id=hook.webhook_id)


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
