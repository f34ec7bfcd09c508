"""Each shop's reconciliation checkpoint and the figures of its last run (ingest's table).

The checkpoint is the newest ``updatedAt`` of the orders fully handled: it starts at the shop's
install time (orders from before the app was installed are never reconciled) and moves only in
:func:`page_done`, after every order of a page was compared and what was missing stored. A run
that fails leaves it where the last handled page put it, so the next round starts there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


async def start(pool: asyncpg.Pool, shop: str, installed_at: datetime) -> datetime:
    """Record a run's start (the first run creates the row); returns the checkpoint."""
    checkpoint: datetime = await pool.fetchval(
        """
        INSERT INTO ingest.reconcile_shops AS r (shop, checkpoint, last_started_at, last_outcome)
        VALUES ($1, $2, now(), 'running')
        ON CONFLICT (shop) DO UPDATE SET last_started_at = now(), last_outcome = 'running',
            orders_checked = 0, orders_recovered = 0, events_recovered = 0,
            checkpoint = greatest(r.checkpoint, EXCLUDED.checkpoint)
        RETURNING checkpoint
        """,
        shop,
        installed_at,
    )
    return checkpoint


async def page_done(
    pool: asyncpg.Pool,
    shop: str,
    newest: datetime | None,
    *,
    checked: int,
    recovered: int,
    events: int,
) -> None:
    """A page fully handled: add its figures and move the checkpoint to its newest update."""
    await pool.execute(
        """
        UPDATE ingest.reconcile_shops SET
            checkpoint = greatest(checkpoint, coalesce($2, checkpoint)),
            orders_checked = orders_checked + $3,
            orders_recovered = orders_recovered + $4,
            events_recovered = events_recovered + $5,
            total_recovered = total_recovered + $4
        WHERE shop = $1
        """,
        shop,
        newest,
        checked,
        recovered,
        events,
    )


async def finish(pool: asyncpg.Pool, shop: str) -> None:
    await pool.execute(
        """
        UPDATE ingest.reconcile_shops SET last_finished_at = now(), last_outcome = 'finished',
            last_error = NULL
        WHERE shop = $1
        """,
        shop,
    )


async def fail(pool: asyncpg.Pool, shop: str, error: str) -> None:
    """A run that stopped: the error is kept until a run finishes; the checkpoint stays."""
    await pool.execute(
        """
        UPDATE ingest.reconcile_shops SET last_finished_at = now(), last_outcome = 'failed',
            last_error = $2, last_error_at = now()
        WHERE shop = $1
        """,
        shop,
        error,
    )


async def status(pool: asyncpg.Pool, shop: str) -> dict[str, Any] | None:
    """The shop's checkpoint and last run, as the admin endpoint shows them."""
    row = await pool.fetchrow("SELECT * FROM ingest.reconcile_shops WHERE shop = $1", shop)
    if row is None:
        return None
    return {
        "checkpoint": _iso(row["checkpoint"]),
        "last_run": {
            "status": row["last_outcome"],
            "started_at": _iso(row["last_started_at"]),
            "finished_at": _iso(row["last_finished_at"]),
            "orders_checked": row["orders_checked"],
            "orders_recovered": row["orders_recovered"],
            "events_recovered": row["events_recovered"],
        },
        "orders_recovered_total": row["total_recovered"],
        "last_error": row["last_error"],
        "last_error_at": _iso(row["last_error_at"]),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
