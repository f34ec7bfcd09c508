"""Deferred commands: set aside in PostgreSQL instead of held unacked in RabbitMQ.

A command the writer cannot run soon (its tenant's rate-limit slot is far off, it waits for a
retry after a transient error, or its shop must reconnect Fortnox) is stored here in one
committed INSERT and only then acked, like an inbox: a crash in between redelivers it and the
unique ``command_id`` makes the second store a no-op. Nothing waits in the broker, so one
tenant's backlog never sits in front of another tenant's commands.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` and a claim expiry, so several replicas drain
the table together and a replica that dies mid-command frees its rows by itself.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

# A replica extends the claims of the commands it runs every CLAIM_SECONDS / 3; one that dies
# frees its rows within CLAIM_SECONDS.
CLAIM_SECONDS = 10.0

PARKED = "parked"
RATE_LIMIT = "rate_limit"
RETRY = "retry"
# Waiting on usage billing (billing_ledger.py): like parked, never claimed until released.
BILLING = "billing"
# Why a command made for the shop's previous Fortnox company is parked (switching.py).
HELD_EXPLANATION = (
    "the shop's Fortnox company was switched after this sync was made for the previous company; "
    "it is held back until the merchant releases it to the new company, discards it, or "
    "connects the previous company again"
)


@dataclass(frozen=True)
class ShopFacts:
    """What the writer knows about a shop when a command arrives (one query)."""

    now: datetime  # the database's clock: when the command was received
    tenant_id: str | None
    connected: bool
    backlog: bool  # the tenant already has commands waiting for slots
    next_slot_in: float  # seconds until the tenant's next rate-limit slot
    reason: str | None = None  # why the shop is not connected, in plain English
    switched_at: datetime | None = None  # the shop's last company switch
    switched_from_tenant: str | None = None


@dataclass(frozen=True)
class DeferredCommand:
    id: int
    command_id: str
    shop: str
    tenant_id: str | None
    routing_key: str
    message_id: str | None
    body: bytes
    headers: dict[str, Any]
    reason: str
    attempts: int
    created_at: datetime  # when the writer received it


@dataclass(frozen=True)
class TenantHead:
    tenant_id: str
    next_slot_in: float


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter in its upper half: base * 2^(attempt-1), capped."""
    ceiling = min(cap, base * 2.0 ** max(0, attempt - 1))
    return ceiling * (0.5 + random.random() / 2)  # jitter, not cryptography


def storable_headers(headers: dict[str, Any]) -> dict[str, Any]:
    """Headers as JSON scalars (trace context, schema, attempt); nested ones are dropped."""
    kept: dict[str, Any] = {}
    for key, value in headers.items():
        if isinstance(value, bytes):
            kept[key] = value.decode("utf-8", "replace")
        elif isinstance(value, str | int | float | bool):
            kept[key] = value
    return kept


class DeferredStore:
    def __init__(self, pool: asyncpg.Pool, holder: str) -> None:
        self._pool = pool
        self._holder = holder

    async def facts(self, shop: str) -> ShopFacts:
        row = await self._pool.fetchrow(
            """
            SELECT clock_timestamp() AS now, c.tenant_id, c.status = 'connected' AS connected,
                   c.status_reason, c.switched_at, c.switched_from_tenant,
                   EXISTS (SELECT 1 FROM fortnox_writer.deferred_commands d
                           WHERE d.tenant_id = c.tenant_id AND d.reason <> 'parked'
                             AND NOT d.background AND d.reason <> 'billing') AS backlog,
                   greatest(0, extract(epoch FROM (r.tat - clock_timestamp())))::float8 AS wait
            FROM (SELECT 1) one
            LEFT JOIN fortnox_writer.connections c ON c.shop = $1
            LEFT JOIN fortnox_writer.rate_limits r ON r.tenant_id = c.tenant_id
            """,
            shop,
        )
        if row["tenant_id"] is None:
            return ShopFacts(
                row["now"], None, False, False, 0.0, "the shop has not connected Fortnox yet"
            )
        return ShopFacts(
            row["now"],
            row["tenant_id"],
            bool(row["connected"]),
            bool(row["backlog"]),
            row["wait"] or 0.0,
            row["status_reason"],
            row["switched_at"],
            row["switched_from_tenant"],
        )

    async def put(
        self,
        *,
        command_id: str,
        shop: str,
        tenant_id: str | None,
        document_key: str,
        routing_key: str,
        message_id: str | None,
        body: bytes,
        headers: dict[str, Any],
        reason: str,
        attempts: int = 0,
        due_in: float = 0.0,
        error: str | None = None,
        held_from_tenant: str | None = None,
        background: bool = False,
    ) -> bool:
        """Store a command; False if it was already stored (a redelivery).

        ``background``: a backfill's command, claimed only when the tenant has no live
        command due.

        ``held_from_tenant``: the command was made for that company before the shop switched
        to another one; it stays parked until released (switching.py).
        """
        status: str = await self._pool.execute(
            """
            INSERT INTO fortnox_writer.deferred_commands
                (command_id, shop, tenant_id, document_key, routing_key, message_id, body,
                 headers, reason, attempts, due_at, last_error, held_from_tenant, background)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10,
                    clock_timestamp() + make_interval(secs => $11), $12, $13, $14)
            ON CONFLICT (command_id) DO NOTHING
            """,
            command_id,
            shop,
            tenant_id,
            document_key,
            routing_key,
            message_id,
            body,
            json.dumps(storable_headers(headers)),
            reason,
            attempts,
            due_in,
            error,
            held_from_tenant,
            background,
        )
        return status == "INSERT 0 1"

    async def tenants_waiting(self) -> list[TenantHead]:
        """Tenants with commands waiting for slots (a loose index scan), with their next slot."""
        rows = await self._pool.fetch(
            """
            WITH RECURSIVE t AS (
                (SELECT tenant_id FROM fortnox_writer.deferred_commands
                 WHERE reason <> 'parked' AND reason <> 'billing' AND tenant_id IS NOT NULL
                 ORDER BY tenant_id LIMIT 1)
                UNION ALL
                SELECT (SELECT d.tenant_id FROM fortnox_writer.deferred_commands d
                        WHERE d.reason <> 'parked' AND d.reason <> 'billing'
                          AND d.tenant_id > t.tenant_id
                        ORDER BY d.tenant_id LIMIT 1)
                FROM t WHERE t.tenant_id IS NOT NULL
            )
            SELECT t.tenant_id,
                   greatest(0, extract(epoch FROM (r.tat - clock_timestamp())))::float8 AS wait
            FROM t LEFT JOIN fortnox_writer.rate_limits r ON r.tenant_id = t.tenant_id
            WHERE t.tenant_id IS NOT NULL
            """
        )
        return [TenantHead(row["tenant_id"], row["wait"] or 0.0) for row in rows]

    async def claim(self, tenant_id: str) -> DeferredCommand | None:
        """The tenant's oldest due, unclaimed live command (else its oldest background one),
        claimed for this replica."""
        row = await self._pool.fetchrow(
            """
            UPDATE fortnox_writer.deferred_commands
            SET claimed_by = $2, claimed_until = clock_timestamp() + make_interval(secs => $3)
            WHERE id = (
                SELECT id FROM fortnox_writer.deferred_commands
                WHERE tenant_id = $1 AND reason <> 'parked' AND reason <> 'billing'
                  AND due_at <= clock_timestamp()
                  AND (claimed_until IS NULL OR claimed_until < clock_timestamp())
                ORDER BY background, id LIMIT 1
                FOR UPDATE SKIP LOCKED
            )
            RETURNING *
            """,
            tenant_id,
            self._holder,
            CLAIM_SECONDS,
        )
        return None if row is None else _deferred(row)

    async def extend_claims(self, row_ids: list[int]) -> None:
        await self._pool.execute(
            """
            UPDATE fortnox_writer.deferred_commands
            SET claimed_until = clock_timestamp() + make_interval(secs => $3)
            WHERE id = ANY($1) AND claimed_by = $2
            """,
            row_ids,
            self._holder,
            CLAIM_SECONDS,
        )

    async def done(self, row_id: int) -> None:
        await self._pool.execute(
            "DELETE FROM fortnox_writer.deferred_commands WHERE id = $1", row_id
        )

    async def reschedule(
        self,
        row_id: int,
        *,
        reason: str,
        attempts: int,
        due_in: float,
        error: str | None,
        held_from_tenant: str | None = None,
    ) -> None:
        """Back to waiting after a run. A row a company switch held back meanwhile (or one
        ``held_from_tenant`` holds now) stays parked, whatever the run's outcome."""
        await self._pool.execute(
            """
            UPDATE fortnox_writer.deferred_commands
            SET held_from_tenant = COALESCE(held_from_tenant, $6),
                reason = CASE WHEN COALESCE(held_from_tenant, $6) IS NULL THEN $2
                              ELSE 'parked' END,
                attempts = $3, due_at = clock_timestamp() + make_interval(secs => $4),
                last_error = CASE WHEN held_from_tenant IS NULL THEN $5 ELSE last_error END,
                claimed_by = NULL, claimed_until = NULL
            WHERE id = $1
            """,
            row_id,
            reason,
            attempts,
            due_in,
            error,
            held_from_tenant,
        )

    async def sweep(self) -> tuple[int, int]:
        """Park the commands of shops that must reconnect; resume those of reconnected shops.

        Returns (parked now, resumed now). Resumed commands take the tenant of the connection.
        Commands held back by a company switch resume only when released, or when the shop is
        connected to the company they were made for again (switching.py).
        """
        async with self._pool.acquire() as conn, conn.transaction():
            parked = await conn.execute(
                """
                UPDATE fortnox_writer.deferred_commands d
                SET reason = 'parked', claimed_by = NULL, claimed_until = NULL
                WHERE d.reason <> 'parked' AND d.reason <> 'billing' AND NOT EXISTS (
                    SELECT 1 FROM fortnox_writer.connections c
                    WHERE c.shop = d.shop AND c.status = 'connected')
                  AND (d.claimed_until IS NULL OR d.claimed_until < clock_timestamp())
                """
            )
            resumed = await conn.execute(
                """
                UPDATE fortnox_writer.deferred_commands d
                SET reason = 'retry', tenant_id = c.tenant_id, due_at = clock_timestamp(),
                    claimed_by = NULL, claimed_until = NULL, held_from_tenant = NULL
                FROM fortnox_writer.connections c
                WHERE d.reason = 'parked' AND c.shop = d.shop AND c.status = 'connected'
                  AND (d.held_from_tenant IS NULL OR d.held_from_tenant = c.tenant_id)
                """
            )
        return _count(parked), _count(resumed)

    async def counts(self, shop: str) -> dict[str, int]:
        """Commands by reason; those held back by a company switch count as ``held``."""
        rows = await self._pool.fetch(
            "SELECT CASE WHEN held_from_tenant IS NULL THEN reason ELSE 'held' END AS reason,"
            " count(*) AS n FROM fortnox_writer.deferred_commands"
            " WHERE shop = $1 GROUP BY 1",
            shop,
        )
        return {row["reason"]: int(row["n"]) for row in rows}

    async def connections_needing_reconnection(self) -> int:
        return int(
            await self._pool.fetchval(
                "SELECT count(*) FROM fortnox_writer.connections"
                " WHERE status = 'needs_reconnection'"
            )
        )


def _count(status: str) -> int:
    try:
        return int(status.split()[-1])
    except (ValueError, IndexError):
        return 0


def _deferred(row: asyncpg.Record) -> DeferredCommand:
    headers = row["headers"]
    return DeferredCommand(
        id=row["id"],
        command_id=row["command_id"],
        shop=row["shop"],
        tenant_id=row["tenant_id"],
        routing_key=row["routing_key"],
        message_id=row["message_id"],
        body=bytes(row["body"]),
        headers=json.loads(headers) if isinstance(headers, str) else dict(headers),
        reason=row["reason"],
        attempts=row["attempts"],
        created_at=row["created_at"],
    )
