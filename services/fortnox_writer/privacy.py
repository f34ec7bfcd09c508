"""Shopify's redact webhooks, for what the writer holds outside Fortnox.

``customers/redact``: the customer's rows in the customer register mirror are deleted, and the
mirror is marked for a full re-read from Fortnox (which keeps its own customer by bookkeeping
law), so a later order of that e-mail is still matched, never duplicated. ``shop/redact``:
everything the writer holds for the shop goes: its Fortnox tokens, mirrors, set-aside commands,
the document ledger, its connect attempts and the audit of its connections. Booked documents in
Fortnox stay (bookkeeping law); see docs/shopify-app.md. Commands still waiting to run keep their
data until they have run: they make the books.
"""

from __future__ import annotations

import asyncpg

from libs.common.logs import get_logger
from libs.common.privacy import Redaction
from services.fortnox_writer.customer_register import CUSTOMERS, normal

log = get_logger(__name__)

SHOP_TABLES = (
    "connect_tickets",
    "oauth_states",
    "connection_audit",
    "deferred_commands",
    "customer_register",
    "register_creations",
    "registers",
    "articles",
    "documents",
    "preflight_results",
    "connections",
)


async def redact(pool: asyncpg.Pool, redaction: Redaction) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if redaction.scope == "shop":
            await conn.execute(
                "DELETE FROM fortnox_writer.document_links WHERE target_key LIKE $1 || ':%'",
                redaction.shop,
            )
            for table in SHOP_TABLES:
                await conn.execute(
                    f"DELETE FROM fortnox_writer.{table} WHERE shop = $1", redaction.shop
                )
        elif redaction.email:
            await conn.execute(
                "DELETE FROM fortnox_writer.customer_register WHERE shop = $1 AND email = $2",
                redaction.shop,
                normal(redaction.email),
            )
            await conn.execute(
                "DELETE FROM fortnox_writer.register_creations"
                " WHERE shop = $1 AND match_key = 'email' AND match_value = $2",
                redaction.shop,
                normal(redaction.email),
            )
            await conn.execute(
                "DELETE FROM fortnox_writer.registers WHERE shop = $1 AND register = $2",
                redaction.shop,
                CUSTOMERS,
            )
    log.info("redaction applied", shop=redaction.shop, scope=redaction.scope)
