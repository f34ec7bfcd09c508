"""Catalog sync progress against real PostgreSQL: results racing each other finish the job."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from libs.common import database
from services.ingest.catalog import jobs
from services.ingest.service import definition


async def test_results_committing_at_once_still_finish_the_job(
    pool: asyncpg.Pool, database_url: str
) -> None:
    assert definition.migrations is not None
    await database.migrate(pool, "ingest", definition.migrations)
    big = await asyncpg.create_pool(database_url, min_size=10, max_size=20)
    try:
        for round_ in range(5):
            shop = f"race-{uuid.uuid4().hex[:8]}.myshopify.com"
            job_id = await jobs.create(big, shop, "products", {})
            items = [str(n) for n in range(20)]
            await jobs.record_page(big, job_id, items, cursor="c", paged_all=True)
            await asyncio.gather(
                *(jobs.record_result(big, job_id, item, "synced", None) for item in items)
            )
            progress = await jobs.progress(big, shop, "products", job_id)
            assert progress is not None
            assert (progress["status"], progress["done"]) == ("finished", 20), round_
    finally:
        await big.close()
