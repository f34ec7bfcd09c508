"""The timeline's consumer: sync results become timeline events and the order's Shopify status."""

from __future__ import annotations

from libs.common.crypto import TokenCipher
from libs.common.logs import get_logger
from libs.common.messages import SyncResult
from libs.common.messaging import Delivery
from libs.common.privacy import redaction_of
from libs.common.service import Runtime
from libs.common.shopify_admin import ShopifyAdmin
from libs.common.shops import ShopRegistry
from services.timeline import latency, privacy, summaries
from services.timeline.mirror import SyncStatus, mirror_status, mirror_statuses, stale_tags

log = get_logger(__name__)

# What an order's status is called once a result arrives (already_synced is still synced).
STATUS_OF = {
    "synced": "synced",
    "already_synced": "synced",
    "failed": "failed",
    "skipped": "skipped",
    "parked": "needs_reconnection",
    "summarized": "summarized",  # in a daily summary document (summary mode)
}


def status_of(result: SyncResult) -> str:
    """The order's status after a result: a sync waiting on usage billing (docs/billing.md)
    is ``waiting_on_billing``, not a connection to repair."""
    if result.status == "parked" and result.error_code == "billing_required":
        return "waiting_on_billing"
    return STATUS_OF[result.status]


# Results about the order's own document move its status; credits and payments are events.
DOCUMENT_ACTIONS = frozenset({"create_document", "update_document"})
DONE = {
    "create_document": "created",
    "update_document": "updated",
    "reverse_document": "reversed",
    "register_payment": "registered",
}


def describe(result: SyncResult) -> str:
    """The plain-English line shown on the order's timeline, with the command's warnings
    (e.g. a VAT number VIES did not confirm, so the sale was booked with VAT)."""
    line = _outcome(result)
    if result.notices:
        line += "".join(f" Warning: {notice}." for notice in result.notices)
    return line


def _outcome(result: SyncResult) -> str:
    document = f"{result.document_kind} {result.document_number}"
    if result.status == "synced":
        if result.action == "reverse_document" and result.document_kind != "credit":
            return f"Fortnox {document} cancelled."
        if result.action == "register_payment":
            return f"Fortnox payment {result.document_number} registered on the invoice."
        total = f": total {result.fortnox_total} {result.currency}" if result.fortnox_total else ""
        expected = f" (Shopify {result.expected_total})" if result.expected_total else ""
        return f"Fortnox {document} {DONE.get(result.action, 'created')}{total}{expected}."
    if result.status == "summarized":
        return (
            f"Booked in the daily summary {result.document_key} with the day's other orders;"
            " the summary document is made in Fortnox when the day closes."
        )
    if result.status == "already_synced":
        return f"Already in Fortnox as {document}; nothing done again."
    if result.status == "skipped":
        return f"Not synced: {result.explanation or result.error_message}."
    if result.status == "parked":
        return f"Waiting: {result.explanation or 'the Fortnox connection needs reconnecting'}."
    return f"Sync failed: {result.explanation or result.error_message} (code {result.error_code})."


# The metafield holds one status, so its size is bounded whatever an error message brings
# (Shopify limits a json metafield to 128 KB from API 2026-04; this keeps it far below).
MAX_STATUS_MESSAGE = 2000


def status_message(result: SyncResult) -> str:
    """``describe(result)``, cut to :data:`MAX_STATUS_MESSAGE` characters for the metafield."""
    text = describe(result)
    if len(text) <= MAX_STATUS_MESSAGE:
        return text
    return text[: MAX_STATUS_MESSAGE - 1] + "…"


class ResultHandler:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._admin = ShopifyAdmin(
            runtime.http, runtime.settings.shopify_admin_url, runtime.settings.shopify_api_version
        )
        self._shops = ShopRegistry(
            runtime.pool, TokenCipher(runtime.settings.token_encryption_keys.get_secret_value())
        )

    async def __call__(self, delivery: Delivery) -> None:
        redaction = redaction_of(delivery)
        if redaction is not None:
            await privacy.redact(self._runtime.pool, redaction)
            return
        result = delivery.parse(SyncResult)
        if summaries.summary_made(result):
            recorded = await summaries.record(self._runtime, delivery, result)
            await self._mirror_summary(result, recorded.numbered)
            return
        if result.source.type not in ("order", "refund"):
            return  # catalog results (articles, customers) have no order timeline
        status = status_of(result)
        order_id = result.source.timeline_order_id
        async with self._runtime.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                INSERT INTO timeline.events (message_id, shop, order_id, kind, status, message,
                    document_kind, document_number, fortnox_total, expected_total, currency,
                    error_code, trace_id, occurred_at)
                VALUES ($1, $2, $3, 'sync', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                ON CONFLICT (message_id) DO NOTHING
                """,
                delivery.message_id,
                result.shop,
                order_id,
                result.status,
                describe(result),
                result.document_kind,
                result.document_number,
                result.fortnox_total,
                result.expected_total,
                result.currency,
                result.error_code,
                result.trace_id,
                result.occurred_at,
            )
            if result.action not in DOCUMENT_ACTIONS:
                return  # a credit or payment: an event on the timeline, the status stays
            # A later result wins; an older one arriving late never overwrites it. A success
            # is never replaced by a failure of a duplicate attempt.
            current = await conn.fetchrow(
                """
                INSERT INTO timeline.order_status AS s
                    (shop, order_id, order_name, status, document_number, occurred_at)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (shop, order_id) DO UPDATE SET
                    status = EXCLUDED.status, document_number = EXCLUDED.document_number,
                    occurred_at = EXCLUDED.occurred_at, order_name = EXCLUDED.order_name,
                    mirrored_at = NULL
                WHERE s.occurred_at <= EXCLUDED.occurred_at
                  AND NOT (s.status = 'synced' AND EXCLUDED.status <> 'synced')
                RETURNING *
                """,
                result.shop,
                order_id,
                result.source.name,
                status,
                result.document_number,
                result.occurred_at,
            )
        if current is None:
            log.info("stale or superseded result; status unchanged", order_id=order_id)
            return
        if status == "synced":
            latency.observe(latency.FORTNOX_DOCUMENT, at=result.occurred_at)
        await self._mirror(result, status)

    async def _mirror(self, result: SyncResult, status: str) -> None:
        pool = self._runtime.pool
        token = await self._shops.access_token(result.shop)
        order_id = result.source.timeline_order_id
        if token is None:
            await self._note(result, "not mirrored: the shop has no Shopify access (not installed)")
            log.warning("status not mirrored: no Shopify token", shop=result.shop)
            return
        value: SyncStatus = {
            "status": status,
            "document_kind": result.document_kind,
            "document_number": result.document_number,
            "fortnox_total": result.fortnox_total,
            "order_total": result.expected_total,
            "currency": result.currency,
            "error_code": result.error_code,
            "message": status_message(result),
            "notices": result.notices,
            "updated_at": result.occurred_at.isoformat(),
            "trace_id": result.trace_id,
        }
        earlier = await pool.fetch(
            "SELECT DISTINCT status FROM timeline.events"
            " WHERE shop = $1 AND order_id = $2 AND kind = 'sync'",
            result.shop,
            order_id,
        )
        remove = stale_tags(status, (STATUS_OF.get(row["status"], "") for row in earlier))
        await mirror_status(self._admin, result.shop, token, order_id, value, remove_tags=remove)
        await pool.execute(
            "UPDATE timeline.order_status SET mirrored_at = now(), mirror_note = NULL"
            " WHERE shop = $1 AND order_id = $2",
            result.shop,
            order_id,
        )
        if status == "synced":
            latency.observe(latency.SHOPIFY_STATUS)

    async def _mirror_summary(self, result: SyncResult, order_ids: list[str]) -> None:
        """The summary's number on the Shopify status of each order it holds. Shopify
        unreachable raises (the result is redelivered and every order written again, the same
        value); an order Shopify refuses gets a mirror note and the others are written."""
        if not order_ids:
            return
        pool = self._runtime.pool
        token = await self._shops.access_token(result.shop)
        if token is None:
            await pool.execute(
                "UPDATE timeline.order_status SET mirror_note = $3"
                " WHERE shop = $1 AND order_id = ANY($2::text[])",
                result.shop,
                order_ids,
                "not mirrored: the shop has no Shopify access (not installed)",
            )
            log.warning("summary numbers not mirrored: no Shopify token", shop=result.shop)
            return
        values = await summaries.status_values(pool, result, order_ids)
        refused = await mirror_statuses(self._admin, result.shop, token, values)
        await pool.execute(
            "UPDATE timeline.order_status SET mirrored_at = now(), mirror_note = NULL"
            " WHERE shop = $1 AND order_id = ANY($2::text[])",
            result.shop,
            [order_id for order_id in order_ids if order_id not in refused],
        )
        for order_id, reason in refused.items():
            await pool.execute(
                "UPDATE timeline.order_status SET mirror_note = $3"
                " WHERE shop = $1 AND order_id = $2",
                result.shop,
                order_id,
                f"not mirrored: Shopify refused the status ({reason})"[:1000],
            )
        log.info(
            "summary number mirrored",
            shop=result.shop,
            summary=result.document_key,
            orders=len(order_ids) - len(refused),
            refused=len(refused),
        )

    async def _note(self, result: SyncResult, note: str) -> None:
        await self._runtime.pool.execute(
            "UPDATE timeline.order_status SET mirror_note = $3 WHERE shop = $1 AND order_id = $2",
            result.shop,
            result.source.timeline_order_id,
            note,
        )
