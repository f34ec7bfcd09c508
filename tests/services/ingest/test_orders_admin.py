"""The order admin endpoints through the running stack: status, create now, re-sync."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from libs.common.access import ApiTokenStore
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(services=("ingest", "mapper", "fortnox_writer", "timeline"))


async def call(
    stack: Stack, method: str, order_id: Any, path: str, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    url = stack.url("ingest", f"/admin/api/orders/{order_id}/{path}")
    params = {} if headers else {"shop": stack.shop}
    async with stack.http.request(method, url, params=params, headers=headers) as response:
        return response.status, await response.json()


async def status_of(stack: Stack, order_id: Any) -> dict[str, Any]:
    status, body = await call(stack, "GET", order_id, "fortnox_invoice_status.json")
    assert status == 200, body
    return dict(body["fortnox_invoice"])


async def test_status_then_create_again_returns_the_same_document(stack: Stack) -> None:
    order = order_payload()
    await stack.send_order(order)

    async def synced() -> bool:
        return (await status_of(stack, order["id"]))["status"] == "synced"

    await stack.wait_for(synced)
    document = await status_of(stack, order["id"])
    [invoice] = stack.invoices_for(order["id"])
    assert document["document_number"] == str(invoice.document_number)
    assert Decimal(document["fortnox_total"]) == Decimal(order["total_price"])
    assert Decimal(document["order_total"]) == Decimal(order["total_price"])
    assert document["trace_id"] and document["last_error"] is None

    status, body = await call(stack, "POST", order["id"], "fortnox_invoice.json")
    assert status == 200
    assert body["created"] is False
    assert body["fortnox_invoice"]["document_number"] == document["document_number"]
    assert len(stack.invoices_for(order["id"])) == 1


async def test_failed_order_shows_the_error_and_create_now_fixes_it(stack: Stack) -> None:
    order = order_payload(lines=[LineSpec("Bier", "10.00", 3, "0.19", "BEER-DE")])
    await stack.send_order(order)

    async def failed() -> bool:
        return (await status_of(stack, order["id"]))["status"] == "failed"

    await stack.wait_for(failed)
    error = (await status_of(stack, order["id"]))["last_error"]
    assert error["code"] and "VAT" in error["explanation"]

    stack.fortnox.set_vat_rates(stack.tenant_id, {Decimal(r) for r in ("25", "12", "6", "0", "19")})
    status, body = await call(stack, "POST", order["id"], "fortnox_invoice.json")
    assert status == 202
    assert body["fortnox_invoice"]["status"] == "pending"
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1)

    async def synced() -> bool:
        return (await status_of(stack, order["id"]))["status"] == "synced"

    await stack.wait_for(synced)
    assert len(stack.invoices_for(order["id"])) == 1


async def test_resync_is_accepted_and_changes_nothing_when_nothing_changed(stack: Stack) -> None:
    order = order_payload()
    await stack.send_order(order)
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1)
    status, body = await call(stack, "PUT", order["id"], "fortnox_invoice.json")
    assert status == 202
    assert body["fortnox_invoice"]["status"] == "pending"
    status, again = await call(stack, "PUT", order["id"], "fortnox_invoice.json")
    assert status == 202
    assert again["fortnox_invoice"]["event_uid"] != body["fortnox_invoice"]["event_uid"]
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1)
    assert len(stack.invoices()) == 1


async def test_unknown_orders_and_other_shops_get_404(stack: Stack) -> None:
    order = order_payload()
    await stack.send_order(order)
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1)
    for method, path in (
        ("GET", "fortnox_invoice_status.json"),
        ("POST", "fortnox_invoice.json"),
        ("PUT", "fortnox_invoice.json"),
    ):
        status, body = await call(stack, method, 999_999_999_999, path)
        assert status == 404
        assert "never reached Fortbridge" in body["error"]
    status, _ = await call(stack, "GET", "not-a-number", "fortnox_invoice_status.json")
    assert status == 404

    other = await ApiTokenStore(stack.pool).create("other.myshopify.com", "manage_apps")
    headers = {"Authorization": f"Bearer {other.token}"}
    status, _ = await call(stack, "GET", order["id"], "fortnox_invoice_status.json", headers)
    assert status == 404
    # The other shop has no Shopify token to fetch the order with: 409, the order unrevealed.
    status, body = await call(stack, "POST", order["id"], "fortnox_invoice.json", headers)
    assert status == 409
    assert "other.myshopify.com" in body["error"] and stack.shop not in body["error"]
    reader = await ApiTokenStore(stack.pool).create(stack.shop, "read_orders")
    headers = {"Authorization": f"Bearer {reader.token}"}
    status, _ = await call(stack, "POST", order["id"], "fortnox_invoice.json", headers)
    assert status == 403
