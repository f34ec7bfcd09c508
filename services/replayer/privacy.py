"""Shopify's redact webhooks, for failed jobs (their message bodies can hold personal data).

``customers/redact``: the jobs of the listed orders, and any job whose message names the
customer's e-mail, lose their message body and their recorded details and are discarded (they
cannot be replayed without it; the reason says so). ``shop/redact``: the shop's jobs and their
audit entries are deleted.
"""

from __future__ import annotations

import asyncpg

from libs.common.logs import get_logger
from libs.common.privacy import Redaction

log = get_logger(__name__)

REDACTED_BODY = b'{"redacted": true}'


async def redact(pool: asyncpg.Pool, redaction: Redaction) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if redaction.scope == "shop":
            await conn.execute(
                "DELETE FROM replayer.audit_log WHERE job_id IN"
                " (SELECT id FROM replayer.failed_jobs WHERE shop = $1)",
                redaction.shop,
            )
            await conn.execute("DELETE FROM replayer.failed_jobs WHERE shop = $1", redaction.shop)
        else:
            await conn.execute(
                """
                UPDATE replayer.failed_jobs
                SET body = $4, details = NULL, status = 'discarded', queued_at = NULL,
                    status_reason = 'customers/redact: the customer''s data was removed',
                    status_changed_by = 'privacy', status_changed_at = now()
                WHERE shop = $1 AND (
                    object_id = ANY($2::text[])
                    OR ($3::text IS NOT NULL
                        AND position($3 IN lower(convert_from(body, 'UTF8'))) > 0)
                )
                """,
                redaction.shop,
                list(redaction.order_ids),
                redaction.email,
                REDACTED_BODY,
            )
    log.info("redaction applied", shop=redaction.shop, scope=redaction.scope)
