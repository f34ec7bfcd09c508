"""The usage-record relay: each usage charge becomes exactly one Shopify usage record.

A charged usage sync is a ``billing_charges`` row with ``usage_status = 'pending'`` (an
outbox, written when the document was recorded). Every replica runs this loop: it claims due
rows (``FOR UPDATE SKIP LOCKED`` and a claim expiry), calls ``appUsageRecordCreate`` with the
row's idempotency key (derived from the document), and marks the row ``recorded`` with
Shopify's record id. A call that fails, is refused or times out (Shopify may have stored it
all the same) is tried again with backoff, for ever: the same key makes Shopify answer with the
record it already made instead of charging twice. The Fortnox document is never touched.

The loop also reads the subscription back from Shopify while a shop's work waits on a reached
cap (a new 30-day cycle or a raised cap frees room) and keeps the billing gauges.
"""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from typing import Any

import asyncpg

from libs.common.errors import HandlerError
from libs.common.logs import get_logger
from libs.common.metrics import (
    BILLING_USAGE_RECORD_FAILURES,
    BILLING_USAGE_RECORDS,
    BILLING_USAGE_RECORDS_PENDING,
    BILLING_WAITING,
)
from libs.common.settings import Settings
from services.fortnox_writer.billing_ledger import BillingLedger
from services.fortnox_writer.deferred import backoff
from services.fortnox_writer.subscriptions import Subscriptions

log = get_logger(__name__)

CLAIM_SECONDS = 60.0
BATCH = 20
RECORD = """
mutation FortbridgeUsage($lineItem: ID!, $price: MoneyInput!, $description: String!,
                         $key: String) {
  appUsageRecordCreate(subscriptionLineItemId: $lineItem, price: $price,
                       description: $description, idempotencyKey: $key) {
    appUsageRecord { id subscriptionLineItem { id plan { pricingDetails {
      ... on AppUsagePricing { balanceUsed { amount } cappedAmount { amount } } } } } }
    userErrors { field message }
  }
}
"""


class UsageRecords:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        ledger: BillingLedger,
        subscriptions: Subscriptions,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._ledger = ledger
        self._subscriptions = subscriptions
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        interval = self._settings.billing_relay_interval_seconds
        while True:
            try:
                await self.relay_once()
                await self.refresh_capped()
                await self._gauges()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("usage record relay turn failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)

    async def relay_once(self) -> int:
        """Send every due pending usage record once; returns how many were recorded."""
        rows = await self._pool.fetch(
            """
            UPDATE fortnox_writer.billing_charges
            SET claimed_until = clock_timestamp() + make_interval(secs => $1)
            WHERE id IN (
                SELECT id FROM fortnox_writer.billing_charges
                WHERE usage_status = 'pending' AND next_attempt_at <= clock_timestamp()
                  AND (claimed_until IS NULL OR claimed_until < clock_timestamp())
                ORDER BY id LIMIT $2
                FOR UPDATE SKIP LOCKED
            )
            RETURNING *
            """,
            CLAIM_SECONDS,
            BATCH,
        )
        recorded = 0
        for row in sorted(rows, key=lambda r: r["id"]):
            recorded += await self._send(row)
        return recorded

    async def _send(self, row: asyncpg.Record) -> int:
        try:
            data = await self._subscriptions.graphql(
                row["shop"],
                "FortbridgeUsage",
                RECORD,
                lineItem=row["line_item_id"],
                price={"amount": str(row["price"]), "currencyCode": row["currency"]},
                description=f"Fortnox document for Shopify order {row['order_id']}",
                key=row["idempotency_key"],
            )
            answer: dict[str, Any] = data["appUsageRecordCreate"]
        except TimeoutError:
            await self._failed(row, "timeout", "the usage record call timed out")
            return 0
        except HandlerError as exc:
            await self._failed(row, "error", exc.message)
            return 0
        if answer.get("userErrors"):
            message = "; ".join(str(e.get("message")) for e in answer["userErrors"])
            reason = "capped" if "exceeds balance" in message else "refused"
            await self._failed(row, reason, f"Shopify refused the usage record: {message}")
            return 0
        record = answer["appUsageRecord"]
        details = record["subscriptionLineItem"]["plan"]["pricingDetails"] or {}
        balance = (details.get("balanceUsed") or {}).get("amount")
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                UPDATE fortnox_writer.billing_charges
                SET usage_status = 'recorded', usage_record_id = $2,
                    recorded_at = clock_timestamp(), claimed_until = NULL, last_error = NULL
                WHERE id = $1
                """,
                row["id"],
                record["id"],
            )
            if balance is not None:
                await conn.execute(
                    "UPDATE fortnox_writer.billing_accounts SET balance_used = $2,"
                    " updated_at = now() WHERE shop = $1 AND line_item_id = $3",
                    row["shop"],
                    Decimal(str(balance)),
                    row["line_item_id"],
                )
        BILLING_USAGE_RECORDS.labels(outcome="recorded").inc()
        log.info("usage record made", shop=row["shop"], order_id=row["order_id"])
        return 1

    async def _failed(self, row: asyncpg.Record, reason: str, message: str) -> None:
        BILLING_USAGE_RECORD_FAILURES.labels(reason=reason).inc()
        attempts = row["attempts"] + 1
        wait = backoff(attempts, 1.0, self._settings.billing_retry_max_seconds)
        await self._pool.execute(
            """
            UPDATE fortnox_writer.billing_charges
            SET attempts = $2, last_error = $3, claimed_until = NULL,
                next_attempt_at = clock_timestamp() + make_interval(secs => $4)
            WHERE id = $1
            """,
            row["id"],
            attempts,
            message,
            wait,
        )
        log.warning(
            "usage record not made; retried",
            shop=row["shop"],
            order_id=row["order_id"],
            attempts=attempts,
            error=message,
        )

    async def refresh_capped(self) -> None:
        """Shops whose work waits with an ACTIVE subscription (the cap): read it again now and
        then, and release the work when there is room."""
        shops = await self._pool.fetch(
            """
            SELECT a.shop FROM fortnox_writer.billing_accounts a
            WHERE a.status = 'ACTIVE'
              AND (a.refreshed_at IS NULL
                   OR a.refreshed_at < clock_timestamp() - make_interval(secs => $1))
              AND EXISTS (SELECT 1 FROM fortnox_writer.deferred_commands d
                          WHERE d.shop = a.shop AND d.reason = 'billing')
            """,
            self._settings.billing_refresh_seconds,
        )
        for row in shops:
            await self._subscriptions.refresh(row["shop"])
            if await self._ledger.can_charge(row["shop"]):
                await self._ledger.release_waiting(row["shop"])

    async def _gauges(self) -> None:
        row = await self._pool.fetchrow(
            """
            SELECT (SELECT count(*) FROM fortnox_writer.deferred_commands
                    WHERE reason = 'billing') AS waiting,
                   (SELECT count(*) FROM fortnox_writer.billing_charges
                    WHERE usage_status = 'pending') AS pending
            """
        )
        BILLING_WAITING.set(row["waiting"])
        BILLING_USAGE_RECORDS_PENDING.set(row["pending"])
