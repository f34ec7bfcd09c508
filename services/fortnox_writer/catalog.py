"""Articles and customers from the catalog (product and customer webhooks, bulk syncs).

``sync_articles``: the first time for a shop, the writer reads Fortnox's whole article list
(500 per call) into its cache, so it knows which articles exist; then each article is updated in
place (PUT) when Fortnox has it and created (POST) when it does not: one call per article. When
the cache is wrong (someone else created or deleted the article in Fortnox meanwhile), the
article is read and the other call made. ``sync_customer``: the customer is found or created
exactly like an order's customer (matched exactly on e-mail or organisation number), then its
fields updated. Each runs under the same per-article/customer lease as order processing, so
replicas never create one twice. The command's key names the object's version: the ledger makes
each version run once, so an unchanged catalog synced again costs no Fortnox call.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from libs.common.messages import ArticleDraft, CustomerDraft
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient, path_segment
from services.fortnox_writer.leases import Leases
from services.fortnox_writer.masterdata import ARTICLE_NOT_FOUND, MasterData

# Fields Fortnox sets itself or that identify the record: never sent on update.
_READ_ONLY = frozenset({"ArticleNumber", "CustomerNumber"})
PAGE_LIMIT = 500


def _updatable(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if name not in _READ_ONLY}


async def load_article_index(
    pool: asyncpg.Pool, leases: Leases, client: FortnoxClient, shop: str
) -> None:
    """Read every Fortnox article number of the shop into the cache, once."""
    if await pool.fetchval("SELECT 1 FROM fortnox_writer.article_index WHERE shop = $1", shop):
        return
    async with leases.hold(f"article-index:{shop}", wait=120.0):
        if await pool.fetchval("SELECT 1 FROM fortnox_writer.article_index WHERE shop = $1", shop):
            return
        page, pages = 1, 1
        numbers: list[str] = []
        while page <= pages:
            listing = await client.request(
                "GET", "/3/articles", params={"limit": str(PAGE_LIMIT), "page": str(page)}
            )
            numbers += [str(row["ArticleNumber"]) for row in listing.get("Articles", [])]
            meta = listing.get("MetaInformation") or {}
            pages = int(meta.get("@TotalPages") or 1)
            page += 1
        async with pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO fortnox_writer.articles (shop, article_number) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING",
                [(shop, number) for number in numbers],
            )
            await conn.execute(
                "INSERT INTO fortnox_writer.article_index (shop) VALUES ($1)"
                " ON CONFLICT (shop) DO UPDATE SET loaded_at = now()",
                shop,
            )


async def _known(pool: asyncpg.Pool, shop: str, number: str) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT 1 FROM fortnox_writer.articles WHERE shop = $1 AND article_number = $2",
            shop,
            number,
        )
    )


async def _exists(client: FortnoxClient, number: str) -> bool:
    try:
        await client.request("GET", f"/3/articles/{path_segment(number)}")
    except FortnoxApiError as exc:
        if exc.code == ARTICLE_NOT_FOUND:
            return False
        raise
    return True


async def _put(client: FortnoxClient, draft: ArticleDraft) -> None:
    await client.request(
        "PUT",
        f"/3/articles/{path_segment(draft.article_number)}",
        body={"Article": _updatable(draft.fields)},
    )


async def _upsert(pool: asyncpg.Pool, client: FortnoxClient, shop: str, draft: ArticleDraft) -> str:
    """Update or create one article; returns "created" or "updated"."""
    if await _known(pool, shop, draft.article_number):
        try:
            await _put(client, draft)
            return "updated"
        except FortnoxApiError as exc:
            if exc.code != ARTICLE_NOT_FOUND:
                raise
            # Deleted in Fortnox since: create it again below.
    try:
        await client.request("POST", "/3/articles", body={"Article": draft.fields})
        return "created"
    except FortnoxApiError:
        if not await _exists(client, draft.article_number):
            raise
        await _put(client, draft)  # created in Fortnox by someone else meanwhile
        return "updated"


async def sync_articles(
    pool: asyncpg.Pool,
    leases: Leases,
    client: FortnoxClient,
    shop: str,
    articles: list[ArticleDraft],
) -> str:
    """Create or update every article; returns their numbers (the result's "document")."""
    await load_article_index(pool, leases, client, shop)
    for draft in articles:
        async with leases.hold(f"article:{shop}:{draft.article_number}", wait=60.0):
            await _upsert(pool, client, shop, draft)
            await pool.execute(
                "INSERT INTO fortnox_writer.articles (shop, article_number) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING",
                shop,
                draft.article_number,
            )
    numbers = ", ".join(draft.article_number for draft in articles)
    return numbers if len(numbers) <= 200 else f"{len(articles)} articles"


async def sync_customer(
    masterdata: MasterData, client: FortnoxClient, shop: str, draft: CustomerDraft
) -> str:
    """Find or create the customer, then bring its fields up to date; returns its number."""
    number = await masterdata.customer_number(shop, client, draft)
    await client.request(
        "PUT",
        f"/3/customers/{path_segment(number)}",
        body={"Customer": _updatable(draft.fields)},
    )
    return number
