"""Ingest's part of "is anything in flight?" (``fortbridge quiet``): read-only counts of its own
tables. Stored webhooks not yet published (the outbox relay's backlog), bulk catalog syncs and
backfills still running are work in flight; webhooks the relay set aside are counted apart (they
wait for an operator, nothing moves them)."""

from __future__ import annotations

import asyncpg

from libs.common.quiet import Part


async def in_flight(pool: asyncpg.Pool) -> Part:
    row = await pool.fetchrow(
        """
        SELECT (SELECT count(*) FROM ingest.webhook_events
                WHERE published_at IS NULL AND set_aside_at IS NULL) AS outbox_unpublished,
               (SELECT count(*) FROM ingest.webhook_events WHERE set_aside_at IS NOT NULL
                   AND published_at IS NULL) AS outbox_set_aside,
               (SELECT count(*) FROM ingest.sync_jobs WHERE status = 'running')
                   AS sync_jobs_running,
               (SELECT count(*) FROM ingest.backfill_jobs WHERE status = 'running')
                   AS backfills_running
        """
    )
    assert row is not None
    part = Part(
        figures={
            "outbox_unpublished": int(row["outbox_unpublished"]),
            # Set aside (unpublishable, listed at /admin/api/webhooks/set_aside.json): waiting
            # for an operator, not in flight.
            "outbox_set_aside": int(row["outbox_set_aside"]),
            "sync_jobs_running": int(row["sync_jobs_running"]),
            "backfills_running": int(row["backfills_running"]),
        }
    )
    if row["outbox_unpublished"]:
        part.busy.append(f"{row['outbox_unpublished']} stored webhooks not yet published")
    if row["sync_jobs_running"]:
        part.busy.append(f"{row['sync_jobs_running']} catalog syncs running")
    if row["backfills_running"]:
        part.busy.append(f"{row['backfills_running']} backfills running")
    return part
