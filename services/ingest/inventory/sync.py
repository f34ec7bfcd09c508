"""The inventory sync's rounds (ingest): one direction per shop, no echo, problems listed.

Every ``INVENTORY_INTERVAL_SECONDS`` each replica goes round the installed shops whose inventory
source is Shopify or Fortnox, one shop at a time per replica fleet (a session advisory lock
``inventory:<shop>``):

- **Shopify is the source.** The ``inventory_levels/update`` deliveries stored since the shop's
  cursor name the items that changed; every ``INVENTORY_CHECK_SECONDS`` every item is compared
  (the check that catches webhooks Shopify never delivered). Each item's available quantity,
  summed over the mapped locations (all when none are mapped), becomes its Fortnox article's
  stock through one ``set_stock`` command to the writer (rate limited there like every call).
  The article number follows the article sync's rule (SKU, else ``V<variant id>`` when the SKU
  policy says so); an item without one is listed, not synced.
- **Fortnox is the source.** A ``read_stock`` command asks the writer for the articles changed
  since the checkpoint (``lastmodified``, with a 2-minute overlap); its result (``apply_read``)
  sets each article's Shopify item at the mapped location (the shop's first when none is) with
  ``inventorySetQuantities`` and the compare quantity (shopify_stock.py: a concurrent sale is kept).
- **No echo.** What Fortbridge wrote is remembered with its value (``inventory_written``): a
  change whose value equals our own last write is ours coming back and is not sent on (and only
  the source's side is ever read for changes, so one direction never feeds the other).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg

from libs.common import jsonutil
from libs.common.article_numbers import sku_from_article_number
from libs.common.errors import HandlerError, PermanentError
from libs.common.logs import get_logger
from libs.common.messages import FortnoxCommand, SourceRef, StockLevel, SyncResult
from libs.common.metrics import (
    INVENTORY_LEVELS_FAILED,
    INVENTORY_LEVELS_PUSHED,
    INVENTORY_LEVELS_READ,
)
from libs.common.service import Runtime
from libs.common.shopify_admin import ShopifyAdmin
from services.ingest import lifecycle
from services.ingest.inventory import store
from services.ingest.inventory.plan import plan_fortnox_stock
from services.ingest.inventory.shopify_stock import Item, ShopifyStock
from services.ingest.inventory.store import InventoryConfig, Problem

log = get_logger(__name__)
FORTNOX_ZONE = ZoneInfo("Europe/Stockholm")
EVENTS_PER_ROUND = 500
LEVELS_PER_COMMAND = 100
READ_OVERLAP = timedelta(minutes=2)
READ_TIMEOUT = timedelta(minutes=10)  # a read_stock without a result by then is asked again


def _gid_topic(action: str) -> str:
    return f"fortnox.command.{action}"


class InventorySync:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        settings = runtime.settings
        self._admin = ShopifyAdmin(
            runtime.http, settings.shopify_admin_url, settings.shopify_api_version
        )
        self._registry = lifecycle.registry_of(runtime)
        self._stopping = asyncio.Event()

    async def run_forever(self) -> None:
        interval = self._runtime.settings.inventory_interval_seconds
        while not self._stopping.is_set():
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("inventory round crashed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=interval)

    async def stop(self) -> None:
        self._stopping.set()

    async def round(self) -> None:
        for config in await store.syncing_shops(self._runtime.pool):
            try:
                await self.sync_shop(config)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one shop's trouble never stops the others'
                log.exception("inventory sync of a shop crashed", shop=config.shop)
                await store.update(self._runtime.pool, config.shop, last_error=f"error: {exc}")

    async def sync_shop(self, config: InventoryConfig) -> None:
        pool = self._runtime.pool
        async with pool.acquire() as lock:
            key = f"inventory:{config.shop}"
            if not await lock.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
                return
            try:
                await store.ensure(pool, config.shop, config.source)
                if config.source == "shopify":
                    await self._from_shopify(config)
                else:
                    await self._ask_fortnox(config)
            except HandlerError as exc:
                log.warning("inventory sync failed", shop=config.shop, error=exc.message)
                await store.update(pool, config.shop, last_error=exc.explanation or exc.message)
            finally:
                await lock.execute("SELECT pg_advisory_unlock(hashtext($1))", key)

    async def _stock(self, shop: str) -> ShopifyStock | None:
        try:
            token = await self._registry.access_token(shop)
        except ValueError:  # encrypted with a key no longer configured: as good as none
            return None
        return None if token is None else ShopifyStock(self._admin, shop, token)

    # --- Shopify is the source ------------------------------------------------------------
    async def _from_shopify(self, config: InventoryConfig) -> None:
        pool, shop = self._runtime.pool, config.shop
        row = await store.state(pool, shop)
        assert row is not None
        stock = await self._stock(shop)
        if stock is None:
            await store.update(pool, shop, last_error="no Shopify access: install the app again")
            return
        events = await store.new_level_events(
            pool, shop, row["event_cursor_at"], row["event_cursor_uid"], EVENTS_PER_ROUND
        )
        changed = sorted({i for event in events if (i := _item_id(event["body"])) is not None})
        check_due = row["last_check_at"] is None or datetime.now(UTC) - row[
            "last_check_at"
        ] >= timedelta(seconds=self._runtime.settings.inventory_check_seconds)
        items: list[Item] = []
        if check_due:
            async for page in stock.all_items():
                items += page
        else:
            for item_id in changed:
                item = await stock.item(item_id)
                if item is not None:
                    items.append(item)
        INVENTORY_LEVELS_READ.labels(direction="to_fortnox").inc(len(items))
        await self._send_to_fortnox(config, items)
        values: dict[str, object] = {"last_sync_at": datetime.now(UTC), "last_error": None}
        if events:
            values["event_cursor_at"] = events[-1]["received_at"]
            values["event_cursor_uid"] = events[-1]["event_uid"]
        if check_due:
            values["last_check_at"] = datetime.now(UTC)
        await store.update(pool, shop, **values)

    async def _send_to_fortnox(self, config: InventoryConfig, items: list[Item]) -> int:
        pool, shop = self._runtime.pool, config.shop
        plan = plan_fortnox_stock(config, items)
        wanted, problems, fine = plan.wanted, plan.problems, plan.fine
        INVENTORY_LEVELS_FAILED.labels(direction="to_fortnox").inc(len(problems))
        already = await store.written(pool, shop, "fortnox", list(wanted))
        changes = {n: q for n, q in wanted.items() if already.get(n) != q}
        await store.record_problems(pool, shop, problems)
        await store.clear_problems(pool, shop, fine)
        if not changes:
            return 0
        await store.remember(pool, shop, "fortnox", changes)
        await store.clear_problems(pool, shop, [f"article:{n}" for n in changes])
        levels = [StockLevel(article_number=n, quantity=q) for n, q in sorted(changes.items())]
        for start in range(0, len(levels), LEVELS_PER_COMMAND):
            chunk = levels[start : start + LEVELS_PER_COMMAND]
            key = f"{shop}:inventory:set:{uuid.uuid4().hex}"
            command = FortnoxCommand(
                shop=shop,
                command_id=key,
                action="set_stock",
                document_key=key,
                source=SourceRef(type="inventory", id=shop, name="inventory"),
                stock=chunk,
            )
            await self._runtime.publisher.publish(
                command, _gid_topic("set_stock"), message_id=command.command_id
            )
        log.info("inventory sent to fortnox", shop=shop, articles=len(levels))
        return len(levels)

    # --- Fortnox is the source ------------------------------------------------------------
    async def _ask_fortnox(self, config: InventoryConfig) -> None:
        pool, shop = self._runtime.pool, config.shop
        row = await store.state(pool, shop)
        assert row is not None
        await self._count_echoes(config, row)
        now = datetime.now(UTC)
        pending = row["read_requested_at"]
        if pending is not None and now - pending < READ_TIMEOUT:
            return
        since = row["fortnox_since"]
        key = f"{shop}:inventory:read:{uuid.uuid4().hex}"
        command = FortnoxCommand(
            shop=shop,
            command_id=key,
            action="read_stock",
            document_key=key,
            source=SourceRef(type="inventory", id=shop, name="inventory"),
            stock_since=None if since is None else _fortnox_time(since - READ_OVERLAP),
        )
        await store.update(pool, shop, read_requested_at=now)
        await self._runtime.publisher.publish(
            command, _gid_topic("read_stock"), message_id=command.command_id
        )

    async def _count_echoes(self, config: InventoryConfig, row: asyncpg.Record) -> None:
        """Shopify's inventory_levels/update for a level we set: ours, not a change to send."""
        pool, shop = self._runtime.pool, config.shop
        events = await store.new_level_events(
            pool,
            shop,
            row["event_cursor_at"],
            row["event_cursor_uid"],
            EVENTS_PER_ROUND,
        )
        if not events:
            return
        keys = {f"level:{_item_id(e['body'])}:{_location_id(e['body'])}": e for e in events}
        ours = await store.written(pool, shop, "shopify", list(keys))
        echoes = sum(1 for k, e in keys.items() if k in ours and ours[k] == _available(e["body"]))
        await store.update(
            pool,
            shop,
            echoes_ignored__add=echoes,
            event_cursor_at=events[-1]["received_at"],
            event_cursor_uid=events[-1]["event_uid"],
        )

    async def apply_read(self, result: SyncResult) -> None:
        """A read_stock result: Fortnox's stock of the articles changed since the checkpoint."""
        pool, shop = self._runtime.pool, result.shop
        row = await store.state(pool, shop)
        if row is None:
            return
        config = await store.config_of(pool, shop)
        # A parked read (Fortnox to reconnect) runs by itself once reconnected: it stays the
        # pending one, so rounds do not pile up more reads behind it (READ_TIMEOUT apart at most).
        values: dict[str, object] = {} if result.status == "parked" else {"read_requested_at": None}
        if result.warehouse_module is not None:
            values["warehouse_module"] = result.warehouse_module
        if result.status not in ("synced", "already_synced") or config.source != "fortnox":
            values["last_error"] = result.explanation or result.error_message
            await store.update(pool, shop, **values)
            return
        stock = await self._stock(shop)
        if stock is None:
            await store.update(pool, shop, last_error="no Shopify access", **values)
            return
        try:
            written, retries = await self._send_to_shopify(config, stock, result.stock)
        except HandlerError as exc:
            await store.update(pool, shop, last_error=exc.explanation or exc.message, **values)
            return
        await store.update(
            pool,
            shop,
            fortnox_since=row["read_requested_at"] or result.occurred_at,
            last_sync_at=datetime.now(UTC),
            last_error=None,
            to_shopify__add=written,
            compare_retries__add=retries,
            **values,
        )

    async def _send_to_shopify(
        self, config: InventoryConfig, stock: ShopifyStock, levels: Iterable[StockLevel]
    ) -> tuple[int, int]:
        pool, shop = self._runtime.pool, config.shop
        levels = list(levels)
        keys = [f"article:{level.article_number}" for level in levels]
        followed = await store.written(pool, shop, "shopify", keys)
        location = next(iter(config.locations), None) or await stock.first_location()
        if location is None:
            raise HandlerError("the Shopify store has no location", code="no_location")
        written = retries = 0
        problems: list[Problem] = []
        fine: list[str] = []
        for level in levels:
            key = f"article:{level.article_number}"
            if followed.get(key) == level.quantity:
                continue  # Fortnox did not change since we followed it (or it is our own write)
            item = await self._item_for(config, stock, level.article_number)
            if item is None:
                problems.append(
                    Problem(
                        key,
                        "no Shopify variant has this article's SKU",
                        sku_from_article_number(level.article_number),
                        None,
                        level.quantity,
                    )
                )
                continue
            if level.quantity != level.quantity.to_integral_value():
                problems.append(
                    Problem(key, "Shopify keeps whole units only", item.sku, None, level.quantity)
                )
                continue
            try:
                value, tries = await stock.set_available(item, location, int(level.quantity))
            except PermanentError as exc:  # this item only (not stocked there, ...): listed
                problems.append(Problem(key, exc.message, item.sku, None, level.quantity))
                continue
            retries += tries
            written += 1
            fine.append(key)
            await store.remember(
                pool,
                shop,
                "shopify",
                {key: level.quantity, f"level:{item.id}:{location}": Decimal(value)},
            )
        await store.record_problems(pool, shop, problems)
        await store.clear_problems(pool, shop, fine)
        INVENTORY_LEVELS_PUSHED.labels(direction="to_shopify").inc(written)
        INVENTORY_LEVELS_FAILED.labels(direction="to_shopify").inc(len(problems))
        return written, retries

    async def _item_for(
        self, config: InventoryConfig, stock: ShopifyStock, number: str
    ) -> Item | None:
        if number.startswith("V") and number[1:].isdigit():
            found = await stock.item_by_variant(int(number[1:]))
            if found is not None and not found.sku:
                return found
        return await stock.item_by_sku(sku_from_article_number(number))

    async def apply_set(self, result: SyncResult) -> None:
        """A set_stock result: what did not reach Fortnox is forgotten (so a later change or
        check sends it again) and listed; a failed command forgets everything sent and asks
        for a full check next round."""
        pool, shop = self._runtime.pool, result.shop
        values: dict[str, object] = {}
        if result.status == "synced":
            values["to_fortnox__add"] = _written_count(result.document_number)
        if result.warehouse_module is not None:
            values["warehouse_module"] = result.warehouse_module
        if result.status in ("failed", "skipped") or result.explanation:
            values["last_error"] = result.explanation or result.error_message
        if result.status == "failed" or result.warehouse_module:
            await pool.execute(
                "DELETE FROM ingest.inventory_written WHERE shop = $1 AND target = 'fortnox'",
                shop,
            )
            if result.status == "failed":
                values["last_check_at"] = None
        elif result.stock:  # articles Fortnox does not have
            numbers = [level.article_number for level in result.stock]
            await store.forget(pool, shop, "fortnox", numbers)
            await store.record_problems(
                pool,
                shop,
                [
                    Problem(
                        f"article:{level.article_number}",
                        "Fortnox has no such article: sync the products to Fortnox first",
                        sku_from_article_number(level.article_number),
                        level.quantity,
                        None,
                    )
                    for level in result.stock
                ],
            )
        if values:
            await store.update(pool, shop, **values)


def _written_count(numbers: str | None) -> int:
    """How many articles a set_stock wrote: its number lists them ("A, B" or "N articles")."""
    text = (numbers or "").strip()
    if not text or text == "none":
        return 0
    head, _, tail = text.partition(" ")
    if tail == "articles" and head.isdigit():
        return int(head)
    return len(text.split(", "))


def _body(raw: str) -> dict[str, object]:
    try:
        value = jsonutil.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _item_id(raw: str) -> int | None:
    value = _body(raw).get("inventory_item_id")
    return value if isinstance(value, int) else None


def _location_id(raw: str) -> int | None:
    value = _body(raw).get("location_id")
    return value if isinstance(value, int) else None


def _available(raw: str) -> Decimal | None:
    value = _body(raw).get("available")
    return Decimal(value) if isinstance(value, int) else None


def _fortnox_time(moment: datetime) -> str:
    return moment.astimezone(FORTNOX_ZONE).strftime("%Y-%m-%d %H:%M")
