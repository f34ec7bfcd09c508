"""Report jobs (the writer's table): create, stage, finish, read; and the runner that makes them.

One replica runs a report at a time (a session advisory lock per report). A report whose replica
stopped is run again from the start when a writer replica starts (``resume``): reading is
repeatable, and nothing is written anywhere but this table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from libs.common.crypto import TokenCipher
from libs.common.errors import HandlerError
from libs.common.logs import get_logger
from libs.common.service import Runtime
from libs.common.shopify_admin import ShopifyAdmin
from libs.common.shops import ShopRegistry
from services.fortnox_writer.client import IN_PROCESS_READ_ATTEMPTS, FortnoxClient
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.deferred import DeferredStore
from services.fortnox_writer.ratelimit import RateLimiter
from services.fortnox_writer.reconciliation.compare import build_report
from services.fortnox_writer.reconciliation.fortnox_side import (
    LiveFirst,
    period_documents,
    period_vouchers,
    read_voucher,
)
from services.fortnox_writer.reconciliation.payouts import payout_rows
from services.fortnox_writer.reconciliation.shopify_side import (
    ShopifyPayout,
    period_orders,
    period_payouts,
)
from services.fortnox_writer.reconciliation.summaries import DayOf
from services.mapper.accounting.payouts import reference
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.summaries import business_day, day_closes_at
from services.mapper.store import load_shop_settings

log = get_logger(__name__)
MAX_DAYS = 93  # a quarter at most per report


async def create(pool: asyncpg.Pool, shop: str, start: date, end: date) -> str:
    report_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO fortnox_writer.reconciliation_reports (id, shop, period_from, period_to,"
        " status, stage) VALUES ($1, $2, $3, $4, 'running', 'shopify')",
        report_id,
        shop,
        start,
        end,
    )
    return str(report_id)


async def read(pool: asyncpg.Pool, shop: str, report_id: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT * FROM fortnox_writer.reconciliation_reports WHERE id = $1 AND shop = $2",
        uuid.UUID(report_id),
        shop,
    )


def summary(row: asyncpg.Record) -> dict[str, Any]:
    report = json.loads(row["report"]) if row["report"] else None
    return {
        "id": str(row["id"]),
        "status": row["status"],
        "stage": row["stage"],
        "period": {"from": row["period_from"].isoformat(), "to": row["period_to"].isoformat()},
        "error": row["error"],
        "started_at": row["started_at"].isoformat(),
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
        "differences": len(report["differences"]) if report else None,
    }


async def _stage(pool: asyncpg.Pool, report_id: str, stage: str) -> None:
    await pool.execute(
        "UPDATE fortnox_writer.reconciliation_reports SET stage = $2 WHERE id = $1",
        uuid.UUID(report_id),
        stage,
    )


async def _finish(
    pool: asyncpg.Pool, report_id: str, report: dict[str, Any] | None, error: str | None
) -> None:
    await pool.execute(
        "UPDATE fortnox_writer.reconciliation_reports SET status = $2, report = $3::jsonb,"
        " error = $4, stage = NULL, finished_at = now() WHERE id = $1 AND status = 'running'",
        uuid.UUID(report_id),
        "failed" if error else "finished",
        json.dumps(report) if report is not None else None,
        error,
    )


class ReportRunner:
    def __init__(
        self,
        runtime: Runtime,
        connections: ConnectionStore,
        limiter: RateLimiter,
        store: DeferredStore,
    ) -> None:
        self._runtime = runtime
        settings = runtime.settings
        self._admin = ShopifyAdmin(
            runtime.http, settings.shopify_admin_url, settings.shopify_api_version
        )
        self._shops = ShopRegistry(
            runtime.pool, TokenCipher(settings.token_encryption_keys.get_secret_value())
        )
        self._connections = connections
        self._limiter = limiter
        self._store = store
        self._zone = ZoneInfo(settings.fortnox_timezone)
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, report_id: str) -> None:
        task = asyncio.create_task(self._run(report_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def resume(self) -> None:
        rows = await self._runtime.pool.fetch(
            "SELECT id FROM fortnox_writer.reconciliation_reports WHERE status = 'running'"
        )
        for row in rows:
            self.start(str(row["id"]))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, report_id: str) -> None:
        pool = self._runtime.pool
        async with pool.acquire() as lock:
            key = f"reconciliation-report:{report_id}"
            if not await lock.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
                return
            try:
                row = await pool.fetchrow(
                    "SELECT * FROM fortnox_writer.reconciliation_reports WHERE id = $1",
                    uuid.UUID(report_id),
                )
                if row is None or row["status"] != "running":
                    return
                report = await self._make(report_id, row)
                await _finish(pool, report_id, report, None)
                log.info("reconciliation report made", report_id=report_id, shop=row["shop"])
            except asyncio.CancelledError:
                raise
            except HandlerError as exc:
                await _finish(pool, report_id, None, exc.explanation or exc.message)
            except Exception as exc:
                log.exception("reconciliation report crashed", report_id=report_id)
                await _finish(pool, report_id, None, f"unexpected error: {exc}")
            finally:
                await lock.execute("SELECT pg_advisory_unlock(hashtext($1))", key)

    async def _make(self, report_id: str, row: asyncpg.Record) -> dict[str, Any]:
        pool, shop = self._runtime.pool, row["shop"]
        start, end = row["period_from"], row["period_to"]
        token = await self._shops.access_token(shop)
        if token is None:
            raise HandlerError("the shop has no Shopify access: install the app again")
        settings = await self._shop_settings(shop)
        day_of, edge_days = self._summary_days(settings)
        orders = await period_orders(
            self._admin,
            shop,
            token,
            start,
            end,
            self._zone,
            edge_days=edge_days,
            # The last day's refunds summary holds refunds made until its close time.
            refunds_until=day_closes_at(end, settings) if edge_days else None,
        )
        await _stage(pool, report_id, "fortnox")
        client = await self._client(shop)
        late = [o for o in orders if not o.in_period]
        fortnox = await period_documents(
            client,
            LiveFirst(self._store, shop),
            start,
            end,
            {o.order_id for o in orders},
            frozenset(o.order_id for o in late),
            min((o.created for o in late), default=None),
        )
        payouts: list[ShopifyPayout] | None
        live = LiveFirst(self._store, shop)
        try:
            payouts = await period_payouts(self._admin, shop, token, start, end, self._zone)
            vouchers = await period_vouchers(client, live, start)
            for payout in payouts:  # each payout's voucher read whole, to compare its rows
                voucher = vouchers.get(reference(payout.payout_id))
                if voucher is not None:
                    await read_voucher(client, live, voucher)
        except HandlerError as exc:  # no Shopify Payments, or its scope not granted
            log.info("report without payouts", shop=shop, error=exc.message)
            payouts, vouchers = None, {}
        await _stage(pool, report_id, "comparing")
        report = build_report(shop, start, end, orders, fortnox, day_of)
        rows, differences, notes = payout_rows(payouts, vouchers, settings.payouts)
        report["payouts"] = rows
        report["differences"] += differences
        report["notes"] += notes
        report["fortnox_calls"] = client.calls
        if payouts is None:
            report["notes"].append("Shopify Payments payouts or Fortnox vouchers were not read")
        return report

    async def _shop_settings(self, shop: str) -> ShopSettings:
        """The shop's accounting settings (the mapper's, read-only: docs/architecture.md)."""
        defaults = {"guest_customer_name": self._runtime.settings.default_guest_customer_name}
        async with self._runtime.pool.acquire() as conn:
            return await load_shop_settings(conn, shop, defaults)

    def _summary_days(self, settings: ShopSettings) -> tuple[DayOf, int]:
        """The shop's summary day of a moment (the mapper's rule, with its close time and time
        zone), and how many days after the period the last day's summary may reach."""

        def day_of(moment: datetime) -> date:
            return business_day(moment, settings)[0]

        same = settings.summary_close_time == "00:00" and settings.summary_timezone == str(
            self._zone
        )
        return day_of, 0 if same else 1

    async def _client(self, shop: str) -> FortnoxClient:
        current = await self._connections.get(shop)
        tenant_id = current.tenant_id
        settings = self._runtime.settings

        async def token(refused: str | None) -> str:
            return (await self._connections.get(shop, refused_token=refused)).access_token

        return FortnoxClient(
            http=self._runtime.http,
            base_url=settings.fortnox_api_url,
            tenant_id=tenant_id,
            token=token,
            limiter=self._limiter,
            timeout=settings.fortnox_timeout_seconds,
            read_attempts=IN_PROCESS_READ_ATTEMPTS,
        )
