"""The shop's order list (the app's Orders page) and installation state, on the running stack."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from libs.common.access import ApiTokenStore
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack

ORDERS = "/admin/api/orders/fortnox_invoices.json"
INSTALLATION = "/admin/api/integrations/shopify/installation.json"


async def get(stack: Stack, path: str, **params: str) -> tuple[int, Any]:
    async with stack.http.get(
        stack.url("ingest", path), params={"shop": stack.shop, **params}
    ) as response:
        return response.status, await response.json()


async def listed(stack: Stack, **params: str) -> list[dict[str, Any]]:
    status, body = await get(stack, ORDERS, **params)
    assert status == 200, body
    return list(body["orders"])


async def test_orders_with_and_without_a_document_newest_first(stack_factory: StackFactory) -> None:
    stack = await stack_factory(services=("ingest", "mapper", "fortnox_writer"))
    synced = order_payload()
    failing = order_payload(lines=[LineSpec("Bier", "10.00", 3, "0.19", "BEER-DE")])
    await stack.send_order(synced)
    await stack.send_order(failing)

    async def both_done() -> bool:
        statuses = {o["order_id"]: o["status"] for o in await listed(stack)}
        return statuses == {str(synced["id"]): "synced", str(failing["id"]): "failed"}

    await stack.wait_for(both_done, timeout=30)
    orders = {o["order_id"]: o for o in await listed(stack)}
    good = orders[str(synced["id"])]
    [invoice] = stack.invoices_for(synced["id"])
    assert good["document_number"] == str(invoice.document_number)
    assert Decimal(good["fortnox_total"]) == Decimal(synced["current_total_price"])
    assert Decimal(good["order_total"]) == Decimal(synced["current_total_price"])
    assert good["order_name"] == synced["name"] and good["last_error"] is None
    bad = orders[str(failing["id"])]
    assert bad["document_number"] is None and "VAT" in bad["last_error"]["explanation"]
    assert [o["order_id"] for o in await listed(stack, status="failed")] == [str(failing["id"])]
    assert [o["order_id"] for o in await listed(stack, status="synced")] == [str(synced["id"])]

    # Received after both: a third order is first while it waits (no writer result yet).
    late = order_payload(lines=[LineSpec("Te", "79.00", 1, "0.12", "TEA-1")])
    stack.fortnox.faults.add(method="POST", path_regex=r"^/3/invoices$", kind="delay", delay=5)
    await stack.send_order(late)
    first = (await listed(stack))[0]
    assert first["order_id"] == str(late["id"])
    assert first["status"] == "pending" and first["order_name"] == late["name"]
    assert first["order_total"] == late["current_total_price"]


async def test_paging_returns_each_order_once_and_bad_input_is_refused(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(services=("ingest",))  # no mapper: every order stays pending
    orders = [order_payload() for _ in range(5)]
    for order in orders:
        await stack.send_order(order)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, body = await get(stack, ORDERS, **params)
        assert status == 200, body
        assert len(body["orders"]) <= 2
        seen += [o["order_id"] for o in body["orders"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(o["id"]) for o in reversed(orders)]
    assert [o["order_id"] for o in await listed(stack, status="pending")] == seen
    assert await listed(stack, status="synced") == []
    for params in ({"status": "lost"}, {"limit": "0"}, {"limit": "x"}, {"cursor": "abc"}):
        status, body = await get(stack, ORDERS, **params)
        assert status == 400, (params, body)
        assert body["error"]


async def test_installation_state_says_what_is_missing(stack_factory: StackFactory) -> None:
    stack = await stack_factory(services=("ingest",))
    status, body = await get(stack, INSTALLATION)
    assert status == 200, body
    installed = body["installation"]
    assert installed["status"] == "installed" and installed["shop"] == stack.shop
    assert "what_to_do" not in installed

    await stack.pool.execute(
        "UPDATE shops.installations SET scopes = 'read_orders' WHERE shop = $1", stack.shop
    )
    status, body = await get(stack, INSTALLATION)
    partial = body["installation"]
    assert partial["missing_scopes"] == ["write_orders", "read_products", "read_customers"]
    assert "write_orders" in partial["what_to_do"]
    assert "access_token" not in partial

    other = (await ApiTokenStore(stack.pool).create("new-shop.myshopify.com", "manage_apps")).token
    async with stack.http.get(
        stack.url("ingest", INSTALLATION), headers={"Authorization": f"Bearer {other}"}
    ) as response:
        body = await response.json()
    assert body["installation"]["status"] == "not_installed"
    assert "Install Fortbridge" in body["installation"]["what_to_do"]
