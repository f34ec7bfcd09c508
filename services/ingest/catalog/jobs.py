"""Catalog sync jobs and their items (ingest's tables): start, page, count, finish."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

ITEM_STATES = {"synced": "done", "already_synced": "done", "failed": "failed", "skipped": "skipped"}
# A progress answer lists this many of the items that did not sync.
MAX_FAILURES_LISTED = 50


class JobRunning(Exception):
    def __init__(self, job: dict[str, Any]) -> None:
        super().__init__("a sync of this kind is already running for the shop")
        self.job = job


async def create(pool: asyncpg.Pool, shop: str, kind: str, filters: dict[str, Any]) -> str:
    """A new running job; refuses while another job of the kind runs for the shop."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"catalog:{shop}:{kind}")
        running = await conn.fetchval(
            "SELECT id FROM ingest.sync_jobs WHERE shop = $1 AND kind = $2 AND status = 'running'",
            shop,
            kind,
        )
        if running is not None:
            job = await progress(conn, shop, kind, str(running))
            assert job is not None
            raise JobRunning(job)
        job_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO ingest.sync_jobs (id, shop, kind, filter, status)"
            " VALUES ($1, $2, $3, $4::jsonb, 'running')",
            job_id,
            shop,
            kind,
            json.dumps(filters),
        )
    return str(job_id)


async def job(pool: asyncpg.Pool, job_id: str) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM ingest.sync_jobs WHERE id = $1", uuid.UUID(job_id))


async def resumable(pool: asyncpg.Pool) -> list[str]:
    """Running jobs whose paging has not finished (a replica stopped mid-way)."""
    rows = await pool.fetch(
        "SELECT id FROM ingest.sync_jobs WHERE status = 'running' AND NOT paged_all"
    )
    return [str(row["id"]) for row in rows]


async def record_page(
    pool: asyncpg.Pool, job_id: str, item_ids: list[str], cursor: str | None, paged_all: bool
) -> None:
    """Items published from one page (pending until their results come) and the new cursor."""
    async with pool.acquire() as conn, conn.transaction():
        await _lock(conn, job_id)
        await conn.executemany(
            "INSERT INTO ingest.sync_items (job_id, item_id, status) VALUES ($1, $2, 'pending')"
            " ON CONFLICT DO NOTHING",
            [(uuid.UUID(job_id), item_id) for item_id in item_ids],
        )
        await conn.execute(
            "UPDATE ingest.sync_jobs SET cursor = $2, paged_all = $3 WHERE id = $1",
            uuid.UUID(job_id),
            cursor,
            paged_all,
        )
        await _finish_if_done(conn, job_id)


async def record_result(
    pool: asyncpg.Pool, job_id: str, item_id: str, result_status: str, error: str | None
) -> None:
    """An item's result; a later success replaces a failure, never the other way round."""
    state = ITEM_STATES.get(result_status)
    if state is None:
        return
    async with pool.acquire() as conn, conn.transaction():
        await _lock(conn, job_id)
        await conn.execute(
            """
            INSERT INTO ingest.sync_items AS i (job_id, item_id, status, error)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (job_id, item_id) DO UPDATE SET status = EXCLUDED.status,
                error = EXCLUDED.error, updated_at = now()
            WHERE i.status <> 'done'
            """,
            uuid.UUID(job_id),
            item_id,
            state,
            error,
        )
        await _finish_if_done(conn, job_id)


async def fail(pool: asyncpg.Pool, job_id: str, error: str) -> None:
    await pool.execute(
        "UPDATE ingest.sync_jobs SET status = 'failed', error = $2, finished_at = now()"
        " WHERE id = $1 AND status = 'running'",
        uuid.UUID(job_id),
        error,
    )


async def _lock(conn: asyncpg.Connection, job_id: str) -> None:
    """Serialize a job's item changes: two results committing at once must not each see the
    other's item still pending, and so both leave the job running."""
    await conn.execute("SELECT 1 FROM ingest.sync_jobs WHERE id = $1 FOR UPDATE", uuid.UUID(job_id))


async def _finish_if_done(conn: asyncpg.Connection, job_id: str) -> None:
    await conn.execute(
        """
        UPDATE ingest.sync_jobs j SET status = 'finished', finished_at = now()
        WHERE j.id = $1 AND j.status = 'running' AND j.paged_all
          AND NOT EXISTS (
              SELECT 1 FROM ingest.sync_items i WHERE i.job_id = j.id AND i.status = 'pending'
          )
        """,
        uuid.UUID(job_id),
    )


async def progress(
    conn: asyncpg.Pool | asyncpg.Connection, shop: str, kind: str, job_id: str | None = None
) -> dict[str, Any] | None:
    """A job's progress (the latest of the kind for the shop when no id is given)."""
    row = await conn.fetchrow(
        """
        SELECT j.*,
            count(i.item_id) AS total,
            count(i.item_id) FILTER (WHERE i.status = 'done') AS done,
            count(i.item_id) FILTER (WHERE i.status = 'failed') AS failed,
            count(i.item_id) FILTER (WHERE i.status = 'skipped') AS skipped,
            count(i.item_id) FILTER (WHERE i.status = 'pending') AS pending
        FROM ingest.sync_jobs j LEFT JOIN ingest.sync_items i ON i.job_id = j.id
        WHERE j.shop = $1 AND j.kind = $2 AND ($3::uuid IS NULL OR j.id = $3::uuid)
        GROUP BY j.id
        ORDER BY j.started_at DESC
        LIMIT 1
        """,
        shop,
        kind,
        uuid.UUID(job_id) if job_id else None,
    )
    if row is None:
        return None
    failures = await conn.fetch(
        """
        SELECT item_id, status, error FROM ingest.sync_items
        WHERE job_id = $1 AND status IN ('failed', 'skipped')
        ORDER BY status, updated_at, item_id LIMIT $2
        """,
        row["id"],
        MAX_FAILURES_LISTED,
    )
    return {
        "id": str(row["id"]),
        "kind": row["kind"],
        "status": row["status"],
        "filter": json.loads(row["filter"]),
        "total": row["total"],
        "done": row["done"],
        "failed": row["failed"],
        "skipped": row["skipped"],
        "pending": row["pending"],
        "paged_all": row["paged_all"],
        "error": row["error"],
        "started_at": row["started_at"].isoformat(),
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
        # The items that did not sync (failed first), with why: the first MAX_FAILURES_LISTED.
        "failures": [
            {"id": item["item_id"], "status": item["status"], "error": item["error"]}
            for item in failures
        ],
    }
