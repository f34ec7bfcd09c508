"""Helpers for the writer's scheduling tests (one writer in process, commands fed directly)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aio_pika
import asyncpg

from fortbridge.localstack import LocalStack
from libs.common.messages import FortnoxCommand
from libs.common.messaging import Topology


def invoices_of(stack: LocalStack, tenant_id: str, order_id: int | str) -> list[Any]:
    reference = f"shopify-{order_id}"
    return [
        invoice
        for invoice in stack.fortnox.tenant(tenant_id).invoices.values()
        if invoice.get("ExternalInvoiceReference1") == reference
    ]


def with_vat(command: FortnoxCommand, vat: Decimal) -> FortnoxCommand:
    """The command with every row at another VAT rate."""
    assert command.document is not None
    rows = [row.model_copy(update={"vat": vat}) for row in command.document.rows]
    document = command.document.model_copy(update={"rows": rows})
    return command.model_copy(update={"document": document})


async def deferred_counts(pool: asyncpg.Pool, shop: str) -> dict[str, int]:
    rows = await pool.fetch(
        "SELECT reason, count(*) AS n FROM fortnox_writer.deferred_commands WHERE shop = $1"
        " GROUP BY reason",
        shop,
    )
    return {row["reason"]: int(row["n"]) for row in rows}


async def settled(pool: asyncpg.Pool, shop: str | None = None) -> bool:
    """The writer has nothing left to do (for the shop): no command set aside, every document
    it opened finished or failed. Waiting for this replaces "sleep, then check that nothing more
    happened": once it holds, nothing more will."""
    waiting = await pool.fetchval(
        "SELECT count(*) FROM fortnox_writer.deferred_commands WHERE $1::text IS NULL OR shop = $1",
        shop,
    )
    open_documents = await pool.fetchval(
        "SELECT count(*) FROM fortnox_writer.documents WHERE ($1::text IS NULL OR shop = $1)"
        " AND finished_at IS NULL AND status <> 'failed'",
        shop,
    )
    return waiting == 0 and open_documents == 0


async def forget_deferred(pool: asyncpg.Pool) -> None:
    """The run's tests share a database: leave no deferred rows for the next test's writer."""
    await pool.execute("DELETE FROM fortnox_writer.deferred_commands")


async def dead_letters(amqp_url: str, topology: Topology) -> list[dict[str, Any]]:
    """The headers of every message dead-lettered so far (taken off the queue)."""
    found: list[dict[str, Any]] = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(topology.dead_letter_queue, ensure=True)
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            found.append(
                {
                    key: value.decode() if isinstance(value, bytes) else value
                    for key, value in (message.headers or {}).items()
                }
            )
    return found
