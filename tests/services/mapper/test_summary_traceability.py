"""Summary mode's traceability: an order names the summary document that actually holds it.

An order of a day that has already closed goes into a further document of that day (``…:2``):
its ``summarized`` result, its timeline and its status name that document's key and, once
made in Fortnox, its number; an order of the day that came in time names the first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from libs.common import database
from libs.common.crypto import TokenCipher
from libs.common.messages import FortnoxCommand, SourceRef, SyncResult
from libs.common.messaging import Delivery
from services.mapper.store import save_shop_settings
from services.mapper.summary import close_due
from services.timeline.handler import ResultHandler
from services.timeline.service import definition as timeline
from simulators.shopify.payloads import LineSpec, order_payload
from tests.services.mapper.test_handler import Recorder, delivery, handler

LINE = [LineSpec("Ullsockor", "199.00", 1, "0.25", "SOCK-WOOL-001")]
SALES = "summary:2026-11-30:SEK:incl-SEVAT:sales"
CLOSED = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # past midnight in Stockholm


@pytest.fixture
async def timeline_pool(mapper_pool: asyncpg.Pool) -> asyncpg.Pool:
    assert timeline.migrations is not None
    await database.migrate(mapper_pool, "timeline", timeline.migrations)
    return mapper_pool


def _delivery(message: Any) -> Delivery:
    return Delivery(
        body=message.model_dump_json().encode(),
        headers={},
        routing_key="r",
        queue="q",
        message_id=uuid.uuid4().hex,
    )


def made(shop: str, key: str, number: str) -> SyncResult:
    """The writer's result of a summary document made in Fortnox."""
    return SyncResult(
        shop=shop,
        command_id=f"{key}:v1",
        document_key=key,
        source=SourceRef(type="summary", id=key.split(":summary:", 1)[1], name="Dag 2026-11-30"),
        status="synced",
        action="create_document",
        document_kind="invoice",
        document_number=number,
        currency="SEK",
    )


async def test_an_order_of_a_closed_day_names_the_further_summary(
    timeline_pool: asyncpg.Pool, shop: str
) -> None:
    pool = timeline_pool
    async with pool.acquire() as conn:
        await save_shop_settings(conn, shop, {"booking": "daily_summary"})
    recorder = Recorder()
    handle = handler(pool, recorder)
    runtime: Any = SimpleNamespace(pool=pool, publisher=recorder)
    on_time = order_payload(5_400_000_000_001, lines=LINE, created_at="2026-11-30T10:00:00Z")
    late = order_payload(5_400_000_000_002, lines=LINE, created_at="2026-11-30T12:00:00Z")

    await handle(delivery(shop, "orders/create", on_time))
    [first_batch] = [c for c in await close_due(runtime, {}, now=CLOSED) if c.document]
    assert first_batch.document_key == f"{shop}:{SALES}"
    await handle(delivery(shop, "orders/create", late))  # its day closed already
    [second_batch] = [c for c in await close_due(runtime, {}, now=CLOSED) if c.document]
    assert second_batch.document_key == f"{shop}:{SALES}:2"
    assert second_batch.document is not None
    reference = second_batch.document.external_reference
    assert reference == "fb-summary-2026-11-30-SEK-incl-SEVAT-sales-2"

    results = {m.source.id: m for m, _ in recorder.sent if not isinstance(m, FortnoxCommand)}
    assert {r.status for r in results.values()} == {"summarized"}
    assert results[str(on_time["id"])].document_key == f"{shop}:{SALES}"
    assert results[str(late["id"])].document_key == f"{shop}:{SALES}:2"

    # The timeline: each order's status and events name its own summary, then its number.
    settings = SimpleNamespace(
        shopify_admin_url="http://127.0.0.1:9",
        shopify_api_version="2026-01",
        token_encryption_keys=SecretStr(TokenCipher.generate_key()),
    )
    # The shop is not installed: no Shopify call is made (the status is not mirrored).
    results_handler = ResultHandler(
        SimpleNamespace(pool=pool, http=None, settings=settings)  # type: ignore[arg-type]
    )
    for result in results.values():
        await results_handler(_delivery(result))
    await results_handler(_delivery(made(shop, first_batch.document_key, "101")))
    await results_handler(_delivery(made(shop, second_batch.document_key, "102")))

    status = {
        row["order_id"]: row
        for row in await pool.fetch(
            "SELECT order_id, status, document_number FROM timeline.order_status WHERE shop = $1",
            shop,
        )
    }
    assert status[str(on_time["id"])]["document_number"] == "101"
    assert status[str(late["id"])]["document_number"] == "102"
    assert {row["status"] for row in status.values()} == {"summarized"}
    events = await pool.fetch(
        "SELECT order_id, message FROM timeline.events WHERE shop = $1 ORDER BY id", shop
    )
    said = {}
    for row in events:
        said.setdefault(row["order_id"], []).append(row["message"])
    booked, number = said[str(late["id"])]
    assert f"daily summary {shop}:{SALES}:2 " in booked
    assert "invoice 102" in number
    booked, number = said[str(on_time["id"])]
    assert f"daily summary {shop}:{SALES} " in booked
    assert "invoice 101" in number
