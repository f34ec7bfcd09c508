"""The backfill runner: pages a shop's past orders from Shopify and stores each as events.

Each order goes the way reconciliation recovers a missed one (reconcile/recover.py): the whole
order read from Shopify and stored as ``orders/create`` (then ``orders/paid``,
``orders/cancelled`` and each refund), with the source ``backfill`` and the job's id as the
batch id. The mapper marks the commands it makes of them ``origin: backfill``; the writer runs
those behind live work at the tenant's own rate-limit slots (admission.py's ``Background``),
looks for each document by its reference before creating it (a past order already in Fortnox
is matched, not duplicated), and billing does not charge them. An order Fortbridge already has
every event of is ``known``: nothing is sent again.

A dry run pages the same orders and only counts them: ``would_create`` (Fortbridge never saw
the order) or ``known``. One replica runs a job at a time (a session advisory lock per job);
the cursor is saved after each page, so a job whose replica stopped resumes where it was when
any ingest replica starts (its events have deterministic webhook ids: nothing is stored twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime
from typing import Any

from libs.common.logs import get_logger
from libs.common.service import Runtime
from libs.common.shopify_admin import ShopifyAdmin
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
            cursor = page.cursor
            await jobs.record_orders(pool, job_id, orders, cursor, paged_all=not page.more)
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
                    return OrderPage(marks, str(end), end < len(ids))
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
                statuses[mark.order_id] = "would_create" if fresh else "known"
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
