"""Failed jobs: stored from dead letters, listed by filter and cause, retried, discarded.

One job per message (message id + the queue it failed in): the same message failing again (a
replay that fails, a redelivery) updates its job; a duplicate of one dead letter changes nothing.

Statuses: ``open`` (needs a decision), ``queued`` (waiting for a paced bulk replay),
``retrying`` (re-queued; it returns to ``open`` if it fails again), ``discarded`` (never to run;
the reason is kept).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from services.replayer import audit
from services.replayer.causes import Cause, Subject
from services.replayer.dead_letters import DeadLetter
from services.replayer.filters import JobFilter, encode_cursor
from services.replayer.replay import ReplayPublisher, publish_replay

RETRYABLE = ("open", "queued")


class JobStateError(Exception):
    """The job exists but is not in a state that allows the action."""

    def __init__(self, message: str, job: dict[str, Any]) -> None:
        super().__init__(message)
        self.job = job


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


async def record(
    pool: asyncpg.Pool,
    *,
    message_id: str,
    message_type: str | None,
    headers: dict[str, Any],
    body: bytes,
    dead: DeadLetter,
    cause: Cause,
    subject: Subject,
) -> uuid.UUID | None:
    """Store a dead letter as a failed job, or update the job of the same message.

    Returns the job's id, or None for a duplicate of a dead letter already recorded.
    """
    job_id: uuid.UUID | None = await pool.fetchval(
        """
        INSERT INTO replayer.failed_jobs AS j (id, message_id, queue, shop, service, routing_key,
            message_type, headers, body, error_class, error_code, error_message, source_message,
            explanation, attempts, first_failed_at, last_failed_at, trace_id, object_type,
            object_id, object_name, document_key, fortnox_code, fix, cause_key, cause_title,
            details, last_failure_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14, $15, $16,
            $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26::jsonb, $27)
        ON CONFLICT (message_id, queue) DO UPDATE SET
            status = CASE WHEN j.status = 'discarded' THEN 'discarded' ELSE 'open' END,
            queued_at = NULL,
            failures = j.failures + 1, attempts = j.attempts + EXCLUDED.attempts,
            error_class = EXCLUDED.error_class, error_code = EXCLUDED.error_code,
            error_message = EXCLUDED.error_message, source_message = EXCLUDED.source_message,
            explanation = EXCLUDED.explanation, fortnox_code = EXCLUDED.fortnox_code,
            fix = EXCLUDED.fix, cause_key = EXCLUDED.cause_key,
            cause_title = EXCLUDED.cause_title, details = EXCLUDED.details,
            last_failed_at = GREATEST(j.last_failed_at, EXCLUDED.last_failed_at),
            last_failure_id = EXCLUDED.last_failure_id,
            shop = COALESCE(EXCLUDED.shop, j.shop), trace_id = EXCLUDED.trace_id,
            headers = EXCLUDED.headers, body = EXCLUDED.body
        WHERE j.last_failure_id IS DISTINCT FROM EXCLUDED.last_failure_id
        RETURNING id
        """,
        uuid.uuid4(),
        message_id,
        dead.queue,
        subject.shop,
        dead.service,
        dead.routing_key,
        message_type,
        json.dumps(jsonable(headers)),
        body,
        dead.error_class,
        dead.error_code,
        dead.error_message,
        dead.source_message,
        cause.explanation,
        dead.attempts,
        dead.failed_at,
        dead.trace_id,
        subject.object_type,
        subject.object_id,
        subject.object_name,
        subject.document_key,
        cause.fortnox_code,
        cause.fix,
        cause.key,
        cause.title,
        None if dead.details is None else json.dumps(jsonable(dead.details)),
        dead.failure_id,
    )
    return job_id


async def get(pool: asyncpg.Pool, job_id: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM replayer.failed_jobs WHERE id = $1", job_id)
    return None if row is None else as_json(row)


async def page(
    pool: asyncpg.Pool, job_filter: JobFilter, *, after: int | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of jobs, newest first, and the cursor of the next page (None at the end)."""
    params: list[Any] = []
    where = job_filter.where(params)
    if after is not None:
        params.append(after)
        where += f" AND seq < ${len(params)}"
    params.append(limit + 1)
    rows = await pool.fetch(
        f"SELECT * FROM replayer.failed_jobs WHERE {where} ORDER BY seq DESC LIMIT ${len(params)}",
        *params,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return [as_json(row) for row in rows], encode_cursor(rows[-1]["seq"]) if more else None


async def causes(pool: asyncpg.Pool, job_filter: JobFilter) -> list[dict[str, Any]]:
    """Jobs matching the filter grouped by cause, largest first: one fix, one replay each."""
    params: list[Any] = []
    rows = await pool.fetch(
        f"""
        SELECT cause_key, min(cause_title) AS title, min(fix) AS fix,
            min(error_class) AS error_class, min(fortnox_code) AS fortnox_code,
            count(*) AS jobs, count(DISTINCT shop) AS shops,
            count(*) FILTER (WHERE status = 'open') AS open,
            count(*) FILTER (WHERE status IN ('queued', 'retrying')) AS retrying,
            count(*) FILTER (WHERE status = 'discarded') AS discarded,
            min(first_failed_at) AS first_failed_at, max(last_failed_at) AS last_failed_at
        FROM replayer.failed_jobs WHERE {job_filter.where(params)}
        GROUP BY cause_key ORDER BY count(*) DESC, cause_key
        """,
        *params,
    )
    return [
        {
            "cause": row["cause_key"],
            "title": row["title"],
            "summary": f"{row['title']}: {_count(row['jobs'], 'job')}, "
            f"{_count(row['shops'], 'shop')}",
            "fix": row["fix"],
            "error_class": row["error_class"],
            "fortnox_code": row["fortnox_code"],
            "jobs": row["jobs"],
            "shops": row["shops"],
            "open": row["open"],
            "retrying": row["retrying"],
            "discarded": row["discarded"],
            "first_failed_at": row["first_failed_at"].isoformat(),
            "last_failed_at": row["last_failed_at"].isoformat(),
        }
        for row in rows
    ]


async def retry(
    pool: asyncpg.Pool, publisher: ReplayPublisher, job_id: uuid.UUID, *, actor: str
) -> dict[str, Any] | None:
    """Re-queue one job now; None if there is no such job.

    The row lock and the status check make concurrent retries of one job publish once; the
    losers get :class:`JobStateError` (the job is already ``retrying``).
    """
    async with pool.acquire() as conn, conn.transaction():
        job = await conn.fetchrow(
            "SELECT * FROM replayer.failed_jobs WHERE id = $1 FOR UPDATE", job_id
        )
        if job is None:
            return None
        if job["status"] not in RETRYABLE:
            raise JobStateError(_not_retryable(job["status"]), as_json(job))
        updated = await publish_replay(conn, publisher, job, mode="single")
        await audit.write(conn, actor=actor, action="retry", job_id=job_id)
    return as_json(updated)


async def discard(
    pool: asyncpg.Pool, job_id: uuid.UUID, *, actor: str, reason: str
) -> dict[str, Any] | None:
    """Mark a job never to run, with the reason; None if there is no such job."""
    async with pool.acquire() as conn, conn.transaction():
        job = await conn.fetchrow(
            "SELECT * FROM replayer.failed_jobs WHERE id = $1 FOR UPDATE", job_id
        )
        if job is None:
            return None
        if job["status"] == "discarded":
            raise JobStateError("the job is already discarded", as_json(job))
        updated = await conn.fetchrow(
            """
            UPDATE replayer.failed_jobs
            SET status = 'discarded', queued_at = NULL, status_reason = $2,
                status_changed_by = $3, status_changed_at = now()
            WHERE id = $1 RETURNING *
            """,
            job_id,
            reason,
            actor,
        )
        await audit.write(conn, actor=actor, action="discard", job_id=job_id, reason=reason)
    return as_json(updated)


async def queue_matching(
    pool: asyncpg.Pool, job_filter: JobFilter, *, actor: str, dry_run: bool = False
) -> tuple[int, uuid.UUID | None]:
    """Mark every open job matching the filter ``queued`` for the paced bulk replay.

    Returns how many were queued and the batch id (jobs carry it as ``replay_batch``).
    """
    params: list[Any] = []
    where = job_filter.where(params)
    if dry_run:
        count: int = await pool.fetchval(
            f"SELECT count(*) FROM replayer.failed_jobs WHERE {where} AND status = 'open'",
            *params,
        )
        return count, None
    batch = uuid.uuid4()
    params.append(batch)
    async with pool.acquire() as conn, conn.transaction():
        count = await conn.fetchval(
            f"""
            WITH queued AS (
                UPDATE replayer.failed_jobs
                SET status = 'queued', queued_at = clock_timestamp(), replay_batch = ${len(params)}
                WHERE id IN (
                    SELECT id FROM replayer.failed_jobs WHERE {where} AND status = 'open'
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING 1
            )
            SELECT count(*) FROM queued
            """,
            *params,
        )
        await audit.write(
            conn,
            actor=actor,
            action="bulk_retry",
            batch_id=batch,
            filter=job_filter.as_json(),
            job_count=count,
        )
    return count, batch


async def open_counts(pool: asyncpg.Pool) -> dict[str, int]:
    """Unresolved jobs (open or waiting for a bulk replay) per cause, for the gauge."""
    rows = await pool.fetch(
        """
        SELECT cause_key, count(*) AS jobs FROM replayer.failed_jobs
        WHERE status IN ('open', 'queued') GROUP BY cause_key
        """
    )
    return {row["cause_key"]: row["jobs"] for row in rows}


def as_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "shop": row["shop"],
        "object": {
            "type": row["object_type"],
            "id": row["object_id"],
            "name": row["object_name"],
        },
        "document_key": row["document_key"],
        "service": row["service"],
        "queue": row["queue"],
        "routing_key": row["routing_key"],
        "message_id": row["message_id"],
        "status": row["status"],
        "status_reason": row["status_reason"],
        "status_changed_by": row["status_changed_by"],
        "status_changed_at": _time(row["status_changed_at"]),
        "cause": {"key": row["cause_key"], "title": row["cause_title"]},
        "error_class": row["error_class"],
        "error_code": row["error_code"],
        "error_message": row["error_message"],
        "fortnox_code": row["fortnox_code"],
        "fortnox_message": row["source_message"],
        "explanation": row["explanation"],
        "fix": row["fix"],
        # What the failing step recorded for a person to act on (the totals Fortnox and the
        # order disagree on, the customer numbers a search found, when to try again).
        "details": json.loads(row["details"]) if row["details"] is not None else None,
        "attempts": row["attempts"],
        "failures": row["failures"],
        "retries": row["retries"],
        "first_failed_at": row["first_failed_at"].isoformat(),
        "last_failed_at": row["last_failed_at"].isoformat(),
        "last_retried_at": _time(row["last_retried_at"]),
        "queued_at": _time(row["queued_at"]),
        "replay_batch": str(row["replay_batch"]) if row["replay_batch"] else None,
        "trace_id": row["trace_id"],
        "headers": json.loads(row["headers"]),
        "message": _body(bytes(row["body"])),
    }


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _not_retryable(status: str) -> str:
    if status == "discarded":
        return "the job was discarded; it will not be retried"
    return "the job is already being retried; it returns to open if it fails again"


def _body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
