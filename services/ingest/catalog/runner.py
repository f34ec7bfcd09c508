"""The catalog sync runner: pages Shopify and publishes one event per product or customer.

One replica runs a job at a time (a session advisory lock per job); the cursor is saved after
each page, so a job whose replica stopped resumes where it was (events already published are
deduplicated on their webhook id) when any ingest replica starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from libs.common.crypto import TokenCipher
from libs.common.errors import HandlerError, TransientError
from libs.common.logs import get_logger
from libs.common.service import Runtime
from libs.common.shopify_admin import ShopifyAdmin
from libs.common.shops import ShopRegistry
from services.ingest import events
from services.ingest.catalog import jobs
from services.ingest.catalog.shapes import (
    BY_IDS,
    PAGE_SIZES,
    QUERIES,
    TOPICS,
    VARIANTS,
    VARIANTS_PER_PAGE,
    gids,
    payload_of,
    search_query,
)

log = get_logger(__name__)
QUERY_ATTEMPTS = 5


class CatalogRunner:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._admin = ShopifyAdmin(
            runtime.http, runtime.settings.shopify_admin_url, runtime.settings.shopify_api_version
        )
        self._shops = ShopRegistry(
            runtime.pool, TokenCipher(runtime.settings.token_encryption_keys.get_secret_value())
        )
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
            key = f"catalog-job:{job_id}"
            if not await lock.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
                return  # another replica runs it
            try:
                await self._page_all(job_id)
            except asyncio.CancelledError:
                raise
            except HandlerError as exc:
                log.warning("catalog sync failed", job_id=job_id, error=exc.message)
                await jobs.fail(pool, job_id, exc.explanation or exc.message)
            except Exception as exc:
                log.exception("catalog sync crashed", job_id=job_id)
                await jobs.fail(pool, job_id, f"unexpected error: {exc}")
            finally:
                await lock.execute("SELECT pg_advisory_unlock(hashtext($1))", key)

    async def _page_all(self, job_id: str) -> None:
        pool = self._runtime.pool
        row = await jobs.job(pool, job_id)
        if row is None or row["status"] != "running" or row["paged_all"]:
            return
        shop, kind = row["shop"], row["kind"]
        token = await self._shops.access_token(shop)
        if token is None:
            await jobs.fail(pool, job_id, "the shop has no Shopify access: install the app again")
            return
        filters: dict[str, Any] = json.loads(row["filter"])
        if filters.get("ids"):
            await self._page_ids(job_id, shop, kind, token, filters, row["cursor"])
            return
        query = search_query(filters.get("updated_since"))
        cursor: str | None = row["cursor"]
        while True:
            size = PAGE_SIZES[kind]
            data = await self._query(
                shop,
                token,
                kind,
                QUERIES[kind],
                {"first": size, "after": cursor, "query": query},
                expected_cost=_cost(kind, size),
            )
            connection = data.get(kind) or {}
            nodes: list[dict[str, Any]] = connection.get("nodes") or []
            item_ids = await self._publish_nodes(job_id, shop, kind, token, nodes)
            page = connection.get("pageInfo") or {}
            more = bool(page.get("hasNextPage"))
            cursor = page.get("endCursor") or cursor
            await jobs.record_page(pool, job_id, item_ids, cursor, paged_all=not more)
            if not more:
                log.info("catalog sync paged", job_id=job_id, shop=shop, kind=kind)
                return

    async def _page_ids(
        self,
        job_id: str,
        shop: str,
        kind: str,
        token: str,
        filters: dict[str, Any],
        cursor: str | None,
    ) -> None:
        """Exactly the listed objects (nodes(ids:)); the cursor is how many ids are done."""
        ids: list[str] = filters["ids"]
        since = filters.get("updated_since")
        size = PAGE_SIZES[kind]
        start = int(cursor or 0)
        while start < len(ids):
            chunk = ids[start : start + size]
            data = await self._query(
                shop,
                token,
                f"{kind}ByIds",
                BY_IDS[kind],
                {"ids": gids(kind, chunk)},
                expected_cost=_cost(kind, len(chunk)),
            )
            nodes = [
                node
                for node in data.get("nodes") or []
                if node and (not since or str(node.get("updatedAt") or "") >= since)
            ]
            item_ids = await self._publish_nodes(job_id, shop, kind, token, nodes)
            start += len(chunk)
            done = start >= len(ids)
            await jobs.record_page(self._runtime.pool, job_id, item_ids, str(start), done)

    async def _publish_nodes(
        self, job_id: str, shop: str, kind: str, token: str, nodes: list[dict[str, Any]]
    ) -> list[str]:
        item_ids: list[str] = []
        for node in nodes:
            if kind == "products":
                await self._all_variants(shop, token, node)
            item_ids.append(await self._publish(job_id, shop, kind, node))
        return item_ids

    async def _query(
        self,
        shop: str,
        token: str,
        operation: str,
        query: str,
        variables: dict[str, Any],
        *,
        expected_cost: float,
    ) -> dict[str, Any]:
        """One Admin API call; Shopify outages and throttling are waited out a few times."""
        for attempt in range(QUERY_ATTEMPTS):
            try:
                return await self._admin.graphql(
                    shop, token, operation, query, variables, expected_cost=expected_cost
                )
            except TransientError:
                if attempt == QUERY_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(2**attempt)
        raise AssertionError("unreachable")

    async def _all_variants(self, shop: str, token: str, node: dict[str, Any]) -> None:
        """Read the rest of a product's variants when the first page did not hold them all."""
        variants = node.get("variants") or {}
        page = variants.get("pageInfo") or {}
        while page.get("hasNextPage"):
            data = await self._query(
                shop,
                token,
                "variants",
                VARIANTS,
                {"id": node["id"], "after": page.get("endCursor")},
                expected_cost=VARIANTS_PER_PAGE + 2,
            )
            more = ((data.get("product") or {}).get("variants")) or {}
            variants["nodes"] = [*(variants.get("nodes") or []), *(more.get("nodes") or [])]
            page = more.get("pageInfo") or {}
        node["variants"] = variants

    async def _publish(self, job_id: str, shop: str, kind: str, node: dict[str, Any]) -> str:
        payload = payload_of(kind, node)
        item_id = str(payload["id"])
        await events.submit(
            self._runtime.pool,
            self._runtime.publisher,
            shop,
            TOPICS[kind],
            payload,
            webhook_id=f"sync-{job_id}-{item_id}",
            api_version=self._runtime.settings.shopify_api_version,
            source=None,
            batch_id=job_id,
        )
        return item_id


def _cost(kind: str, size: int) -> float:
    """What a page is expected to cost (Shopify's bucket is checked before the call)."""
    # Shopify's estimate: 2 per connection + per node 1 + its nested connection (2 + 90).
    return size * (VARIANTS_PER_PAGE + 3) + 2 if kind == "products" else size + 2
