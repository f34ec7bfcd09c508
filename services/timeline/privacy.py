"""Shopify's redact webhooks, for the timeline.

System events hold Fortnox numbers, amounts, order names and error texts; notes are free text
people wrote and may name the customer. ``customers/redact`` replaces the notes on the listed
orders with a marker; ``shop/redact`` deletes the shop's whole timeline.
"""

from __future__ import annotations

import asyncpg

from libs.common.logs import get_logger
from libs.common.privacy import REDACTED, Redaction

log = get_logger(__name__)


async def redact(pool: asyncpg.Pool, redaction: Redaction) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if redaction.scope == "shop":
            await conn.execute("DELETE FROM timeline.events WHERE shop = $1", redaction.shop)
            await conn.execute("DELETE FROM timeline.order_status WHERE shop = $1", redaction.shop)
        elif redaction.order_ids:
            await conn.execute(
                "UPDATE timeline.events SET message = $3, updated_at = now()"
                " WHERE shop = $1 AND order_id = ANY($2::text[]) AND kind = 'note'",
                redaction.shop,
                list(redaction.order_ids),
                REDACTED,
            )
    log.info("redaction applied", shop=redaction.shop, scope=redaction.scope)
