"""Timeline notes through the running stack: scopes, shops, and immutable system events."""

from __future__ import annotations

from typing import Any

import pytest

from libs.common import database
from libs.common.access import MIGRATIONS, SCHEMA, ApiTokenStore
from simulators.shopify.payloads import order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack

OPERATOR = "operator-token-for-notes"


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    services = ("ingest", "mapper", "fortnox_writer", "timeline")
    return await stack_factory(services=services, admin_api_token=OPERATOR)


async def token(stack: Stack, shop: str, scopes: str) -> dict[str, str]:
    await database.migrate(stack.pool, SCHEMA, MIGRATIONS)
    issued = await ApiTokenStore(stack.pool).create(shop, scopes)
    return {"Authorization": f"Bearer {issued.token}"}


async def call(
    stack: Stack, method: str, path: str, headers: dict[str, str], **kwargs: Any
) -> tuple[int, Any]:
    async with stack.http.request(
        method, stack.url("timeline", path), headers=headers, **kwargs
    ) as response:
        return response.status, await response.json()


async def test_notes_on_an_order_timeline(stack: Stack) -> None:
    order = order_payload()
    await stack.send_order(order)
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1)
    path = f"/admin/api/orders/{order['id']}/timeline_events.json"
    writer = await token(stack, stack.shop, "write_orders")

    async def synced() -> bool:
        _, body = await call(stack, "GET", path, writer)
        return any(e["kind"] == "sync" for e in body.get("timeline_events", []))

    await stack.wait_for(synced)

    status, body = await call(
        stack, "POST", path, writer, json={"timeline_event": {"message": "Checked by Anna"}}
    )
    assert status == 201, body
    note = body["timeline_event"]
    assert note["kind"] == "note"
    assert note["author"].startswith("token:")

    edit_path = f"/admin/api/orders/{order['id']}/timeline_events/{note['id']}.json"
    status, body = await call(
        stack, "PUT", edit_path, writer, json={"timeline_event": {"message": "Checked twice"}}
    )
    assert status == 200
    assert body["timeline_event"]["message"] == "Checked twice"
    assert body["timeline_event"]["updated_at"] is not None

    _, listed = await call(stack, "GET", path, writer)
    kinds = [(e["kind"], e["message"]) for e in listed["timeline_events"]]
    assert ("note", "Checked twice") in kinds
    system = next(e for e in listed["timeline_events"] if e["kind"] == "sync")

    # System events are immutable.
    system_path = f"/admin/api/orders/{order['id']}/timeline_events/{system['id']}.json"
    status, body = await call(
        stack, "PUT", system_path, writer, json={"timeline_event": {"message": "rewrite"}}
    )
    assert status == 409
    assert "immutable" in body["error"]

    # Bad bodies are refused with the reason.
    status, body = await call(stack, "POST", path, writer, json={"timeline_event": {}})
    assert status == 422
    assert "timeline_event.message" in body["error"]


async def synced_order(stack: Stack) -> dict[str, Any]:
    """An order of the stack's shop that the timeline knows (it has its sync event)."""
    order = order_payload()
    await stack.send_order(order)
    path = f"/admin/api/orders/{order['id']}/timeline_events.json"
    reader = await token(stack, stack.shop, "read_orders")

    async def synced() -> bool:
        _, body = await call(stack, "GET", path, reader)
        return any(e["kind"] == "sync" for e in body.get("timeline_events", []))

    await stack.wait_for(synced, timeout=30)
    return order


async def notes_on(stack: Stack, order_id: str) -> int:
    return int(
        await stack.pool.fetchval(
            "SELECT count(*) FROM timeline.events WHERE order_id = $1 AND kind = 'note'", order_id
        )
    )


async def test_notes_only_go_on_orders_the_shop_has(stack: Stack) -> None:
    """Issue 12: a shop could add notes to order ids it never had."""
    order = await synced_order(stack)
    body = {"timeline_event": {"message": "planted"}}
    other = await token(stack, "other-shop.myshopify.com", "write_orders,read_orders")
    mine = await token(stack, stack.shop, "write_orders")
    # Another shop writing on our order's id, under its own shop: 404, nothing stored.
    path = f"/admin/api/orders/{order['id']}/timeline_events.json"
    status, error = await call(stack, "POST", path, other, json=body)
    assert status == 404, error
    # An id no shop ever synced: 404 for us too (the same answer: nothing to learn from it).
    unknown = "5999999999999999"
    status, _ = await call(
        stack, "POST", f"/admin/api/orders/{unknown}/timeline_events.json", mine, json=body
    )
    assert status == 404
    assert await notes_on(stack, str(order["id"])) == 0 and await notes_on(stack, unknown) == 0
    # Our own synced order takes the note; an oversized note is refused, naming the field.
    status, created = await call(stack, "POST", path, mine, json=body)
    assert status == 201 and created["timeline_event"]["message"] == "planted"
    status, error = await call(
        stack, "POST", path, mine, json={"timeline_event": {"message": "x" * 5001}}
    )
    assert status == 422 and error["field"] == "timeline_event.message"
    assert await notes_on(stack, str(order["id"])) == 1


async def test_notes_need_credentials_scope_and_the_right_shop(stack: Stack) -> None:
    order = await synced_order(stack)
    path = f"/admin/api/orders/{order['id']}/timeline_events.json"
    body = {"timeline_event": {"message": "hello"}}
    status, _ = await call(stack, "POST", path, {}, json=body)
    assert status == 401
    reader = await token(stack, stack.shop, "read_orders")
    status, error = await call(stack, "POST", path, reader, json=body)
    assert status == 403
    assert "write_orders" in error["error"]

    mine = await token(stack, stack.shop, "write_orders")
    status, created = await call(stack, "POST", path, mine, json=body)
    assert status == 201
    note_id = created["timeline_event"]["id"]

    other = await token(stack, "other-shop.myshopify.com", "write_orders,read_orders")
    # Naming our shop is refused; guessing the id under its own shop finds nothing.
    status, _ = await call(stack, "GET", path, other, params={"shop": stack.shop})
    assert status == 403
    edit = f"/admin/api/orders/{order['id']}/timeline_events/{note_id}.json"
    status, _ = await call(stack, "PUT", edit, other, json=body)
    assert status == 404
    status, _ = await call(stack, "GET", path, other)
    assert status == 404

    # The operator token acts for any shop it names.
    operator = {"Authorization": f"Bearer {OPERATOR}"}
    status, listed = await call(stack, "GET", path, operator, params={"shop": stack.shop})
    assert status == 200
    notes = [e["message"] for e in listed["timeline_events"] if e["kind"] == "note"]
    assert notes == ["hello"]
