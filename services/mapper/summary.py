"""Summary mode's records and the closing of days (accounting/summaries.py has the rules).

``absorb``: inside the handler's per-order transaction, the documents the planner made for an
order booked in summary mode become entries (``mapper.summary_entries``, one per planned key,
ever) instead of commands; the order's timeline gets a ``summarized`` result naming the
summary that will hold it: batch 1, or the next batch of a day already closed (an order that
arrives late goes into ``…:2``). Absorbing holds the shop's summary lock shared and closing
holds it exclusively, so no closing runs between the batch read here and the entry's commit:
the next closing of that group makes exactly that batch. A whole refund or cancellation
(``reverse_document``) negates the order's entry on the day it happened; payments and edits of
a summarized order are not sent (recorded with the reason).

``close_due``: every ``SUMMARY_CLOSE_INTERVAL_SECONDS`` the mapper closes the days whose close
time passed: per shop (an advisory lock) and (day, currency, VAT profile, sales or refunds), the
open entries become one summary document command (batch 1, or the next batch when the day was
closed before and late entries came), published before the entries are marked with its key in
the same transaction; a crash in between re-publishes the same key and content, which the
writer makes once.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from libs.common.errors import TransientError
from libs.common.logs import get_logger
from libs.common.messages import FortnoxCommand, ShopifyEvent, SyncResult
from libs.common.service import Runtime
from libs.common.tracing import current_trace_id
from services.mapper.accounting.invoices import timestamp
from services.mapper.accounting.planner import Plan
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.summaries import (
    Entry,
    SummaryKind,
    entry_of,
    reversal_of,
    summary_command,
    summary_key,
    summary_payments,
)
from services.mapper.store import load_shop_settings

log = get_logger(__name__)


def _json(entry: Entry) -> str:
    return json.dumps(
        {
            "rows": {k: str(v) for k, v in entry.rows.items()},
            "total": str(entry.total),
            "vat_included": entry.vat_included,
            "vat_type": entry.vat_type,
            "currency_rate": None if entry.currency_rate is None else str(entry.currency_rate),
            "payments": {mode: str(amount) for mode, amount in entry.payments.items()},
        }
    )


def _entry(row: Any) -> Entry:
    data = json.loads(row["entry"])
    return Entry(
        kind=row["kind"],
        day=row["day"],
        closes_at=row["closes_at"],
        currency=row["currency"],
        vat_included=bool(data["vat_included"]),
        vat_type=str(data["vat_type"]),
        rows={k: Decimal(v) for k, v in data["rows"].items()},
        total=Decimal(data["total"]),
        currency_rate=None if data["currency_rate"] is None else Decimal(data["currency_rate"]),
        payments={m: Decimal(a) for m, a in (data.get("payments") or {}).items()},
    )


async def is_summarized(conn: Any, shop: str, order_id: str) -> bool:
    """Is the order booked in summary mode (whatever the rules say now)?"""
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM mapper.summary_entries WHERE shop = $1 AND order_id = $2 LIMIT 1",
            shop,
            order_id,
        )
    )


def _lock_name(shop: str) -> str:
    """The shop's summary lock: closing holds it exclusively, absorbing shared."""
    return f"mapper:summary:{shop}"


async def _holder(conn: Any, shop: str, source_key: str, entry: Entry) -> str:
    """The key of the summary that holds (or will hold) the entry: the one it was closed into,
    else the next batch of its (day, currency, profile, kind) (1 while the day is open). Exact
    only under the shop's summary lock (shared), which ``absorb`` holds."""
    closed = await conn.fetchval(
        "SELECT summary_key FROM mapper.summary_entries WHERE shop = $1 AND source_key = $2",
        shop,
        source_key,
    )
    if closed is not None:
        return str(closed)
    group = (entry.day, entry.currency, entry.profile, entry.kind)
    batch = 1 + int(
        await conn.fetchval(
            """
            SELECT coalesce(max(batch), 0) FROM mapper.summary_entries
            WHERE shop = $1 AND day = $2 AND currency = $3 AND profile = $4 AND kind = $5
            """,
            shop,
            *group,
        )
    )
    return summary_key(shop, group, batch)


async def _insert(
    conn: Any, shop: str, key: str, order_id: str, source: tuple[str, str], entry: Entry
) -> None:
    await conn.execute(
        """
        INSERT INTO mapper.summary_entries (shop, source_key, order_id, source_type, source_id,
            kind, day, closes_at, currency, profile, entry)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)
        ON CONFLICT (shop, source_key) DO NOTHING
        """,
        shop,
        key,
        order_id,
        source[0],
        source[1],
        entry.kind,
        entry.day,
        entry.closes_at,
        entry.currency,
        entry.profile,
        _json(entry),
    )


async def _paid(conn: Any, shop: str, command: FortnoxCommand) -> bool | FortnoxCommand | None:
    """A payment of a summarized order (or money paid back on its refund): kept on the entry
    of the document it pays (True), registered on the summary as part of one payment per mode
    when the day closes. A payment that comes after its day closed is registered on its own on
    the summary document that holds the order (the command returned). None: not summarized."""
    payment = command.payment
    assert payment is not None
    row = await conn.fetchrow(
        "SELECT id, entry::text AS entry, summary_key FROM mapper.summary_entries"
        " WHERE shop = $1 AND source_key = $2 FOR UPDATE",
        shop,
        command.target_document_key,
    )
    if row is None:
        return None
    if row["summary_key"] is not None:
        return command.model_copy(update={"target_document_key": row["summary_key"]})
    data = json.loads(row["entry"])
    done = set(data.get("payment_keys") or [])
    if command.document_key in done:
        return True
    payments = data.get("payments") or {}
    mode = payment.mode_of_payment
    payments[mode] = str(Decimal(payments.get(mode, "0")) + payment.amount)
    data["payments"] = payments
    data["payment_keys"] = sorted(done | {command.document_key})
    await conn.execute(
        "UPDATE mapper.summary_entries SET entry = $2::jsonb WHERE id = $1",
        row["id"],
        json.dumps(data),
    )
    return True


def _moment(event: ShopifyEvent) -> datetime:
    """When the order or refund happened (a refund goes to the day it happened)."""
    field = "processed_at" if event.topic == "refunds/create" else "created_at"
    for name in (field, "created_at", "updated_at"):
        moment = timestamp(event.payload.get(name))
        if moment is not None:
            return moment
    return event.received_at


async def absorb(
    conn: Any, event: ShopifyEvent, plan: Plan, settings: ShopSettings, order_id: str
) -> tuple[list[SyncResult], list[FortnoxCommand], str | None]:
    """The plan's documents as summary entries: the results to publish, the commands still to
    send (payments that came after their day closed) and a skip reason."""
    results: list[SyncResult] = []
    late: list[FortnoxCommand] = []
    held = 0
    moment = _moment(event)
    await conn.execute(
        "SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))", _lock_name(event.shop)
    )
    ignored: list[str] = []
    for command in plan.commands:
        entry: Entry | None = None
        if command.action == "create_document" and command.document is not None:
            kind: SummaryKind = "refunds" if command.target_document_key else "sales"
            entry = entry_of(command, kind, moment, settings)
        elif command.action == "reverse_document" and command.target_document_key:
            row = await conn.fetchrow(
                "SELECT * FROM mapper.summary_entries WHERE shop = $1 AND source_key = $2",
                event.shop,
                command.target_document_key,
            )
            if row is not None:
                entry = reversal_of(_entry(row), moment, settings)
        elif command.action == "register_payment" and command.payment is not None:
            kept = await _paid(conn, event.shop, command)
            if isinstance(kept, FortnoxCommand):
                late.append(kept)
            elif kept:
                held += 1
            if kept is not None:
                continue
        if entry is None:
            ignored.append(command.action)
            continue
        source = (command.source.type, command.source.id)
        await _insert(conn, event.shop, command.document_key, order_id, source, entry)
        key = await _holder(conn, event.shop, command.document_key, entry)
        results.append(
            SyncResult(
                shop=event.shop,
                command_id=command.command_id,
                document_key=key,
                source=command.source,
                status="summarized",
                action=command.action,
                document_kind="invoice",
                expected_total=entry.total,
                currency=entry.currency,
                explanation=f"booked in the daily summary of {entry.day} ({entry.profile})",
                trace_id=current_trace_id(),
            )
        )
    reason = None
    if held and not results and not late:
        reason = f"{held} payment(s) kept for the daily summary, registered when the day closes"
    elif ignored and not results and not late:
        reason = (
            "the order is booked in a daily summary: "
            + ", ".join(sorted(set(ignored)))
            + " of a single order is not sent to Fortnox"
        )
    return results, late, reason


def summary_made(result: SyncResult) -> bool:
    """Is this the writer's result of a summary document made (or found) in Fortnox?"""
    return (
        result.source.type == "summary"
        and result.action == "create_document"
        and result.status in ("synced", "already_synced")
        and result.document_number is not None
    )


async def summary_holdings(conn: Any, shop: str, summary_key: str) -> list[tuple[str, str]]:
    """(order id, sales | refunds) of each order the summary document holds. Read-only, for
    the timeline and ingest's order list (docs/architecture.md: the mapper owns this query of
    its own table). The close publishes a summary's command inside the transaction that names
    the summary on its entries, so the writer's result can come before that commit: every
    summary holds an entry, so none yet is a :class:`TransientError` (retried through the wait
    queues), never an empty answer."""
    rows = await conn.fetch(
        "SELECT DISTINCT order_id, kind FROM mapper.summary_entries"
        " WHERE shop = $1 AND summary_key = $2 ORDER BY order_id, kind",
        shop,
        summary_key,
    )
    if not rows:
        raise TransientError(
            f"the summary {summary_key} holds no orders yet (its close is not committed); retried"
        )
    return [(row["order_id"], row["kind"]) for row in rows]


async def summary_order_totals(
    conn: Any, shop: str, summary_key: str
) -> dict[str, tuple[Decimal, str]]:
    """Each order's sales total in the summary document (the sum of its entries there) and
    its currency. Read-only, for the order's Shopify status once the summary is made (the
    timeline; the summary's own total is the whole day's)."""
    rows = await conn.fetch(
        "SELECT order_id, kind, day, closes_at, currency, entry FROM mapper.summary_entries"
        " WHERE shop = $1 AND summary_key = $2 AND kind = 'sales' ORDER BY order_id",
        shop,
        summary_key,
    )
    totals: dict[str, tuple[Decimal, str]] = {}
    for row in rows:
        entry = _entry(row)
        earlier, _ = totals.get(row["order_id"], (Decimal("0"), entry.currency))
        totals[row["order_id"]] = (earlier + entry.total, entry.currency)
    return totals


# --- closing days ------------------------------------------------------------------------


async def close_due(
    runtime: Runtime, defaults: dict[str, Any], now: datetime | None = None
) -> list[FortnoxCommand]:
    """Close every day whose close time passed; the summary commands published."""
    pool = runtime.pool
    moment = now or datetime.now(UTC)
    shops = await pool.fetch(
        "SELECT DISTINCT shop FROM mapper.summary_entries"
        " WHERE summary_key IS NULL AND closes_at <= $1",
        moment,
    )
    made: list[FortnoxCommand] = []
    for row in shops:
        made += await _close_shop(runtime, row["shop"], defaults, moment)
    return made


async def _close_shop(
    runtime: Runtime, shop: str, defaults: dict[str, Any], moment: datetime
) -> list[FortnoxCommand]:
    made: list[FortnoxCommand] = []
    async with runtime.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", _lock_name(shop)
        )
        settings = await load_shop_settings(conn, shop, defaults)
        rows = await conn.fetch(
            """
            SELECT * FROM mapper.summary_entries
            WHERE shop = $1 AND summary_key IS NULL AND closes_at <= $2
            ORDER BY day, currency, profile, kind, id
            """,
            shop,
            moment,
        )
        groups: dict[tuple[date, str, str, str], list[Any]] = {}
        for row in rows:
            groups.setdefault(
                (row["day"], row["currency"], row["profile"], row["kind"]), []
            ).append(row)
        for group, members in groups.items():
            batch = 1 + int(
                await conn.fetchval(
                    """
                    SELECT coalesce(max(batch), 0) FROM mapper.summary_entries
                    WHERE shop = $1 AND day = $2 AND currency = $3 AND profile = $4 AND kind = $5
                    """,
                    shop,
                    *group,
                )
            )
            entries = [_entry(r) for r in members]
            command = summary_command(shop, group, batch, entries, settings)
            payments = summary_payments(shop, group, batch, entries, settings)
            for outgoing in (command, *payments):
                await runtime.publisher.publish(
                    outgoing, f"fortnox.command.{outgoing.action}", message_id=outgoing.command_id
                )
            await conn.execute(
                "UPDATE mapper.summary_entries SET summary_key = $2, batch = $3"
                " WHERE id = ANY($1::bigint[])",
                [r["id"] for r in members],
                command.document_key,
                batch,
            )
            made += [command, *payments]
            log.info(
                "summary day closed",
                shop=shop,
                summary=command.document_key,
                entries=len(members),
                total=str(command.expected_total),
            )
    return made


async def close_forever(runtime: Runtime, defaults: dict[str, Any]) -> None:
    """The closing loop of one mapper replica (the advisory lock makes replicas safe)."""
    interval = runtime.settings.summary_close_interval_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            await close_due(runtime, defaults)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("closing summary days failed")
