"""A summary document's number reaches the orders it holds (the timeline's events and ingest's
order list), even when the writer's result comes before the mapper's closing transaction (which
names the orders' summary) has committed."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import pytest

from libs.common import database
from libs.common.errors import TransientError
from libs.common.messages import SourceRef, SyncResult
from libs.common.shared_schemas import migrate_shared
from services.ingest.results import ResultProjection
from services.ingest.service import definition as ingest
from services.mapper.service import definition as mapper
from services.timeline import summaries
from services.timeline.service import definition as timeline


async def test_a_result_before_the_close_commits_is_retried_not_lost(pool: asyncpg.Pool) -> None:
    assert mapper.migrations and timeline.migrations and ingest.migrations
    await migrate_shared(pool)
    await database.migrate(pool, "mapper", mapper.migrations)
    await database.migrate(pool, "timeline", timeline.migrations)
    await database.migrate(pool, "ingest", ingest.migrations)
    shop = f"s{uuid.uuid4().hex[:8]}.myshopify.com"
    key = f"{shop}:summary:2026-12-06:SEK:incl-SE:sales"
    await pool.execute(
        """
        INSERT INTO mapper.summary_entries (shop, source_key, order_id, source_type, source_id,
            kind, day, closes_at, currency, profile, entry)
        VALUES ($1, $2, '1001', 'order', '1001', 'sales', $3, $4, 'SEK', 'incl-SE', '{}')
        """,
        shop,
        f"{shop}:order:1001",
        date(2026, 12, 6),
        datetime(2026, 12, 7, tzinfo=UTC),
    )
    result = SyncResult(
        shop=shop,
        command_id=f"{key}:v1",
        document_key=key,
        source=SourceRef(type="summary", id=key, name="summary"),
        status="synced",
        document_number="77",
    )
    runtime = cast(Any, SimpleNamespace(pool=pool))
    projection = ResultProjection(runtime)
    await pool.execute(
        "INSERT INTO ingest.order_documents (shop, order_id, status, occurred_at)"
        " VALUES ($1, '1001', 'summarized', now())",
        shop,
    )
    delivery = cast(Any, SimpleNamespace(message_id="result-1"))
    assert summaries.summary_made(result)
    async with pool.acquire() as closing, closing.transaction():
        # The mapper's close names the summary in its transaction, after publishing the command.
        await closing.execute(
            "UPDATE mapper.summary_entries SET summary_key = $1, batch = 1 WHERE shop = $2",
            key,
            shop,
        )
        with pytest.raises(TransientError, match="no orders"):
            await summaries.record(runtime, delivery, result)
        with pytest.raises(TransientError, match="no orders"):
            await projection._summary_number(result)
    recorded = await summaries.record(runtime, delivery, result)  # the redelivery, committed
    assert recorded.holdings == 1
    await projection._summary_number(result)
    number = await pool.fetchval(
        "SELECT document_number FROM ingest.order_documents WHERE shop = $1", shop
    )
    assert number == "77"
    message = await pool.fetchval(
        "SELECT message FROM timeline.events WHERE shop = $1 AND order_id = '1001'", shop
    )
    assert "invoice 77" in message
