"""Backfill jobs and their orders (ingest's tables): create, page, results, progress.

An order's row in a dry run: ``known`` (Fortbridge already has it), else ``checking`` until the
writer has looked it up in Fortnox by its reference (``record_lookup``), then ``would_match``
(Fortnox already has an invoice with the order's reference: its number in ``document``) or
``would_create``; in a run ``pending`` until the
writer's result for its document comes (``created``; ``matched``: Fortnox already had a document
with the order's reference; ``summarized``: in a daily summary document; ``failed``;
``skipped``), or ``known`` when Fortbridge already had
every event of it (nothing new to send). An id asked for that Shopify does not list is
``not_found``, with why in ``error`` (in a dry run too). A job is finished when it has paged
all its orders and none is pending.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

# The writer's result status -> the order's row status
RESULT_STATES = {
    "synced": "created",
    "already_synced": "matched",
    "failed": "failed",
    "skipped": "skipped",
    "summarized": "summarized",  # booked in a daily summary document (summary mode)
}
MAX_FAILURES_LISTED = 50
REFERENCE_PREFIX = "shopify-"  # an order's invoice's ExternalInvoiceReference1 (the mapper's)
COUNTED = (
    "checking",
    "would_create",
    "would_match",
    "known",
    "pending",
    "created",
    "matched",
    "summarized",
    "failed",
    "skipped",
    "not_found",
)


class JobRunning(Exception):
    def __init__(self, job: dict[str, Any]) -> None:
        super().__init__("a backfill is already running for the shop")
        self.job = job


async def create(pool: asyncpg.Pool, shop: str, filters: dict[str, Any], dry_run: bool) -> str:
    """A new running job; a second run (not a dry run) of a shop is refused while one runs."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"backfill:{shop}")
        if not dry_run:
            running = await conn.fetchval(
                "SELECT id FROM ingest.backfill_jobs"
                " WHERE shop = $1 AND status = 'running' AND NOT dry_run",
                shop,
            )
            if running is not None:
                job = await progress(conn, shop, str(running))
                assert job is not None
                raise JobRunning(job)
        job_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO ingest.backfill_jobs (id, shop, filter, dry_run, status)"
            " VALUES ($1, $2, $3::jsonb, $4, 'running')",
            job_id,
            shop,
            json.dumps(filters),
            dry_run,
        )
    return str(job_id)


async def job(pool: asyncpg.Pool, job_id: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT * FROM ingest.backfill_jobs WHERE id = $1", uuid.UUID(job_id)
    )


async def resumable(pool: asyncpg.Pool) -> list[str]:
    """Running jobs whose paging has not finished (a replica stopped mid-way)."""
    rows = await pool.fetch(
        "SELECT id FROM ingest.backfill_jobs WHERE status = 'running' AND NOT paged_all"
    )
    return [str(row["id"]) for row in rows]


async def record_orders(
    pool: asyncpg.Pool,
    job_id: str,
    orders: dict[str, str],
    cursor: str | None,
    paged_all: bool,
    errors: dict[str, str] | None = None,
) -> None:
    """A page's orders (``{order id: status}``, ``errors`` by order id where there is a why)
    and the new cursor, in one transaction."""
    errors = errors or {}
    async with pool.acquire() as conn, conn.transaction():
        await _lock(conn, job_id)
        await conn.executemany(
            "INSERT INTO ingest.backfill_orders (job_id, order_id, status, error)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            [
                (uuid.UUID(job_id), order_id, status, errors.get(order_id))
                for order_id, status in orders.items()
            ],
        )
        await conn.execute(
            "UPDATE ingest.backfill_jobs SET cursor = $2, paged_all = $3 WHERE id = $1",
            uuid.UUID(job_id),
            cursor,
            paged_all,
        )
        await _finish_if_done(conn, job_id)


async def record_result(
    pool: asyncpg.Pool,
    job_id: str,
    order_id: str,
    result_status: str,
    document: str | None,
    error: str | None,
) -> None:
    """The writer's result for an order's document; a success is never replaced by a failure."""
    state = RESULT_STATES.get(result_status)
    if state is None:
        return
    async with pool.acquire() as conn, conn.transaction():
        if not await _lock(conn, job_id):
            return  # not a backfill's id
        await conn.execute(
            """
            INSERT INTO ingest.backfill_orders AS o (job_id, order_id, status, document, error)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (job_id, order_id) DO UPDATE SET status = EXCLUDED.status,
                document = COALESCE(EXCLUDED.document, o.document), error = EXCLUDED.error,
                updated_at = now()
            WHERE o.status NOT IN ('created', 'matched', 'summarized')
            """,
            uuid.UUID(job_id),
            order_id,
            state,
            document,
            error,
        )
        await _finish_if_done(conn, job_id)


async def record_lookup(
    pool: asyncpg.Pool,
    job_id: str,
    references: list[str],
    found: dict[str, str],
    error: str | None = None,
) -> None:
    """The writer's look-up of a dry run's orders in Fortnox: ``would_match`` (with the
    invoice's number) or ``would_create`` (with ``error`` when it could not be looked up: a
    later answer replaces it). Upserted: a result that comes before its page is recorded wins
    over the page's ``checking``."""
    rows = [
        (
            uuid.UUID(job_id),
            reference.removeprefix(REFERENCE_PREFIX),
            "would_match" if reference in found else "would_create",
            found.get(reference),
            None if reference in found else error,
        )
        for reference in references
        if reference.startswith(REFERENCE_PREFIX)
    ]
    async with pool.acquire() as conn, conn.transaction():
        if not await _lock(conn, job_id):
            return
        await conn.executemany(
            """
            INSERT INTO ingest.backfill_orders AS o (job_id, order_id, status, document, error)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (job_id, order_id) DO UPDATE SET status = EXCLUDED.status,
                document = EXCLUDED.document, error = EXCLUDED.error, updated_at = now()
            WHERE o.status = 'checking' OR (o.status = 'would_create' AND o.error IS NOT NULL)
            """,
            rows,
        )
        await _finish_if_done(conn, job_id)


async def fail(pool: asyncpg.Pool, job_id: str, error: str) -> None:
    await pool.execute(
        "UPDATE ingest.backfill_jobs SET status = 'failed', error = $2, finished_at = now()"
        " WHERE id = $1 AND status = 'running'",
        uuid.UUID(job_id),
        error,
    )


async def _lock(conn: asyncpg.Connection, job_id: str) -> bool:
    found = await conn.fetchval(
        "SELECT true FROM ingest.backfill_jobs WHERE id = $1 FOR UPDATE", uuid.UUID(job_id)
    )
    return bool(found)


async def _finish_if_done(conn: asyncpg.Connection, job_id: str) -> None:
    await conn.execute(
        """
        UPDATE ingest.backfill_jobs j SET status = 'finished', finished_at = now()
        WHERE j.id = $1 AND j.status = 'running' AND j.paged_all
          AND NOT EXISTS (
              SELECT 1 FROM ingest.backfill_orders o
              WHERE o.job_id = j.id AND o.status IN ('pending', 'checking')
          )
        """,
        uuid.UUID(job_id),
    )


async def progress(
    conn: asyncpg.Pool | asyncpg.Connection, shop: str, job_id: str | None = None
) -> dict[str, Any] | None:
    """A job's progress (the shop's latest when no id is given)."""
    row = await conn.fetchrow(
        """
        SELECT * FROM ingest.backfill_jobs
        WHERE shop = $1 AND ($2::uuid IS NULL OR id = $2::uuid)
        ORDER BY started_at DESC LIMIT 1
        """,
        shop,
        uuid.UUID(job_id) if job_id else None,
    )
    if row is None:
        return None
    counts = {
        r["status"]: int(r["n"])
        for r in await conn.fetch(
            "SELECT status, count(*) AS n FROM ingest.backfill_orders WHERE job_id = $1"
            " GROUP BY status",
            row["id"],
        )
    }
    failures = await conn.fetch(
        """
        SELECT order_id, status, error FROM ingest.backfill_orders
        WHERE job_id = $1 AND status IN ('failed', 'skipped', 'not_found')
        ORDER BY status, updated_at, order_id LIMIT $2
        """,
        row["id"],
        MAX_FAILURES_LISTED,
    )
    total = sum(counts.values())
    done = total - counts.get("pending", 0) - counts.get("checking", 0)
    return {
        "id": str(row["id"]),
        "dry_run": row["dry_run"],
        "status": row["status"],
        "filter": json.loads(row["filter"]),
        "total": total,
        "done": done,
        "counts": {status: counts.get(status, 0) for status in COUNTED},
        "paged_all": row["paged_all"],
        "error": row["error"],
        "started_at": row["started_at"].isoformat(),
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
        "failures": [
            {"order_id": item["order_id"], "status": item["status"], "error": item["error"]}
            for item in failures
        ],
    }


async def orders(
    pool: asyncpg.Pool, job_id: str, status: str | None, limit: int, after: str | None
) -> list[dict[str, Any]]:
    """A job's orders (a dry run's plan), by id, a page at a time."""
    rows = await pool.fetch(
        """
        SELECT order_id, status, document, error FROM ingest.backfill_orders
        WHERE job_id = $1 AND ($2::text IS NULL OR status = $2)
          AND ($3::text IS NULL OR order_id > $3)
        ORDER BY order_id LIMIT $4
        """,
        uuid.UUID(job_id),
        status,
        after,
        limit,
    )
    return [dict(row) for row in rows]
