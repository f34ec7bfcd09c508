"""The pre-flight results per shop (``fortnox_writer.preflight_results``): the last result,
when the next run is due, and which replica runs one now.

A run is claimed with one UPDATE (``running_at``), so two replicas (or the sweep and a merchant
pressing "Check again") never read the shop's Fortnox twice at once; a claim older than
``STALE_RUN`` (a replica that died mid-run) may be taken over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

STALE_RUN_SECONDS = 300


@dataclass(frozen=True)
class StoredResult:
    shop: str
    status: str
    checked_at: datetime | None
    findings: list[dict[str, Any]]
    running: bool
    error: str | None
    tenant_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "running" if self.running else self.status,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
            "findings": self.findings,
            "error": self.error,
            "tenant_id": self.tenant_id,
        }


NOT_RUN = StoredResult("", "pending", None, [], False, None, None)


class PreflightStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, shop: str) -> StoredResult | None:
        row = await self._pool.fetchrow(
            "SELECT shop, status, checked_at, findings::text AS findings, tenant_id, error,"
            f" running_at > now() - interval '{STALE_RUN_SECONDS} seconds' AS running"
            " FROM fortnox_writer.preflight_results WHERE shop = $1",
            shop,
        )
        if row is None:
            return None
        return StoredResult(
            shop=row["shop"],
            status=row["status"],
            checked_at=row["checked_at"],
            findings=json.loads(row["findings"]),
            running=bool(row["running"]),
            error=row["error"],
            tenant_id=row["tenant_id"],
        )

    async def claim(self, shop: str) -> bool:
        """Take the shop's run; False when another one is running."""
        row = await self._pool.fetchval(
            f"""
            INSERT INTO fortnox_writer.preflight_results AS p (shop, running_at)
            VALUES ($1, now())
            ON CONFLICT (shop) DO UPDATE SET running_at = now()
            WHERE p.running_at IS NULL
               OR p.running_at < now() - interval '{STALE_RUN_SECONDS} seconds'
            RETURNING shop
            """,
            shop,
        )
        return row is not None

    async def finish(
        self,
        shop: str,
        *,
        status: str,
        findings: list[dict[str, Any]],
        tenant_id: str | None,
        error: str | None = None,
    ) -> None:
        """Store the result and release the claim. A run that could not finish (``error``)
        keeps the previous findings and is due again in 5 minutes."""
        await self._pool.execute(
            """
            UPDATE fortnox_writer.preflight_results
            SET running_at = NULL, error = $5,
                checked_at = CASE WHEN $5::text IS NULL THEN now() ELSE checked_at END,
                due_at = CASE WHEN $5::text IS NULL THEN NULL
                              ELSE now() + interval '5 minutes' END,
                status = CASE WHEN $5::text IS NULL THEN $2 ELSE status END,
                findings = CASE WHEN $5::text IS NULL THEN $3::jsonb ELSE findings END,
                tenant_id = COALESCE($4, tenant_id)
            WHERE shop = $1
            """,
            shop,
            status,
            json.dumps(findings),
            tenant_id,
            error,
        )

    async def release(self, shop: str) -> None:
        await self._pool.execute(
            "UPDATE fortnox_writer.preflight_results SET running_at = NULL WHERE shop = $1", shop
        )

    async def mark_due(self, shop: str) -> None:
        """Run the shop's check soon (at connect)."""
        await self._pool.execute(
            """
            INSERT INTO fortnox_writer.preflight_results (shop, due_at) VALUES ($1, now())
            ON CONFLICT (shop) DO UPDATE SET due_at = now()
            """,
            shop,
        )

    async def due(self, interval_seconds: float, limit: int = 20) -> list[str]:
        """Connected shops whose check is due: never checked (connected by any path), marked
        (the OAuth callback), or older than the interval (daily)."""
        rows = await self._pool.fetch(
            """
            SELECT c.shop FROM fortnox_writer.connections c
            LEFT JOIN fortnox_writer.preflight_results p ON p.shop = c.shop
            WHERE c.status = 'connected'
              AND (p.shop IS NULL
                   OR (p.due_at IS NOT NULL AND p.due_at <= now())
                   OR p.checked_at < now() - make_interval(secs => $1))
            ORDER BY coalesce(p.due_at, p.checked_at, c.updated_at) LIMIT $2
            """,
            interval_seconds,
            limit,
        )
        return [row["shop"] for row in rows]
