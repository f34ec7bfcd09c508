"""The mapper's consumer against the real PostgreSQL: state per order, settings per shop,
one command per document, redeliveries and stale events changing nothing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from libs.common.errors import PermanentError, TransientError
from libs.common.messages import FortnoxCommand, Message, ShopifyEvent
from libs.common.messaging import Delivery
from services.mapper.handler import EventHandler
from services.mapper.store import load_shop_settings, save_shop_settings
from simulators.shopify.payloads import order_payload
from tests.services.mapper.builders import refund_payload


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[Message, str]] = []

    async def publish(self, message: Message, routing_key: str, **_: Any) -> None:
        self.sent.append((message, routing_key))

    def commands(self) -> list[FortnoxCommand]:
        return [m for m, _ in self.sent if isinstance(m, FortnoxCommand)]


def handler(pool: asyncpg.Pool, recorder: Recorder) -> EventHandler:
    runtime = SimpleNamespace(
        pool=pool,
        publisher=recorder,
        settings=SimpleNamespace(default_guest_customer_name="Webbkund"),
    )
    return EventHandler(runtime)  # type: ignore[arg-type]


def delivery(shop: str, topic: str, payload: dict[str, Any], uid: str | None = None) -> Delivery:
    event = ShopifyEvent(
        shop=shop,
        event_uid=uid or uuid.uuid4().hex,
        topic=topic,
        webhook_id=uuid.uuid4().hex,
        received_at=datetime.now(UTC),
        payload=payload,
    )
    return Delivery(body=event.model_dump_json().encode(), headers={}, routing_key="r", queue="q")


async def test_order_refunds_and_redelivery(mapper_pool: asyncpg.Pool, shop: str) -> None:
    recorder = Recorder()
    handle = handler(mapper_pool, recorder)
    order = order_payload(taxes_included=False)
    create = delivery(shop, "orders/create", order)
    await handle(create)
    await handle(create)  # a redelivery: the inbox stops it
    [invoice] = recorder.commands()
    assert recorder.sent[0][1] == "fortnox.command.create_document"
    assert invoice.document_key == f"{shop}:order:{order['id']}:invoice"

    await handle(delivery(shop, "refunds/create", refund_payload(order, 81, lines=[(0, 1)])))
    await handle(delivery(shop, "refunds/create", refund_payload(order, 82, lines=[(1, 1)])))
    first, second = recorder.commands()[1:]
    assert first.document is not None and second.document is not None
    assert first.document_key == f"{shop}:refund:81:credit"
    assert first.target_document_key == invoice.document_key
    assert first.document.fields["ExternalInvoiceReference2"] == f"shopify-{order['id']}"
    row = await mapper_pool.fetchrow(
        "SELECT state::text AS state, full_credit_used FROM mapper.order_state"
        " WHERE shop = $1 AND order_id = $2",
        shop,
        str(order["id"]),
    )
    state = json.loads(row["state"])
    assert state["refunds"] == ["81", "82"]
    assert row["full_credit_used"] is False

    stale = dict(order, updated_at="2020-01-01T00:00:00+00:00")
    await handle(delivery(shop, "orders/updated", stale, uid="stale-1"))
    outcome = await mapper_pool.fetchrow(
        "SELECT outcome, reason FROM mapper.processed_events WHERE event_uid = 'stale-1'"
    )
    assert outcome["outcome"] == "skipped" and "stale" in outcome["reason"]
    await handle(delivery(shop, "orders/cancelled", order))
    cancel = recorder.commands()[-1]
    assert cancel.document_key == f"{shop}:order:{order['id']}:cancel"
    assert cancel.expected_total is not None and cancel.expected_total < 0


async def test_refund_before_its_order_is_retried(mapper_pool: asyncpg.Pool, shop: str) -> None:
    recorder = Recorder()
    order = order_payload()
    with pytest.raises(TransientError):
        await handler(mapper_pool, recorder)(
            delivery(shop, "refunds/create", refund_payload(order, 91, lines=[(0, 1)]))
        )
    assert recorder.sent == []


async def test_shop_settings_are_read_from_the_table(mapper_pool: asyncpg.Pool, shop: str) -> None:
    async with mapper_pool.acquire() as conn:
        defaults = {"guest_customer_name": "Webbkund"}
        assert (await load_shop_settings(conn, shop, defaults)).shipping_as == "row"
        await save_shop_settings(conn, shop, {"shipping_as": "freight"})
        loaded = await load_shop_settings(conn, shop, defaults)
        assert loaded.shipping_as == "freight" and loaded.guest_customer_name == "Webbkund"
        await save_shop_settings(conn, shop, {"shipping_as": "pigeon"})
        with pytest.raises(PermanentError, match="settings are invalid"):
            await load_shop_settings(conn, shop, defaults)
    recorder = Recorder()
    order = order_payload()
    with pytest.raises(PermanentError):
        await handler(mapper_pool, recorder)(delivery(shop, "orders/create", order))
    assert [key for _, key in recorder.sent] == ["fortnox.result.failed"]


async def test_unsynced_topic_is_recorded_as_skipped(mapper_pool: asyncpg.Pool, shop: str) -> None:
    recorder = Recorder()
    await handler(mapper_pool, recorder)(
        delivery(shop, "inventory_levels/update", {"inventory_item_id": 1}, uid=f"p-{shop}")
    )
    reason = await mapper_pool.fetchval(
        "SELECT reason FROM mapper.processed_events WHERE event_uid = $1", f"p-{shop}"
    )
    assert reason == "topic inventory_levels/update is not synced"
