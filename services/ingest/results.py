"""Ingest's projection of the writer's results: each order's Fortnox document state, and the
progress of bulk catalog syncs and backfills (results that carry their batch id).

Only results about the order's own document (invoice or order, created or updated) move the
state; credits and payments belong to the timeline. A later result wins; an older one that
arrives late never overwrites it, and a failure of a duplicate attempt never hides a success.
"""

from __future__ import annotations

from libs.common.messages import SyncResult
from libs.common.messaging import Delivery
from libs.common.service import Runtime
from services.ingest.backfill import jobs as backfills
from services.ingest.catalog import jobs
from services.ingest.inventory.sync import InventorySync
from services.mapper.summary import summary_holdings, summary_made

STATE_OF = {
    "synced": "synced",
    "already_synced": "synced",
    "failed": "failed",
    "skipped": "skipped",
    "parked": "needs_reconnection",
    "summarized": "summarized",  # booked in a daily summary (summary mode)
}
DOCUMENT_ACTIONS = ("create_document", "update_document")


class ResultProjection:
    def __init__(self, runtime: Runtime) -> None:
        self._pool = runtime.pool
        self._runtime = runtime
        self._inventory: InventorySync | None = None  # Fortnox's stock to Shopify (inventory/)

    async def __call__(self, delivery: Delivery) -> None:
        result = delivery.parse(SyncResult)
        if result.action in ("read_stock", "set_stock"):
            if self._inventory is None:
                self._inventory = InventorySync(self._runtime)
            if result.action == "read_stock":
                await self._inventory.apply_read(result)
            else:
                await self._inventory.apply_set(result)
            return
        if result.action == "find_documents":
            if result.batch_id is not None:
                # Not looked up (failed, or parked until Fortnox is reconnected): the dry run
                # still finishes, those orders would_create with the reason; a later answer
                # (the parked command resumed) corrects them.
                error = None
                if result.status != "synced":
                    reason = result.explanation or result.error_message
                    error = f"not looked up in Fortnox: {reason}"
                await backfills.record_lookup(
                    self._pool, result.batch_id, result.references, result.found, error
                )
            return
        if result.batch_id is not None and result.origin == "backfill":
            # A backfill counts the result of each order's own document.
            if result.source.type == "order" and result.action == "create_document":
                error = result.explanation or result.error_message
                await backfills.record_result(
                    self._pool,
                    result.batch_id,
                    result.source.id,
                    result.status,
                    result.document_number,
                    error,
                )
        elif result.batch_id is not None:
            error = result.explanation or result.error_message
            await jobs.record_result(
                self._pool, result.batch_id, result.source.id, result.status, error
            )
        if summary_made(result):
            await self._summary_number(result)
            return
        if result.source.type != "order" or result.action not in DOCUMENT_ACTIONS:
            return
        await self._pool.execute(
            """
            INSERT INTO ingest.order_documents AS d (shop, order_id, order_name, status,
                document_kind, document_number, fortnox_total, expected_total, currency,
                error_code, error_message, explanation, rule_version, trace_id, occurred_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            ON CONFLICT (shop, order_id) DO UPDATE SET
                order_name = COALESCE(EXCLUDED.order_name, d.order_name),
                status = EXCLUDED.status,
                document_kind = COALESCE(EXCLUDED.document_kind, d.document_kind),
                document_number = COALESCE(EXCLUDED.document_number, d.document_number),
                fortnox_total = COALESCE(EXCLUDED.fortnox_total, d.fortnox_total),
                expected_total = COALESCE(EXCLUDED.expected_total, d.expected_total),
                currency = COALESCE(EXCLUDED.currency, d.currency),
                error_code = EXCLUDED.error_code,
                error_message = EXCLUDED.error_message,
                explanation = EXCLUDED.explanation,
                rule_version = COALESCE(EXCLUDED.rule_version, d.rule_version),
                trace_id = EXCLUDED.trace_id,
                occurred_at = EXCLUDED.occurred_at
            WHERE d.occurred_at <= EXCLUDED.occurred_at
              AND NOT (d.status = 'synced' AND EXCLUDED.status <> 'synced')
            """,
            result.shop,
            result.source.id,
            result.source.name,
            "waiting_on_billing"
            if result.status == "parked" and result.error_code == "billing_required"
            else STATE_OF[result.status],
            result.document_kind,
            result.document_number,
            result.fortnox_total,
            result.expected_total,
            result.currency,
            result.error_code,
            result.error_message,
            result.explanation,
            result.rule_version,
            result.trace_id,
            result.occurred_at,
        )

    async def _summary_number(self, result: SyncResult) -> None:
        """Summary mode: the daily summary's Fortnox number on each summarized order it holds
        (which orders: the mapper's ``summary_holdings``, read-only). The result can come before
        the mapper's closing transaction that names the summary commits: ``summary_holdings``
        then raises TransientError and the result is retried."""
        async with self._pool.acquire() as conn:
            holdings = await summary_holdings(conn, result.shop, result.document_key)
            await conn.execute(
                "UPDATE ingest.order_documents SET document_number = $3, document_kind = $4"
                " WHERE shop = $1 AND order_id = ANY($2::text[]) AND status = 'summarized'",
                result.shop,
                [order_id for order_id, kind in holdings if kind == "sales"],
                result.document_number,
                result.document_kind,
            )
