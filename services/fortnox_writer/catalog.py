"""Articles and customers from the catalog (product and customer webhooks, bulk syncs).

``sync_articles``: each article is updated in place (PUT), or created when Fortnox does not
have it (404, code 2000428). ``sync_customer``: the customer is found or created exactly like an
order's customer (matched exactly on e-mail or organisation number), then its fields updated.
Each runs under the same per-article/customer lease as order processing, so replicas never
create one twice. The command's key names the object's version: the ledger makes each version
run once, so an unchanged catalog synced again costs no Fortnox call.
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


def _updatable(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if name not in _READ_ONLY}


async def sync_articles(
    pool: asyncpg.Pool,
    leases: Leases,
    client: FortnoxClient,
    shop: str,
    articles: list[ArticleDraft],
) -> str:
    """Create or update every article; returns their numbers (the result's "document")."""
    created = updated = 0
    for draft in articles:
        number = draft.article_number
        async with leases.hold(f"article:{shop}:{number}", wait=60.0):
            try:
                await client.request(
                    "PUT",
                    f"/3/articles/{path_segment(number)}",
                    body={"Article": _updatable(draft.fields)},
                )
                updated += 1
            except FortnoxApiError as exc:
                if exc.code != ARTICLE_NOT_FOUND:
                    raise
                await client.request("POST", "/3/articles", body={"Article": draft.fields})
                created += 1
            await pool.execute(
                "INSERT INTO fortnox_writer.articles (shop, article_number) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING",
                shop,
                number,
            )
    numbers = ", ".join(draft.article_number for draft in articles)
    return numbers if len(numbers) <= 200 else f"{created + updated} articles"


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
