"""The audit log: who retried or discarded which failed jobs, and when.

Each entry is written in the same transaction as the change it records. A bulk retry is one
entry with the filter it matched, the number of jobs and a batch id; its jobs carry that batch id
(``replay_batch``), so "which jobs did this bulk retry touch" is a filter on the job list.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from services.replayer.filters import FilterError

ACTIONS = ("retry", "bulk_retry", "discard")


async def write(
    conn: asyncpg.Connection,
    *,
    actor: str,
    action: str,
    job_id: uuid.UUID | None = None,
    batch_id: uuid.UUID | None = None,
    filter: dict[str, Any] | None = None,
    job_count: int = 1,
    reason: str | None = None,
) -> None:
    await conn.execute(
        """
        INSERT INTO replayer.audit_log (actor, action, job_id, batch_id, filter, job_count, reason)
        VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
        """,
        actor,
        action,
        job_id,
        batch_id,
        None if filter is None else json.dumps(filter),
        job_count,
        reason,
    )


async def page(
    pool: asyncpg.Pool,
    *,
    job_id: uuid.UUID | None,
    action: str | None,
    actor: str | None,
    before: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """Entries newest first, and the id to continue before (None at the end)."""
    if action is not None and action not in ACTIONS:
        raise FilterError(f"action must be one of {', '.join(ACTIONS)}")
    rows = await pool.fetch(
        """
        SELECT * FROM replayer.audit_log
        WHERE ($1::uuid IS NULL OR job_id = $1
               OR batch_id IN (SELECT replay_batch FROM replayer.failed_jobs WHERE id = $1))
          AND ($2::text IS NULL OR action = $2)
          AND ($3::text IS NULL OR actor = $3)
          AND ($4::bigint IS NULL OR id < $4)
        ORDER BY id DESC LIMIT $5
        """,
        job_id,
        action,
        actor,
        before,
        limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    entries = [
        {
            "id": row["id"],
            "at": row["at"].isoformat(),
            "actor": row["actor"],
            "action": row["action"],
            "job_id": str(row["job_id"]) if row["job_id"] else None,
            "batch_id": str(row["batch_id"]) if row["batch_id"] else None,
            "filter": json.loads(row["filter"]) if row["filter"] else None,
            "job_count": row["job_count"],
            "reason": row["reason"],
        }
        for row in rows
    ]
    return entries, rows[-1]["id"] if more else None
