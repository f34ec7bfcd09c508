"""Summary mode on the order's timeline: once the daily summary document is made in Fortnox,
each order it holds gets its number.

The writer's result for a summary command names the summary (``source.type = "summary"``,
``document_key`` the summary key); which orders it holds is the mapper's (its
``summary_holdings``, read-only over the shared database, like the other cross-schema reads in
docs/architecture.md). Each order gets a timeline event "Daily summary made in Fortnox: invoice
<n>"; an order whose status is ``summarized`` (its sale, not only a refund, in this summary)
gets the number as its status's ``document_number``, and its Shopify status metafield is
rewritten with it (:func:`status_values`, written 25 orders per metafieldsSet by the handler:
2,000 orders of a day are 80 Shopify calls).

The mapper publishes a summary's command inside the closing transaction that names the summary
on its entries, so the writer's result can come before that commit: a summary that holds no
orders yet is retried (TransientError, through the wait queues) rather than recorded for none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from libs.common.messages import SyncResult
from libs.common.messaging import Delivery
from libs.common.service import Runtime
from services.mapper.summary import summary_holdings, summary_made, summary_order_totals
from services.timeline.mirror import SyncStatus

__all__ = ["Recorded", "record", "status_values", "summary_made"]


@dataclass(frozen=True)
class Recorded:
    holdings: int  # orders (and refunds) the summary holds
    numbered: list[str]  # orders whose status now carries the summary's number


def describe(result: SyncResult, kind: str) -> str:
    what = "sales" if kind == "sales" else "refunds"
    total = f", total {result.fortnox_total} {result.currency}" if result.fortnox_total else ""
    return (
        f"Daily {what} summary made in Fortnox: {result.document_kind} {result.document_number}"
        f" ({result.source.name or result.document_key}{total})."
    )


async def record(runtime: Runtime, delivery: Delivery, result: SyncResult) -> Recorded:
    """The summary's number on each order it holds (``summary_holdings`` raises
    TransientError while the close that names the summary is not committed)."""
    async with runtime.pool.acquire() as conn, conn.transaction():
        holdings = await summary_holdings(conn, result.shop, result.document_key)
        await conn.executemany(
            """
            INSERT INTO timeline.events (message_id, shop, order_id, kind, status, message,
                document_kind, document_number, fortnox_total, currency, trace_id, occurred_at)
            VALUES ($1, $2, $3, 'sync', 'summarized', $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (message_id) DO NOTHING
            """,
            [
                (
                    f"{delivery.message_id}:{order_id}:{kind}",
                    result.shop,
                    order_id,
                    describe(result, kind),
                    result.document_kind,
                    result.document_number,
                    result.fortnox_total,
                    result.currency,
                    result.trace_id,
                    result.occurred_at,
                )
                for order_id, kind in holdings
            ],
        )
        numbered = await conn.fetch(
            "UPDATE timeline.order_status SET document_number = $3, mirrored_at = NULL"
            " WHERE shop = $1 AND order_id = ANY($2::text[]) AND status = 'summarized'"
            " RETURNING order_id",
            result.shop,
            [order_id for order_id, kind in holdings if kind == "sales"],
            result.document_number,
        )
    return Recorded(len(holdings), sorted(row["order_id"] for row in numbered))


async def status_values(
    pool: Any, result: SyncResult, order_ids: list[str]
) -> list[tuple[str, SyncStatus]]:
    """Each order's status metafield once its summary is made: the shape the handler writes
    for any result, with the summary's document and the order's own total in it (the mapper's
    ``summary_order_totals``; the summary's total is the whole day's)."""
    async with pool.acquire() as conn:
        totals = await summary_order_totals(conn, result.shop, result.document_key)
    message = describe(result, "sales")
    values: list[tuple[str, SyncStatus]] = []
    for order_id in order_ids:
        total, currency = totals.get(order_id, (None, result.currency))
        values.append(
            (
                order_id,
                {
                    "status": "summarized",
                    "document_kind": result.document_kind,
                    "document_number": result.document_number,
                    "summary": result.document_key,
                    "fortnox_total": None,
                    "order_total": total,
                    "currency": currency,
                    "error_code": None,
                    "message": message,
                    "notices": [],
                    "updated_at": result.occurred_at.isoformat(),
                    "trace_id": result.trace_id,
                },
            )
        )
    return values
