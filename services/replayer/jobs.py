"""Failed jobs: stored from dead letters, listed, and re-queued to the queue they failed in."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from opentelemetry import trace

from libs.common import tracing
from libs.common.messaging import Publisher
from libs.common.messaging.consumer import (
    ATTEMPT_HEADER,
    ERROR_HEADER_PREFIX,
    FAILED_QUEUE_HEADER,
    ORIGINAL_TRACEPARENT_HEADER,
)
from libs.common.messaging.publisher import SHOP_HEADER
from services.replayer.dead_letters import DeadLetter

REPLAY_OF_HEADER = "x-fortbridge-replay-of"


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
    routing_key: str,
    message_type: str | None,
    headers: dict[str, Any],
    body: bytes,
    dead: DeadLetter,
) -> uuid.UUID:
    """Store a dead letter as a failed job; the same message failing again updates its job."""
    shop = headers.get(SHOP_HEADER)
    job_id: uuid.UUID = await pool.fetchval(
        """
        INSERT INTO replayer.failed_jobs AS j (id, message_id, queue, shop, service, routing_key,
            message_type, headers, body, error_class, error_code, error_message, source_message,
            explanation, attempts, first_failed_at, last_failed_at, trace_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14, $15, $16,
            $16, $17)
        ON CONFLICT (message_id, queue) DO UPDATE SET
            status = 'open', failures = j.failures + 1, attempts = j.attempts + EXCLUDED.attempts,
            error_class = EXCLUDED.error_class, error_code = EXCLUDED.error_code,
            error_message = EXCLUDED.error_message, source_message = EXCLUDED.source_message,
            explanation = EXCLUDED.explanation, last_failed_at = EXCLUDED.last_failed_at,
            headers = EXCLUDED.headers, body = EXCLUDED.body
        RETURNING id
        """,
        uuid.uuid4(),
        message_id,
        dead.queue,
        shop.decode() if isinstance(shop, bytes) else shop,
        dead.service,
        routing_key,
        message_type,
        json.dumps(jsonable(headers)),
        body,
        dead.error_class,
        dead.error_code,
        dead.error_message,
        dead.source_message,
        dead.explanation,
        dead.attempts,
        dead.failed_at,
        dead.trace_id,
    )
    return job_id


def replay_headers(stored: dict[str, Any]) -> dict[str, Any]:
    """The original headers without failure bookkeeping, attempts reset, original trace kept."""
    headers = {
        key: value
        for key, value in stored.items()
        if not key.startswith(ERROR_HEADER_PREFIX)
        and not key.startswith("x-death")
        and not key.startswith("x-first-death")
        and not key.startswith("x-last-death")
        and key not in (FAILED_QUEUE_HEADER, ATTEMPT_HEADER, "x-delivery-count")
    }
    original = stored.get(ORIGINAL_TRACEPARENT_HEADER) or stored.get("traceparent")
    headers.pop("traceparent", None)
    headers.pop("tracestate", None)
    if original:
        headers[ORIGINAL_TRACEPARENT_HEADER] = original
    return headers


async def retry(
    pool: asyncpg.Pool, publisher: Publisher, job_id: uuid.UUID
) -> dict[str, Any] | None:
    """Re-queue one job to the queue it failed in; None if there is no such open job."""
    async with pool.acquire() as conn, conn.transaction():
        job = await conn.fetchrow(
            "SELECT * FROM replayer.failed_jobs WHERE id = $1 FOR UPDATE", job_id
        )
        if job is None or job["status"] == "discarded":
            return None
        headers = replay_headers(json.loads(job["headers"]))
        headers[REPLAY_OF_HEADER] = str(job_id)
        links = tracing.links_to(headers.get(ORIGINAL_TRACEPARENT_HEADER))
        with tracing.get_tracer(__name__).start_as_current_span("replay failed job", links=links):
            trace.get_current_span().set_attribute("fortbridge.failed_job.id", str(job_id))
            await publisher.publish_raw(
                bytes(job["body"]),
                job["queue"],
                exchange="",
                headers=headers,
                message_type=job["message_type"],
                message_id=job["message_id"],
                links=links,
            )
        updated = await conn.fetchrow(
            """
            UPDATE replayer.failed_jobs
            SET status = 'retrying', retries = retries + 1, last_retried_at = now()
            WHERE id = $1 RETURNING *
            """,
            job_id,
        )
    return as_json(updated)


def as_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "shop": row["shop"],
        "service": row["service"],
        "queue": row["queue"],
        "routing_key": row["routing_key"],
        "status": row["status"],
        "error_class": row["error_class"],
        "error_code": row["error_code"],
        "error_message": row["error_message"],
        "fortnox_message": row["source_message"],
        "explanation": row["explanation"],
        "attempts": row["attempts"],
        "failures": row["failures"],
        "retries": row["retries"],
        "first_failed_at": row["first_failed_at"].isoformat(),
        "last_failed_at": row["last_failed_at"].isoformat(),
        "last_retried_at": row["last_retried_at"].isoformat() if row["last_retried_at"] else None,
        "trace_id": row["trace_id"],
        "message": _body(bytes(row["body"])),
    }


def _body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
