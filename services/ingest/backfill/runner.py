"""The backfill runner: pages a shop's past orders from Shopify and stores each as events.

Each order goes the way reconciliation recovers a missed one (reconcile/recover.py): the whole
order read from Shopify and stored as ``orders/create`` (then ``orders/paid``,
``orders/cancelled`` and each refund), with the source ``backfill`` and the job's id as the
batch id. The mapper marks the commands it makes of them ``origin: backfill``; the writer runs
those behind live work at the tenant's own rate-limit slots (admission.py's ``Background``),
looks for each document by its reference before creating it (a past order already in Fortnox
is matched, not duplicated), and billing does not charge them. An order Fortbridge already has
every event of is ``known``: nothing is sent again.

A dry run pages the same orders and writes nothing: an order Fortbridge has is ``known``; the
others are ``checking`` while the writer looks them up in Fortnox by their reference (one
``find_documents`` command per page, ``origin: backfill``: behind live work, within the tenant's
rate limit; operations/find.py; among invoices, and Fortnox orders too when the shop's settings
or enabled rules make orders: :func:`lookup_kinds`), then ``would_match`` (Fortnox already has
its document) or ``would_create`` (jobs.record_lookup, from the writer's result). One replica
runs a job at a time (a session advisory lock per job); the cursor is saved after each page,
so a job whose replica stopped resumes where it was when any ingest replica starts (its events
have deterministic webhook ids: nothing is stored twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime
from typing import Any, Literal

from libs.common.logs import get_logger
from libs.common.messages import FortnoxCommand, SourceRef
from libs.common.service import Runtime
from libs.common.shopify_admin import ShopifyAdmin
from libs.common.shopify_scopes import ALL_ORDERS_DAYS, granted_scopes, lacking
from services.ingest import lifecycle
from services.ingest.backfill import jobs
from services.ingest.order_fetch import OrderTooLarge, ShopifyRefused, ShopifyUnavailable
from services.ingest.reconcile.listing import (
    PAGE_SIZE,
    OrderMark,
    OrderPage,
    created_page,
    orders_by_ids,
)
from services.ingest.reconcile.recover import recover_order
from services.ingest.reconcile.stored import stored_orders
from services.mapper.accounting.commands import external_reference
from services.mapper.rules.store import current_rule_set
from services.mapper.store import load_shop_settings

log = get_logger(__name__)
SOURCE = "backfill"
# Shopify unavailable or throttling: waited out this many times (doubling) before the job fails.
ATTEMPTS = 6
IDS_PER_CALL = 100


class BackfillRunner:
    def __init__(self, runtime: Runtime, *, page_size: int = PAGE_SIZE) -> None:
        self._runtime = runtime
        settings = runtime.settings
        self._admin = ShopifyAdmin(
            runtime.http, settings.shopify_admin_url, settings.shopify_api_version
        )
        self._registry = lifecycle.registry_of(runtime)
        self._page_size = page_size
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, job_id: str) -> None:
        task = asyncio.create_task(self._run(job_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def resume(self) -> None:
        for job_id in await jobs.resumable(self._runtime.pool):
            self.start(job_id)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, job_id: str) -> None:
        pool = self._runtime.pool
        async with pool.acquire() as lock:
            key = f"backfill-job:{job_id}"
            if not await lock.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
                return  # another replica runs it
            try:
                await self._page_all(job_id)
            except asyncio.CancelledError:
                raise
            except ShopifyRefused as exc:
                await jobs.fail(pool, job_id, f"Shopify refused the shop's access: {exc}")
            except ShopifyUnavailable as exc:
                await jobs.fail(pool, job_id, f"Shopify could not be read: {exc}")
            except Exception as exc:
                log.exception("backfill crashed", job_id=job_id)
                await jobs.fail(pool, job_id, f"unexpected error: {exc}")
            finally:
                await lock.execute("SELECT pg_advisory_unlock(hashtext($1))", key)

    async def _page_all(self, job_id: str) -> None:
        pool = self._runtime.pool
        row = await jobs.job(pool, job_id)
        if row is None or row["status"] != "running" or row["paged_all"]:
            return
        shop = row["shop"]
        token = await self._registry.access_token(shop)
        if token is None:
            await jobs.fail(pool, job_id, "the shop has no Shopify access: install the app again")
            return
        filters: dict[str, Any] = json.loads(row["filter"])
        cursor: str | None = row["cursor"]
        while True:
            page = await self._page(shop, token, filters, cursor)
            orders = await self._handle(job_id, shop, token, page.orders, row["dry_run"])
            if row["dry_run"]:
                await self._look_up(shop, job_id, cursor, orders)
            unlisted = await self._unlisted(shop, page.unlisted)
            orders.update({order_id: "not_found" for order_id in unlisted})
            cursor = page.cursor
            await jobs.record_orders(
                pool, job_id, orders, cursor, paged_all=not page.more, errors=unlisted
            )
            if not page.more:
                log.info("backfill paged", job_id=job_id, shop=shop, dry_run=row["dry_run"])
                return

    async def _page(
        self, shop: str, token: str, filters: dict[str, Any], cursor: str | None
    ) -> OrderPage:
        for attempt in range(ATTEMPTS):
            try:
                if filters.get("ids"):
                    # The cursor is how many of the ids are done.
                    ids: list[str] = filters["ids"]
                    start = int(cursor or 0)
                    chunk = ids[start : start + IDS_PER_CALL]
                    marks = await orders_by_ids(self._admin, shop, token, chunk)
                    end = start + len(chunk)
                    listed = {mark.order_id for mark in marks}
                    unlisted = tuple(i for i in chunk if i not in listed)
                    return OrderPage(marks, str(end), end < len(ids), unlisted)
                return await created_page(
                    self._admin,
                    shop,
                    token,
                    datetime.fromisoformat(filters["from"]),
                    datetime.fromisoformat(filters["to"]),
                    cursor,
                    self._page_size,
                )
            except ShopifyUnavailable:
                if attempt == ATTEMPTS - 1:
                    raise
                await asyncio.sleep(2**attempt)
        raise AssertionError("unreachable")

    async def _unlisted(self, shop: str, order_ids: tuple[str, ...]) -> dict[str, str]:
        """Why each asked-for id Shopify did not list is not imported (never a silent skip):
        Shopify has no such order the app may read, and without read_all_orders it shows
        only the last 60 days' orders."""
        if not order_ids:
            return {}
        why = (
            "Shopify lists no order with this id that the app may read (deleted, of another"
            " shop, or mistyped)."
        )
        if lacking("all_orders", await granted_scopes(self._runtime.pool, shop)):
            why += (
                f" Without the read_all_orders permission Shopify shows only the last"
                f" {ALL_ORDERS_DAYS} days' orders: if the order is older, grant it (the"
                " installation's re-authorisation link) and run the backfill again."
            )
        log.warning("backfill: ids Shopify did not list", shop=shop, order_ids=list(order_ids))
        return {order_id: why for order_id in order_ids}

    async def _handle(
        self, job_id: str, shop: str, token: str, marks: list[OrderMark], dry_run: bool
    ) -> dict[str, str]:
        """``{order id: status}`` for a page; in a run, the new orders' events are stored."""
        ids = [m.order_id for m in marks]
        known = await stored_orders(self._runtime.pool, shop, ids)
        ours = set() if dry_run else await self._stored_by(shop, job_id, ids)
        statuses: dict[str, str] = {}
        for mark in marks:
            seen = known.get(mark.order_id)
            fresh = seen is None or seen.updated_at is None
            if dry_run:
                statuses[mark.order_id] = "checking" if fresh else "known"
                continue
            try:
                recovery = await self._recover(shop, token, mark, seen, job_id)
            except OrderTooLarge as exc:
                statuses[mark.order_id] = "skipped"
                log.warning("backfill: order too large", order_id=mark.order_id, error=str(exc))
                continue
            # Also what this backfill stored before its replica stopped: still ours to wait for
            # (the rest of the order's events were stored just now, if any were missing).
            created = "orders/create" in recovery.topics or mark.order_id in ours
            statuses[mark.order_id] = "pending" if created else "known"
        return statuses

    async def _look_up(
        self, shop: str, job_id: str, cursor: str | None, statuses: dict[str, str]
    ) -> None:
        """Ask the writer which of a dry run's new orders Fortnox already has. Published before
        the page is recorded (its result is upserted over ``checking``), with a key of the page:
        a page read again after a restart asks again, harmlessly (nothing is written)."""
        references = [external_reference(o) for o, state in statuses.items() if state == "checking"]
        if not references:
            return
        key = f"{shop}:backfill:{job_id}:find:{cursor or 'first'}"
        async with self._runtime.pool.acquire() as conn:
            kinds = await lookup_kinds(conn, shop)
        command = FortnoxCommand(
            shop=shop,
            command_id=key,
            action="find_documents",
            document_key=key,
            source=SourceRef(type="backfill", id=job_id, name="backfill dry run"),
            references=references,
            find_kinds=kinds,
            batch_id=job_id,
            origin="backfill",
        )
        await self._runtime.publisher.publish(
            command, "fortnox.command.find_documents", message_id=command.command_id
        )

    async def _stored_by(self, shop: str, job_id: str, order_ids: list[str]) -> set[str]:
        rows = await self._runtime.pool.fetch(
            "SELECT DISTINCT order_id FROM ingest.webhook_events"
            " WHERE shop = $1 AND batch_id = $2::uuid AND order_id = ANY($3::text[])"
            " AND topic = 'orders/create'",
            shop,
            job_id,
            order_ids,
        )
        return {row["order_id"] for row in rows}

    async def _recover(self, shop: str, token: str, mark: OrderMark, seen: Any, job_id: str) -> Any:
        for attempt in range(ATTEMPTS):
            try:
                return await recover_order(
                    self._runtime,
                    self._admin,
                    shop,
                    token,
                    mark,
                    seen,
                    source=SOURCE,
                    batch_id=job_id,
                )
            except ShopifyUnavailable:
                if attempt == ATTEMPTS - 1:
                    raise
                await asyncio.sleep(2**attempt)
        raise AssertionError("unreachable")


async def lookup_kinds(conn: Any, shop: str) -> list[Literal["invoice", "order"]]:
    """Where a dry run looks an order up in Fortnox: the document kind of the shop's settings
    first, then the other kind when an enabled rule of the shop's current rules sets one (rules
    decide per order and a dry run does not run them; a look-up among both costs a second
    request only for orders the first kind lacks). Read with the mapper's own loaders, read-only
    (a cross-schema read, docs/architecture.md); a shop without either looks among invoices."""
    settings = await load_shop_settings(conn, shop, {})
    rules = await current_rule_set(conn, shop)
    first: Literal["invoice", "order"] = "order" if settings.document_kind == "order" else "invoice"
    other: Literal["invoice", "order"] = "invoice" if first == "order" else "order"
    chosen = {rule.actions.document_kind for rule in rules.rules if rule.enabled}
    return [first, other] if other in chosen else [first]
