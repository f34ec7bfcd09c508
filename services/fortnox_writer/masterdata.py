"""Customers and articles in Fortnox: found or created once, then cached with their numbers.

Fortnox searches are substring matches, so every candidate is compared exactly here. Creation is
serialized per customer/article key across replicas, so two orders never create the same
customer twice.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from libs.common.errors import PermanentError
from libs.common.messages import ArticleDraft, CustomerDraft
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient, path_segment
from services.fortnox_writer.leases import Leases

ARTICLE_NOT_FOUND = "2000428"
CUSTOMER_NOT_FOUND = "2000433"


class MasterData:
    def __init__(self, pool: asyncpg.Pool, leases: Leases) -> None:
        self._pool = pool
        self._leases = leases

    async def customer_number(self, shop: str, client: FortnoxClient, draft: CustomerDraft) -> str:
        cached = await self._cached_customer(shop, draft)
        if cached:
            return cached
        key = f"customer:{shop}:{draft.match_key}:{draft.match_value}"
        async with self._leases.hold(key, wait=60.0):
            cached = await self._cached_customer(shop, draft)
            if cached:
                return cached
            number = await self._find_customer(client, draft)
            if number is None:
                created = await client.request(
                    "POST", "/3/customers", body={"Customer": draft.fields}
                )
                number = str(created["Customer"]["CustomerNumber"])
            await self._pool.execute(
                """
                INSERT INTO fortnox_writer.customers (shop, match_key, match_value, customer_number)
                VALUES ($1, $2, $3, $4)
                ON CONFLICT (shop, match_key, match_value)
                DO UPDATE SET customer_number = EXCLUDED.customer_number, updated_at = now()
                """,
                shop,
                draft.match_key,
                draft.match_value,
                number,
            )
            return number

    async def _cached_customer(self, shop: str, draft: CustomerDraft) -> str | None:
        value = await self._pool.fetchval(
            """
            SELECT customer_number FROM fortnox_writer.customers
            WHERE shop = $1 AND match_key = $2 AND match_value = $3
            """,
            shop,
            draft.match_key,
            draft.match_value,
        )
        return str(value) if value is not None else None

    async def _find_customer(self, client: FortnoxClient, draft: CustomerDraft) -> str | None:
        param, field = {
            "email": ("email", "Email"),
            "organisation_number": ("organisationnumber", "OrganisationNumber"),
            "default": ("name", "Name"),
        }[draft.match_key]
        listing = await client.request(
            "GET", "/3/customers", params={param: draft.match_value, "limit": "500"}
        )
        wanted = _normal(draft.match_value)
        matches = sorted(
            (
                row
                for row in listing.get("Customers", [])
                if _normal(str(row.get(field) or "")) == wanted
            ),
            key=lambda row: _number_sort_key(str(row.get("CustomerNumber"))),
        )
        if not matches:
            return None
        if len(matches) > 1 and draft.match_key != "default":
            raise PermanentError(
                f"{len(matches)} Fortnox customers have the {field} used to match this order",
                code="ambiguous_customer",
                explanation=(
                    f"Several Fortnox customers share this {field}, so Fortbridge will not guess "
                    "which one the order belongs to. Merge or correct them in Fortnox, then replay."
                ),
                details={"customer_numbers": [str(row.get("CustomerNumber")) for row in matches]},
            )
        return str(matches[0]["CustomerNumber"])

    async def forget_customer(self, shop: str, draft: CustomerDraft) -> None:
        await self._pool.execute(
            "DELETE FROM fortnox_writer.customers WHERE shop = $1 AND match_key = $2"
            " AND match_value = $3",
            shop,
            draft.match_key,
            draft.match_value,
        )

    async def ensure_article(self, shop: str, client: FortnoxClient, draft: ArticleDraft) -> None:
        if await self._article_known(shop, draft.article_number):
            return
        async with self._leases.hold(f"article:{shop}:{draft.article_number}", wait=60.0):
            if await self._article_known(shop, draft.article_number):
                return
            try:
                await client.request("GET", f"/3/articles/{path_segment(draft.article_number)}")
            except FortnoxApiError as exc:
                if exc.code != ARTICLE_NOT_FOUND:
                    raise
                await client.request("POST", "/3/articles", body={"Article": draft.fields})
            await self._pool.execute(
                "INSERT INTO fortnox_writer.articles (shop, article_number) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING",
                shop,
                draft.article_number,
            )

    async def _article_known(self, shop: str, article_number: str) -> bool:
        return bool(
            await self._pool.fetchval(
                "SELECT 1 FROM fortnox_writer.articles WHERE shop = $1 AND article_number = $2",
                shop,
                article_number,
            )
        )

    async def forget_articles(self, shop: str, article_numbers: list[str]) -> None:
        await self._pool.execute(
            "DELETE FROM fortnox_writer.articles WHERE shop = $1 AND article_number = ANY($2)",
            shop,
            article_numbers,
        )


def _normal(value: str) -> str:
    return value.strip().casefold()


def _number_sort_key(value: str) -> tuple[int, Any]:
    return (0, int(value)) if value.isdigit() else (1, value)
