"""The reconciliation rounds: every interval, each installed shop that no replica holds.

A shop's run holds a session advisory lock (``reconcile:<shop>``) on a connection of its own,
so one replica reconciles a shop at a time; another replica that finds it taken goes on to the
next shop. A run pages the orders updated since the checkpoint (minus the lookback), oldest
update first, stores what ingest missed of each (recover.py) and moves the checkpoint after
each page. Shopify unreachable, failing, throttling past the client's retries, or refusing
the token ends the run with its error kept; the checkpoint stays where the last handled page
put it, and the next round starts from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import UTC, datetime, timedelta

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind

from libs.common import tracing
from libs.common.logs import get_logger
from libs.common.metrics import RECONCILE_RUNS
from libs.common.service import Runtime
from libs.common.shopify_admin import ShopifyAdmin
from services.ingest import lifecycle
from services.ingest.order_fetch import OrderTooLarge, ShopifyRefused, ShopifyUnavailable
from services.ingest.reconcile import checkpoints
from services.ingest.reconcile.listing import PAGE_SIZE, OrderPage, order_page
from services.ingest.reconcile.payouts import poll_payouts
from services.ingest.reconcile.recover import behind, recover_order
from services.ingest.reconcile.stored import stored_orders

log = get_logger(__name__)
_tracer = tracing.get_tracer(__name__)

# A run reads at most this many pages (the rest waits for the next round, from the checkpoint),
# so one shop's backlog after an outage never holds a replica for long.
MAX_PAGES_PER_RUN = 50

# Outcomes of reconcile_shop
FINISHED, FAILED, BUSY, RECENT, NOT_INSTALLED = "finished", "failed", "busy", "recent", "skipped"


class Reconciler:
    def __init__(
        self,
        runtime: Runtime,
        *,
        page_size: int = PAGE_SIZE,
        max_pages: int = MAX_PAGES_PER_RUN,
    ) -> None:
        self._runtime = runtime
        settings = runtime.settings
        self._admin = ShopifyAdmin(
            runtime.http, settings.shopify_admin_url, settings.shopify_api_version
        )
        self._registry = lifecycle.registry_of(runtime)
        self._page_size = page_size
        self._max_pages = max_pages
        self._tasks: set[asyncio.Task[str]] = set()

    # --- scheduling ------------------------------------------------------------------------

    async def run_forever(self) -> None:
        """A round every interval (with jitter, so replicas spread out); survives failures."""
        interval = self._runtime.settings.reconcile_interval_seconds
        while True:
            await asyncio.sleep(interval * random.uniform(0.8, 1.2))
            try:
                await self.round(min_age=interval / 2)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconcile round failed")

    async def round(self, *, min_age: float | None = None) -> dict[str, str]:
        """One pass over the installed shops: ``{shop: outcome}``."""
        outcomes: dict[str, str] = {}
        for shop in await self.shops():
            outcomes[shop] = await self.reconcile_shop(shop, min_age=min_age)
        return outcomes

    async def shops(self) -> list[str]:
        """Installed shops holding a Shopify token, the least recently reconciled first."""
        rows = await self._runtime.pool.fetch(
            """
            SELECT i.shop FROM shops.installations i
            LEFT JOIN ingest.reconcile_shops r ON r.shop = i.shop
            WHERE i.status = 'installed' AND i.access_token IS NOT NULL
            ORDER BY r.last_started_at NULLS FIRST, i.shop
            """
        )
        return [row["shop"] for row in rows]

    async def run_now(self, shop: str, wait: float) -> str | None:
        """Reconcile ``shop`` now; its outcome, or None if it still runs after ``wait`` s."""
        task = asyncio.create_task(self.reconcile_shop(shop))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        done, _ = await asyncio.wait({task}, timeout=wait)
        return task.result() if done else None

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- one shop --------------------------------------------------------------------------

    async def reconcile_shop(self, shop: str, *, min_age: float | None = None) -> str:
        """One run for ``shop`` unless another replica holds it (``busy``), or, with
        ``min_age``, one started less than that many seconds ago (``recent``)."""
        key = f"reconcile:{shop}"
        async with self._runtime.pool.acquire() as lock:
            if not await lock.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key):
                RECONCILE_RUNS.labels(outcome=BUSY).inc()
                return BUSY
            try:
                if min_age is not None and await self._recent(shop, min_age):
                    return RECENT
                outcome = await self._run(shop)
            finally:
                await lock.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)
        RECONCILE_RUNS.labels(outcome=outcome).inc()
        return outcome

    async def _recent(self, shop: str, min_age: float) -> bool:
        return bool(
            await self._runtime.pool.fetchval(
                "SELECT last_started_at > now() - make_interval(secs => $2)"
                " FROM ingest.reconcile_shops WHERE shop = $1",
                shop,
                min_age,
            )
        )

    async def _run(self, shop: str) -> str:
        pool = self._runtime.pool
        installation = await self._registry.installation(shop)
        if installation is None or not installation.active:
            return NOT_INSTALLED  # uninstalled: nothing is synced for it any more
        installed = installation.installed_at.replace(microsecond=0)
        checkpoint = await checkpoints.start(pool, shop, installed)
        lookback = timedelta(seconds=self._runtime.settings.reconcile_lookback_seconds)
        since = max(checkpoint - lookback, installed)
        log.info("reconcile run started", shop=shop, since=since.isoformat())
        try:
            token = await self._token(shop)
            cursor: str | None = None
            for _ in range(self._max_pages):
                page = await order_page(self._admin, shop, token, since, cursor, self._page_size)
                await self._handle_page(shop, token, installed, page)
                cursor = page.cursor
                if not page.more:
                    break
            else:
                log.info("reconcile run paused: more pages next round", shop=shop)
            # Shopify has no payouts webhook: each run also polls the shop's paid payouts.
            if self._runtime.settings.payouts_poll_enabled:
                await poll_payouts(self._runtime, self._admin, shop, token, installed)
        except asyncio.CancelledError:
            await checkpoints.fail(pool, shop, "stopped (the replica shut down)")
            raise
        except (ShopifyUnavailable, ShopifyRefused, TokenUnusable) as exc:
            reason = _reason(exc)
            log.warning("reconcile run failed", shop=shop, error=reason)
            await checkpoints.fail(pool, shop, reason)
            return FAILED
        except Exception as exc:
            log.exception("reconcile run crashed", shop=shop)
            await checkpoints.fail(pool, shop, f"unexpected error: {exc}")
            return FAILED
        await checkpoints.finish(pool, shop)
        log.info("reconcile run finished", shop=shop)
        return FINISHED

    async def _token(self, shop: str) -> str:
        try:
            token = await self._registry.access_token(shop)
        except ValueError as exc:  # no configured key decrypts it
            raise TokenUnusable(
                f"the shop's Shopify token {exc}: check TOKEN_ENCRYPTION_KEYS"
            ) from exc
        if token is None:
            raise TokenUnusable("Fortbridge holds no Shopify token for the shop: install the app")
        return token

    async def _handle_page(
        self, shop: str, token: str, installed: datetime, page: OrderPage
    ) -> None:
        """Every order of the page compared, what was missed stored; then the checkpoint moves."""
        pool = self._runtime.pool
        # Orders updated within the settle time may have their webhooks on the way: they are
        # left out, and the checkpoint stays before them, so the next round looks again.
        settle = self._runtime.settings.reconcile_settle_seconds
        settled_before = datetime.now(UTC) - timedelta(seconds=settle)
        marks = [m for m in page.orders if not settle or m.updated_at <= settled_before]
        known = await stored_orders(pool, shop, [mark.order_id for mark in marks])
        recovered = events = 0
        for mark in marks:
            if mark.created_at < installed or not behind(mark, known.get(mark.order_id)):
                continue  # from before the install, or nothing missed
            # A trace of its own per recovered order, as a webhook would start one.
            with _tracer.start_as_current_span(
                "reconcile order",
                context=otel_context.Context(),
                kind=SpanKind.INTERNAL,
                attributes={"fortbridge.shop": shop, "fortbridge.order_id": mark.order_id},
            ):
                try:
                    recovery = await recover_order(
                        self._runtime, self._admin, shop, token, mark, known.get(mark.order_id)
                    )
                except OrderTooLarge as exc:
                    # Never synced from a partial read; its webhooks or the admin API can.
                    log.warning("reconcile: order too large", shop=shop, error=str(exc))
                    continue
            if recovery.recovered:
                recovered += 1
                events += len(recovery.topics)
        newest = max((mark.updated_at for mark in marks), default=None)
        await checkpoints.page_done(
            pool, shop, newest, checked=len(marks), recovered=recovered, events=events
        )


class TokenUnusable(Exception):
    """No Shopify token to read the shop's orders with (none stored, or not decryptable)."""


def _reason(exc: ShopifyUnavailable | ShopifyRefused | TokenUnusable) -> str:
    if isinstance(exc, TokenUnusable):
        return str(exc)
    if isinstance(exc, ShopifyUnavailable):
        return f"Shopify could not be reached or throttled the reads ({exc}); retried next round"
    if exc.revoked:
        return f"Shopify refused Fortbridge's access token ({exc.message}): install the app again"
    return f"Shopify refused the read: {exc.message}"
