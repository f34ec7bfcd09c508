"""The mirror of the tenant's article register, so an order costs no look-up call.

Articles. The article number is the SKU, chosen by us, so no search is needed: the article list
is read once (pages of 500), then an unknown SKU costs one create; a create refused because the
number exists (made elsewhere meanwhile) is checked with one GET and adopted.

Companies: see register_state.py.
"""

from __future__ import annotations

import asyncpg

from libs.common.messages import ArticleDraft
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient, path_segment
from services.fortnox_writer.leases import Leases
from services.fortnox_writer.register_state import (
    CREATE_LEASE_WAIT,
    REGISTER_LEASE_WAIT,
    RegisterStates,
    list_all,
)

ARTICLE_NOT_FOUND = "2000428"
ARTICLES = "articles"


class ArticleRegister:
    def __init__(self, pool: asyncpg.Pool, leases: Leases) -> None:
        self._pool = pool
        self._leases = leases
        self._states = RegisterStates(pool)

    async def ensure_loaded(self, shop: str, client: FortnoxClient) -> None:
        """Read every article number of the tenant into the mirror, once."""
        state = await self._states.get(shop, ARTICLES)
        if state is not None and state.tenant_id == client.tenant_id:
            return
        async with self._leases.hold(f"register:{shop}:{ARTICLES}", wait=REGISTER_LEASE_WAIT):
            state = await self._states.get(shop, ARTICLES)
            if state is not None and state.tenant_id == client.tenant_id:
                return
            started = await self._states.now()
            tenant = client.tenant_id
            rows = await list_all(client, "/3/articles", "Articles")
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "DELETE FROM fortnox_writer.articles WHERE shop = $1 AND tenant_id = $2",
                    shop,
                    tenant,
                )
                await conn.executemany(
                    "INSERT INTO fortnox_writer.articles (shop, tenant_id, article_number)"
                    " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    [(shop, tenant, str(row["ArticleNumber"])) for row in rows],
                )
            await self._states.set(shop, ARTICLES, client.tenant_id, started)

    async def known(self, shop: str, tenant_id: str, article_number: str) -> bool:
        return bool(
            await self._pool.fetchval(
                "SELECT 1 FROM fortnox_writer.articles"
                " WHERE shop = $1 AND tenant_id = $2 AND article_number = $3",
                shop,
                tenant_id,
                article_number,
            )
        )

    async def remember(self, shop: str, tenant_id: str, article_number: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO fortnox_writer.articles (shop, tenant_id, article_number)"
                " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                shop,
                tenant_id,
                article_number,
            )
            await conn.execute(
                "DELETE FROM fortnox_writer.register_creations WHERE shop = $1"
                " AND tenant_id = $2 AND match_key = 'article' AND match_value = $3",
                shop,
                tenant_id,
                article_number,
            )

    async def forget(self, shop: str, tenant_id: str, article_numbers: list[str]) -> None:
        await self._pool.execute(
            "DELETE FROM fortnox_writer.articles"
            " WHERE shop = $1 AND tenant_id = $2 AND article_number = ANY($3)",
            shop,
            tenant_id,
            article_numbers,
        )

    async def ensure(self, shop: str, client: FortnoxClient, draft: ArticleDraft) -> None:
        """The article exists in Fortnox: known, or created now (one call)."""
        tenant = client.tenant_id
        await self.ensure_loaded(shop, client)
        if await self.known(shop, tenant, draft.article_number):
            return
        async with self._leases.hold(
            f"article:{shop}:{draft.article_number}", wait=CREATE_LEASE_WAIT
        ):
            if await self.known(shop, tenant, draft.article_number):
                return
            if not (
                await _intended(self._pool, shop, tenant, draft)
                and await exists(client, draft.article_number)
            ):
                await _intend(self._pool, shop, tenant, draft)
                await self.create(client, draft)
            await self.remember(shop, tenant, draft.article_number)

    async def create(self, client: FortnoxClient, draft: ArticleDraft) -> str:
        """POST the article; "created", or "exists" when Fortnox had it already."""
        try:
            await client.request("POST", "/3/articles", body={"Article": draft.fields})
        except FortnoxApiError:
            if not await exists(client, draft.article_number):
                raise
            return "exists"  # made elsewhere (or by our own earlier attempt) meanwhile
        return "created"


async def exists(client: FortnoxClient, article_number: str) -> bool:
    try:
        await client.request("GET", f"/3/articles/{path_segment(article_number)}")
    except FortnoxApiError as exc:
        if exc.code == ARTICLE_NOT_FOUND:
            return False
        raise
    return True


async def _intended(pool: asyncpg.Pool, shop: str, tenant_id: str, draft: ArticleDraft) -> bool:
    """An earlier attempt began creating this article (its answer may have been lost)."""
    return bool(
        await pool.fetchval(
            "SELECT 1 FROM fortnox_writer.register_creations WHERE shop = $1"
            " AND tenant_id = $2 AND match_key = 'article' AND match_value = $3",
            shop,
            tenant_id,
            draft.article_number,
        )
    )


async def _intend(pool: asyncpg.Pool, shop: str, tenant_id: str, draft: ArticleDraft) -> None:
    await pool.execute(
        "INSERT INTO fortnox_writer.register_creations (shop, tenant_id, match_key, match_value)"
        " VALUES ($1, $2, 'article', $3) ON CONFLICT DO NOTHING",
        shop,
        tenant_id,
        draft.article_number,
    )
