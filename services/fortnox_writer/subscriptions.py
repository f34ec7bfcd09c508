"""The shop's Shopify subscription: started, kept in step with Shopify, and what it releases.

- ``start``: ``appSubscriptionCreate`` with one usage line item (terms "$0.15 per sync", the
  capped amount the merchant approves), test charges for development stores; the account row
  keeps its id, line item and confirmation URL. Only one replica creates at a time
  (``creating_until``); the waiting work's status names the URL.
- ``apply``: the ``app_subscriptions/update`` and ``.../approaching_capped_amount`` webhooks
  (ingest forwards them to the writer's queue). ACTIVE (approved, unfrozen, a raised cap)
  releases the shop's work waiting on billing, oldest first; any other status tells that
  waiting work's orders why they wait.
- ``refresh``: the active subscription read back from Shopify (its line item, cap and balance
  used; a new 30-day cycle starts from zero), while work waits on a reached cap.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import asyncpg

from libs.common.errors import PermanentError, TransientError
from libs.common.logs import get_logger
from libs.common.messages import FortnoxCommand, ShopifyEvent
from libs.common.messaging import Delivery
from libs.common.settings import Settings
from libs.common.shopify_admin import ShopifyAdmin
from libs.common.shops import ShopRegistry
from services.fortnox_writer.billing_ledger import Account, BillingLedger, terms

log = get_logger(__name__)

TOPICS = ("app_subscriptions/update", "app_subscriptions/approaching_capped_amount")
CYCLE = timedelta(days=30)

CREATE = """
mutation FortbridgeSubscribe($name: String!, $returnUrl: URL!, $test: Boolean,
                             $lineItems: [AppSubscriptionLineItemInput!]!) {
  appSubscriptionCreate(name: $name, returnUrl: $returnUrl, test: $test, lineItems: $lineItems) {
    confirmationUrl
    appSubscription { id status lineItems { id } }
    userErrors { field message }
  }
}
"""
ACTIVE = """
query FortbridgeSubscription {
  currentAppInstallation { activeSubscriptions { id status currentPeriodEnd
    lineItems { id plan { pricingDetails { __typename
      ... on AppUsagePricing { cappedAmount { amount currencyCode } balanceUsed { amount } } } } }
  } }
}
"""


def subscription_event_of(delivery: Delivery) -> ShopifyEvent | None:
    """The app_subscriptions webhook a delivery carries (fresh, not a failed job), or None."""
    if delivery.schema != ShopifyEvent.schema_name():
        return None
    if "x-death" in delivery.headers or "x-fortbridge-error-class" in delivery.headers:
        return None
    event = delivery.parse(ShopifyEvent)
    return event if event.topic in TOPICS else None


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


# The code of the error a shop without Shopify access gives (409 at the endpoints).
NOT_INSTALLED = "not_installed"


class Subscriptions:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        ledger: BillingLedger,
        admin: ShopifyAdmin,
        shops: ShopRegistry,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._ledger = ledger
        self._admin = admin
        self._shops = shops

    async def _token(self, shop: str) -> str:
        token = await self._shops.access_token(shop)
        if token is None:
            raise PermanentError(
                "the shop has no Shopify access token (not installed)", code=NOT_INSTALLED
            )
        return token

    async def graphql(self, shop: str, operation: str, query: str, **variables: Any) -> Any:
        token = await self._token(shop)
        async with asyncio.timeout(self._settings.billing_call_timeout_seconds):
            return await self._admin.graphql(shop, token, operation, query, variables)

    async def start(self, shop: str, *, return_url: str | None = None) -> Account:
        """A new pending subscription (unless one is pending or active already)."""
        account = await self._ledger.account(shop)
        if account.status in ("PENDING", "ACTIVE", "FROZEN"):
            return account
        claimed = await self._pool.fetchval(
            """
            INSERT INTO fortnox_writer.billing_accounts (shop, creating_until)
            VALUES ($1, clock_timestamp() + interval '30 seconds')
            ON CONFLICT (shop) DO UPDATE SET creating_until = EXCLUDED.creating_until
            WHERE billing_accounts.creating_until IS NULL
               OR billing_accounts.creating_until < clock_timestamp()
            RETURNING true
            """,
            shop,
        )
        if not claimed:
            return await self._ledger.account(shop)
        settings = self._settings
        try:
            data = await self.graphql(
                shop,
                "FortbridgeSubscribe",
                CREATE,
                name="Fortbridge usage",
                returnUrl=return_url or f"{settings.shopify_app_url.rstrip('/')}/app/billing",
                test=settings.billing_test_charges,
                lineItems=[
                    {
                        "plan": {
                            "appUsagePricingDetails": {
                                "terms": terms(settings),
                                "cappedAmount": {
                                    "amount": str(settings.billing_capped_amount),
                                    "currencyCode": settings.billing_currency,
                                },
                            }
                        }
                    }
                ],
            )
            created = data["appSubscriptionCreate"]
            if created["userErrors"]:
                raise PermanentError(
                    f"Shopify refused the subscription: {created['userErrors']}",
                    code="subscription_refused",
                )
            sub = created["appSubscription"]
            await self._pool.execute(
                """
                UPDATE fortnox_writer.billing_accounts
                SET subscription_id = $2, line_item_id = $3, status = $4, confirmation_url = $5,
                    capped_amount = $6, currency = $7, balance_used = 0, cycle_started_at = NULL,
                    approaching_cap_at = NULL, creating_until = NULL, updated_at = now()
                WHERE shop = $1
                """,
                shop,
                sub["id"],
                sub["lineItems"][0]["id"],
                sub["status"],
                created["confirmationUrl"],
                settings.billing_capped_amount,
                settings.billing_currency,
            )
        finally:
            await self._pool.execute(
                "UPDATE fortnox_writer.billing_accounts SET creating_until = NULL WHERE shop = $1",
                shop,
            )
        log.info("usage subscription started", shop=shop)
        return await self._ledger.account(shop)

    async def apply(self, event: ShopifyEvent) -> list[FortnoxCommand]:
        """Apply a subscription webhook. Returns the commands still waiting on billing whose
        orders should be told why (a status that does not let them run)."""
        body = event.payload.get("app_subscription")
        if not isinstance(body, dict):
            return []
        shop, sub_id = event.shop, str(body.get("admin_graphql_api_id") or "")
        account = await self._ledger.account(shop)
        if event.topic == "app_subscriptions/approaching_capped_amount":
            await self._pool.execute(
                """
                UPDATE fortnox_writer.billing_accounts
                SET approaching_cap_at = clock_timestamp(),
                    balance_used = greatest(balance_used, coalesce($2, balance_used)),
                    capped_amount = coalesce($3, capped_amount), updated_at = now()
                WHERE shop = $1 AND subscription_id = $4
                """,
                shop,
                _decimal(body.get("balance_used")),
                _decimal(body.get("capped_amount")),
                sub_id,
            )
            log.warning("usage charges approaching the capped amount", shop=shop)
            return []
        status = str(body.get("status") or "").upper()
        if sub_id != account.subscription_id:
            if status != "ACTIVE":
                return []  # an older subscription's news: the current one decides
            await self.refresh(shop)  # the merchant approved another one: adopt it
        else:
            cap = _decimal(body.get("capped_amount"))
            raised = (
                cap is not None
                and account.capped_amount is not None
                and (cap > account.capped_amount)
            )
            await self._pool.execute(
                """
                UPDATE fortnox_writer.billing_accounts
                SET status = $2, capped_amount = coalesce($3, capped_amount),
                    cycle_started_at = CASE WHEN $2 = 'ACTIVE'
                        THEN coalesce(cycle_started_at, clock_timestamp())
                        ELSE cycle_started_at END,
                    approaching_cap_at = CASE WHEN $4 THEN NULL ELSE approaching_cap_at END,
                    updated_at = now()
                WHERE shop = $1
                """,
                shop,
                status,
                cap,
                raised,
            )
        if status == "ACTIVE":
            released = await self._ledger.release_waiting(shop)
            log.info("usage charges active; waiting work released", shop=shop, released=released)
            return []
        return [FortnoxCommand.model_validate_json(bytes(row["body"])) for row in
                await self._ledger.waiting_rows(shop)]  # fmt: skip

    async def refresh(self, shop: str) -> Account:
        """Read the active subscription from Shopify: line item, cap, balance, cycle."""
        try:
            data = await self.graphql(shop, "FortbridgeSubscription", ACTIVE)
        except (TransientError, PermanentError, TimeoutError) as exc:
            log.warning("could not read the subscription", shop=shop, error=str(exc))
            return await self._ledger.account(shop)
        subs = (data.get("currentAppInstallation") or {}).get("activeSubscriptions") or []
        for sub in subs:
            for item in sub.get("lineItems") or []:
                details = (item.get("plan") or {}).get("pricingDetails") or {}
                if details.get("__typename") != "AppUsagePricing":
                    continue
                cap = details["cappedAmount"]
                end = sub.get("currentPeriodEnd")
                started = (
                    datetime.fromisoformat(end.replace("Z", "+00:00")) - CYCLE
                    if isinstance(end, str)
                    else datetime.now(UTC)
                )
                await self._pool.execute(
                    """
                    INSERT INTO fortnox_writer.billing_accounts (shop) VALUES ($1)
                    ON CONFLICT (shop) DO NOTHING
                    """,
                    shop,
                )
                await self._pool.execute(
                    """
                    UPDATE fortnox_writer.billing_accounts
                    SET subscription_id = $2, line_item_id = $3, status = 'ACTIVE',
                        capped_amount = $4, currency = $5, balance_used = $6,
                        cycle_started_at = $7, refreshed_at = clock_timestamp(),
                        updated_at = now()
                    WHERE shop = $1
                    """,
                    shop,
                    sub["id"],
                    item["id"],
                    _decimal(cap["amount"]),
                    cap["currencyCode"],
                    _decimal(details["balanceUsed"]["amount"]) or Decimal(0),
                    started,
                )
                return await self._ledger.account(shop)
        await self._pool.execute(
            "UPDATE fortnox_writer.billing_accounts SET refreshed_at = clock_timestamp()"
            " WHERE shop = $1",
            shop,
        )
        return await self._ledger.account(shop)
