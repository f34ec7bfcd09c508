"""The billing ledger (``billing_accounts``, ``billing_charges``): what each shop was charged.

One charge per Shopify order that got a Fortnox invoice or order, ever: the row is unique on
(shop, order id), so a duplicate delivery, a retry, a replay, a second replica or a later
document for the same order (a replacement after an edit) finds the charge there and costs
nothing again. A charge is *reserved* (inside one transaction that locks the shop's account
row, so two replicas never both take the last credit or the last cent under the cap) before the
Fortnox call and *charged* once the document is recorded; a create that fails for good releases
its reservation. The first ``BILLING_TRIAL_CREDITS`` charges of a shop are trial credits; after
them a charge needs an ACTIVE subscription with room under its capped amount, and becomes a
Shopify usage record: the row is its outbox (``usage_status = 'pending'``) until Shopify
answered with the record (usage_records.py), under an idempotency key derived from the document.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from libs.common.errors import TransientError
from libs.common.messages import FortnoxCommand
from libs.common.metrics import BILLING_CHARGES
from libs.common.settings import Settings

BILLING_REQUIRED = "billing_required"
BILLING = "billing"  # the deferred_commands reason of work waiting on billing
MAX_KEY = 255  # Shopify's idempotencyKey limit


class BillingRequired(TransientError):
    """The shop cannot be charged for a new document now: the command waits (never fails)."""

    def __init__(self, explanation: str, *, state: str) -> None:
        super().__init__(
            f"waiting on billing: {state}",
            code=BILLING_REQUIRED,
            explanation=explanation,
            details={"billing_state": state},
        )


def billable_order(command: FortnoxCommand) -> str | None:
    """The Shopify order a command would charge for, or None: only a new invoice or order
    made for an order counts (refunds, credits, payments, edits, catalog are free)."""
    if command.action != "create_document" or command.source.type != "order":
        return None
    if command.document is None or command.document.kind not in ("invoice", "order"):
        return None
    if command.target_document_key is not None:
        return None
    return command.source.id


def idempotency_key(document_key: str) -> str:
    """The usage record's idempotency key: derived from the document, at most 255 characters."""
    key = f"fortbridge:{document_key}"
    if len(key) <= MAX_KEY:
        return key
    return "fortbridge:sha256:" + hashlib.sha256(document_key.encode()).hexdigest()


@dataclass(frozen=True)
class Account:
    shop: str
    status: str
    subscription_id: str | None
    line_item_id: str | None
    confirmation_url: str | None
    capped_amount: Decimal | None
    currency: str | None
    balance_used: Decimal
    cycle_started_at: datetime | None
    approaching_cap_at: datetime | None

    @classmethod
    def of(cls, row: asyncpg.Record | None, shop: str) -> Account:
        if row is None:
            return cls(shop, "none", None, None, None, None, None, Decimal(0), None, None)
        return cls(
            shop,
            row["status"],
            row["subscription_id"],
            row["line_item_id"],
            row["confirmation_url"],
            row["capped_amount"],
            row["currency"],
            row["balance_used"],
            row["cycle_started_at"],
            row["approaching_cap_at"],
        )


@dataclass(frozen=True)
class Blocked:
    """Why the shop cannot be charged now (``state``: a short word; ``explanation``: English)."""

    state: str
    explanation: str
    account: Account


class BillingLedger:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings

    @property
    def enabled(self) -> bool:
        return self._settings.billing_enabled

    async def account(self, shop: str) -> Account:
        row = await self._pool.fetchrow(
            "SELECT * FROM fortnox_writer.billing_accounts WHERE shop = $1", shop
        )
        return Account.of(row, shop)

    async def reserve(self, command: FortnoxCommand) -> Blocked | None:
        """A charge for the command's order exists (reserved or charged) afterwards, or the
        reason it cannot be made. Free (None, nothing new) when the order was charged before."""
        order_id = billable_order(command)
        if order_id is None or not self.enabled:
            return None
        settings, shop = self._settings, command.shop
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO fortnox_writer.billing_accounts (shop) VALUES ($1)"
                " ON CONFLICT (shop) DO NOTHING",
                shop,
            )
            row = await conn.fetchrow(
                "SELECT * FROM fortnox_writer.billing_accounts WHERE shop = $1 FOR UPDATE", shop
            )
            account = Account.of(row, shop)
            known = await conn.fetchval(
                "SELECT 1 FROM fortnox_writer.billing_charges WHERE shop = $1 AND order_id = $2",
                shop,
                order_id,
            )
            if known:
                return None
            trial_used = await conn.fetchval(
                "SELECT count(*) FROM fortnox_writer.billing_charges"
                " WHERE shop = $1 AND kind = 'trial'",
                shop,
            )
            key = idempotency_key(command.document_key)
            if trial_used < settings.billing_trial_credits:
                await self._insert(conn, command, order_id, "trial", Decimal(0), None, key)
                return None
            blocked = await self._blocked(conn, account)
            if blocked is not None:
                return blocked
            await self._insert(
                conn, command, order_id, "usage", settings.billing_price, account.line_item_id, key
            )
            return None

    async def can_charge(self, shop: str) -> bool:
        """Could one more usage charge be made now (an active subscription with room)?"""
        account = await self.account(shop)
        async with self._pool.acquire() as conn:
            return await self._blocked(conn, account) is None

    async def blocked(self, shop: str) -> Blocked | None:
        """Why a new order of the shop cannot be charged now (None: it can)."""
        used = await self._pool.fetchval(
            "SELECT count(*) FROM fortnox_writer.billing_charges"
            " WHERE shop = $1 AND kind = 'trial'",
            shop,
        )
        if not self.enabled or used < self._settings.billing_trial_credits:
            return None
        account = await self.account(shop)
        async with self._pool.acquire() as conn:
            return await self._blocked(conn, account)

    async def _blocked(
        self, conn: asyncpg.Connection, account: Account, *, with_url: bool = True
    ) -> Blocked | None:
        """Why the shop cannot be charged (None: it can). ``with_url``: the explanation names
        the confirmation URL (an order's timeline); without it, it says to approve in Shopify
        (the Billing page, which links the URL itself)."""
        settings = self._settings
        free = free_syncs_used(settings.billing_trial_credits)
        price = f"{settings.billing_price} {settings.billing_currency}"
        if account.confirmation_url and with_url:
            approve = f" Approve the charges at {account.confirmation_url}"
        elif account.confirmation_url:
            approve = " Approve the charges in Shopify"
        else:
            approve = " Approve usage charges from the app's Billing page"
        resume = "; the waiting syncs then resume by themselves, in order."
        if account.status == "none":
            return Blocked(
                "subscription_needed",
                f"{free}; further syncs cost {price} each, billed"
                f" through Shopify.{approve}{resume}",
                account,
            )
        if account.status == "PENDING" or (
            account.status == "ACTIVE" and account.line_item_id is None
        ):
            return Blocked(
                "subscription_pending",
                f"{free} and the usage charges ({price} per sync) are"
                f" not approved yet.{approve}{resume}",
                account,
            )
        if account.status != "ACTIVE":
            what = {
                "DECLINED": "were declined",
                "FROZEN": "are frozen by Shopify (the store's Shopify bill is unpaid)",
                "CANCELLED": "were cancelled",
                "EXPIRED": "expired before they were approved",
            }.get(account.status, f"are {account.status.lower()}")
            how = (
                " Pay the store's Shopify bill to unfreeze them"
                if account.status == "FROZEN"
                else " Start the usage charges again from the app's Billing page"
            )
            return Blocked(
                account.status.lower(),
                f"{free} and the usage charges ({price} per sync) {what}.{how}{resume}",
                account,
            )
        committed = await conn.fetchval(
            """
            SELECT coalesce(sum(price), 0) FROM fortnox_writer.billing_charges
            WHERE shop = $1 AND kind = 'usage'
              AND (state = 'reserved' OR usage_status = 'pending')
            """,
            account.shop,
        )
        cap = account.capped_amount or Decimal(0)
        if account.balance_used + committed + settings.billing_price > cap:
            return Blocked(
                "capped",
                f"This cycle's usage charges reached the capped amount of {cap}"
                f" {account.currency or settings.billing_currency} the merchant approved."
                " Raise the cap from the app's Billing page, or wait for Shopify's next 30-day"
                f" cycle{resume}",
                account,
            )
        return None

    async def _insert(
        self,
        conn: asyncpg.Connection,
        command: FortnoxCommand,
        order_id: str,
        kind: str,
        price: Decimal,
        line_item_id: str | None,
        key: str,
    ) -> None:
        await conn.execute(
            """
            INSERT INTO fortnox_writer.billing_charges
                (shop, order_id, document_key, kind, state, price, currency, line_item_id,
                 idempotency_key)
            VALUES ($1, $2, $3, $4, 'reserved', $5, $6, $7, $8)
            ON CONFLICT (shop, order_id) DO NOTHING
            """,
            command.shop,
            order_id,
            command.document_key,
            kind,
            price,
            self._settings.billing_currency,
            line_item_id,
            key,
        )

    async def confirm(self, command: FortnoxCommand) -> str | None:
        """The document of the order is recorded: its reserved charge is charged (a usage
        charge becomes a pending usage record). The charge's kind if this call charged it."""
        order_id = billable_order(command)
        if order_id is None or not self.enabled:
            return None
        kind: str | None = await self._pool.fetchval(
            """
            UPDATE fortnox_writer.billing_charges
            SET state = 'charged', charged_at = clock_timestamp(),
                usage_status = CASE WHEN kind = 'usage' THEN 'pending' END,
                next_attempt_at = clock_timestamp()
            WHERE shop = $1 AND order_id = $2 AND state = 'reserved'
            RETURNING kind
            """,
            command.shop,
            order_id,
        )
        if kind is not None:
            BILLING_CHARGES.labels(kind=kind).inc()
        return kind

    async def release(self, command: FortnoxCommand) -> None:
        """The create failed for good before any document was recorded: no charge."""
        order_id = billable_order(command)
        if order_id is None or not self.enabled:
            return
        await self._pool.execute(
            "DELETE FROM fortnox_writer.billing_charges"
            " WHERE shop = $1 AND order_id = $2 AND state = 'reserved' AND document_key = $3",
            command.shop,
            order_id,
            command.document_key,
        )

    async def waiting(self, document_key: str) -> bool:
        """Is the command that makes this document waiting on billing?"""
        return bool(
            await self._pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM fortnox_writer.deferred_commands"
                " WHERE document_key = $1 AND reason = 'billing')",
                document_key,
            )
        )

    async def release_waiting(self, shop: str) -> int:
        """Billing is possible again: the shop's waiting work is due now, oldest first."""
        status: str = await self._pool.execute(
            """
            UPDATE fortnox_writer.deferred_commands
            SET reason = 'retry', due_at = clock_timestamp(), claimed_by = NULL,
                claimed_until = NULL
            WHERE shop = $1 AND reason = 'billing'
            """,
            shop,
        )
        return int(status.split()[-1])

    async def waiting_rows(self, shop: str) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._pool.fetch(
            "SELECT id, document_key, body, created_at FROM fortnox_writer.deferred_commands"
            " WHERE shop = $1 AND reason = 'billing' ORDER BY id",
            shop,
        )
        return rows

    async def usage(self, shop: str) -> dict[str, Any]:
        """What ``GET /admin/api/billing/usage.json`` answers."""
        settings = self._settings
        account = await self.account(shop)
        row = await self._pool.fetchrow(
            """
            SELECT count(*) FILTER (WHERE kind = 'trial') AS trial_used,
                   count(*) FILTER (WHERE kind = 'usage' AND state = 'charged'
                                    AND ($2::timestamptz IS NULL OR charged_at >= $2))
                       AS billed_cycle,
                   count(*) FILTER (WHERE kind = 'usage' AND state = 'charged') AS billed_total,
                   count(*) FILTER (WHERE usage_status = 'pending') AS records_pending,
                   count(*) FILTER (WHERE usage_status = 'recorded') AS records_made,
                   coalesce(sum(price) FILTER (WHERE kind = 'usage'
                        AND (state = 'reserved' OR usage_status = 'pending')), 0) AS committed
            FROM fortnox_writer.billing_charges WHERE shop = $1
            """,
            shop,
            account.cycle_started_at,
        )
        waiting = await self._pool.fetchrow(
            "SELECT count(*) AS n, min(created_at) AS oldest"
            " FROM fortnox_writer.deferred_commands WHERE shop = $1 AND reason = 'billing'",
            shop,
        )
        trial_used = int(row["trial_used"])
        credits = settings.billing_trial_credits
        blocked = None
        if trial_used >= credits and settings.billing_enabled:
            async with self._pool.acquire() as conn:
                blocked = await self._blocked(conn, account, with_url=False)
        used = account.balance_used + row["committed"]
        return {
            "shop": shop,
            "enabled": settings.billing_enabled,
            "plan": {
                "name": "usage",
                "terms": terms(settings),
                "price": str(settings.billing_price),
                "currency": settings.billing_currency,
                "test": settings.billing_test_charges,
            },
            "trial": {
                "credits": credits,
                "used": min(trial_used, credits),
                "left": max(0, credits - trial_used),
            },
            "subscription": {
                "id": account.subscription_id,
                "status": account.status,
                "confirmation_url": account.confirmation_url
                if account.status == "PENDING"
                else None,
                "capped_amount": _money(account.capped_amount),
                "amount_used": _money(used) if account.subscription_id else None,
                "currency": account.currency or settings.billing_currency,
                "cycle_started_at": _time(account.cycle_started_at),
                "approaching_cap_at": _time(account.approaching_cap_at),
            },
            "syncs_billed_this_cycle": int(row["billed_cycle"]),
            "syncs_billed_total": int(row["billed_total"]),
            "usage_records": {
                "recorded": int(row["records_made"]),
                "pending": int(row["records_pending"]),
            },
            "waiting": {
                "count": int(waiting["n"]),
                "oldest_at": _time(waiting["oldest"]),
                "state": None if blocked is None else blocked.state,
                "reason": None if blocked is None else blocked.explanation,
            },
        }


def free_syncs_used(credits: int) -> str:
    """The sentence's start saying the trial credits are used, in the right number."""
    if credits == 0:
        return "There are no free syncs"
    if credits == 1:
        return "The 1 free sync is used"
    return f"The {credits} free syncs are used"


def terms(settings: Settings) -> str:
    symbol = "$" if settings.billing_currency == "USD" else ""
    suffix = "" if symbol else f" {settings.billing_currency}"
    return f"{symbol}{settings.billing_price}{suffix} per sync"


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
