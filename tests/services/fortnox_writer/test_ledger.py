"""The document ledger (services/fortnox_writer/ledger.py) alone, against the real PostgreSQL:
one row per key ever, the attempt counted before a call, what a made document records, and the
first Fortnox company it was made in kept. Fast and in-process (bench/mutation.py runs it)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest

from fortbridge.localstack import order_command
from libs.common import database
from libs.common.messages import FortnoxCommand, SourceRef
from services.fortnox_writer.ledger import CreatedDocument, DocumentLedger, DocumentRecord
from services.fortnox_writer.service import definition
from simulators.shopify.payloads import order_payload


@pytest.fixture
async def ledger(pool: asyncpg.Pool) -> AsyncIterator[DocumentLedger]:
    assert definition.migrations is not None
    await database.migrate(pool, "fortnox_writer", definition.migrations)
    yield DocumentLedger(pool)


def _command() -> FortnoxCommand:
    return order_command(f"ledger-{uuid.uuid4().hex[:8]}.myshopify.com", order_payload())


async def _row(ledger: DocumentLedger, key: str) -> asyncpg.Record:
    """Columns the ledger writes for operators (not part of its DocumentRecord)."""
    row = await ledger._pool.fetchrow(
        "SELECT action, target_document_key, last_error FROM fortnox_writer.documents"
        " WHERE document_key = $1",
        key,
    )
    assert row is not None
    return row


async def test_a_key_is_opened_once_as_pending_and_then_found(ledger: DocumentLedger) -> None:
    command = _command()
    assert command.document is not None
    first = await ledger.open(command)
    assert first == DocumentRecord(
        key=command.document_key,
        status="pending",
        attempts=0,
        document_number=None,
        fortnox_total=None,
        kind="invoice",
        external_reference=command.document.external_reference,
    )
    assert not first.made
    # Opened again (a redelivery, another replica): the same row, nothing reset.
    await ledger.count_attempt(command.document_key)
    again = await ledger.open(command, kind="order", external_reference="other")
    assert again.attempts == 1 and again.kind == "invoice"
    assert again.external_reference == command.document.external_reference
    assert await ledger.get(command.document_key) == again
    assert await ledger.get("no-such-key") is None


async def test_a_key_committed_by_another_replica_while_opening_waits_is_found(
    ledger: DocumentLedger,
) -> None:
    """The race behind a flaky CI run: our INSERT waits on another replica's uncommitted row
    for the same key, that replica commits, our INSERT does nothing and the statement's own
    SELECT (its snapshot older than the commit) sees nothing. The ledger reads it again."""
    command = _command()
    async with ledger._pool.acquire() as other:
        transaction = other.transaction()
        await transaction.start()
        await other.execute(
            "INSERT INTO fortnox_writer.documents (document_key, shop, command_id, kind,"
            " external_reference, action) VALUES ($1, $2, $3, 'invoice', 'by-the-other', $4)",
            command.document_key,
            command.shop,
            command.command_id,
            command.action,
        )
        opening = asyncio.create_task(ledger.open(command))
        await asyncio.sleep(0.3)
        assert not opening.done()  # waiting on the other replica's row
        await transaction.commit()
    record = await asyncio.wait_for(opening, 5)
    assert record.key == command.document_key and record.external_reference == "by-the-other"


async def test_two_replicas_opening_one_key_at_once_share_one_row(ledger: DocumentLedger) -> None:
    command = _command()
    records = await asyncio.gather(*(ledger.open(command) for _ in range(6)))
    assert len(set(records)) == 1


async def test_an_action_without_a_document_is_keyed_by_its_action_and_key(
    ledger: DocumentLedger,
) -> None:
    shop = f"ledger-{uuid.uuid4().hex[:8]}.myshopify.com"
    command = FortnoxCommand(
        shop=shop,
        command_id=uuid.uuid4().hex,
        action="reverse_document",
        document_key=f"{shop}:order:1:reverse",
        source=SourceRef(type="order", id="1"),
        target_document_key=f"{shop}:order:1:invoice",
    )
    record = await ledger.open(command)
    assert (record.kind, record.external_reference) == ("reverse_document", command.document_key)
    row = await _row(ledger, command.document_key)
    assert (row["action"], row["target_document_key"]) == (
        "reverse_document",
        f"{shop}:order:1:invoice",
    )
    named = await ledger.open(
        command.model_copy(update={"document_key": f"{shop}:order:2:reverse"}),
        kind="credit",
        external_reference="shopify-2-credit",
    )
    assert (named.kind, named.external_reference) == ("credit", "shopify-2-credit")


async def test_attempts_are_counted_and_the_reference_is_recorded_before_the_call(
    ledger: DocumentLedger,
) -> None:
    command = _command()
    key = command.document_key
    await ledger.open(command)
    for _ in range(3):
        await ledger.count_attempt(key)
    await ledger.set_external_reference(key, "shopify-1-v2")
    record = await ledger.get(key)
    assert record is not None
    assert (record.attempts, record.external_reference) == (3, "shopify-1-v2")


async def test_a_made_document_records_its_number_total_outcome_and_first_company(
    ledger: DocumentLedger,
) -> None:
    command = _command()
    key = command.document_key
    await ledger.open(command)
    await ledger.mark_failed(key, "Fortnox said no")
    failed = await ledger.get(key)
    assert failed is not None and failed.status == "failed" and not failed.made
    assert (await _row(ledger, key))["last_error"] == "Fortnox said no"  # for the operator
    made = CreatedDocument("1001", Decimal("186.90"))
    await ledger.mark_done(key, made, "created", made_in="tenant-a")
    record = await ledger.get(key)
    assert record is not None
    assert (record.status, record.document_number, record.fortnox_total) == (
        "created",
        "1001",
        Decimal("186.90"),
    )
    assert record.made and record.outcome == "created" and not record.finished
    assert (await _row(ledger, key))["last_error"] is None  # made: the old error is gone
    assert await ledger.made_in(key) == "tenant-a"
    # Done again (an edit): the first company stays; finished this time.
    await ledger.mark_done(key, made, "updated", made_in="tenant-b", finished=True)
    record = await ledger.get(key)
    assert record is not None and record.finished and record.outcome == "updated"
    assert await ledger.made_in(key) == "tenant-a"
    # A late failure never turns a made document back into a failed one.
    await ledger.mark_failed(key, "late")
    record = await ledger.get(key)
    assert record is not None and record.status == "created"
    assert await ledger.made_in("no-such-key") is None


async def test_nothing_written_records_no_company(ledger: DocumentLedger) -> None:
    command = _command()
    await ledger.open(command)
    await ledger.mark_done(
        command.document_key, CreatedDocument("7", None), "skipped", made_in=None
    )
    assert await ledger.made_in(command.document_key) is None
    await ledger.mark_finished(command.document_key)
    record = await ledger.get(command.document_key)
    assert record is not None and record.finished and record.fortnox_total is None


async def test_totals_applied_versions_and_bookkeeping_are_recorded(
    ledger: DocumentLedger,
) -> None:
    command = _command()
    key = command.document_key
    await ledger.open(command)
    await ledger.set_totals(key, Decimal("100.00"), True)
    await ledger.set_totals(key, None, False)  # no total: the last one stays
    record = await ledger.get(key)
    assert record is not None
    assert (record.fortnox_total, record.totals_ok, record.booked) == (
        Decimal("100.00"),
        False,
        False,
    )
    at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    await ledger.set_applied(key, at, Decimal("120.00"))
    await ledger.set_applied(key, None, None)  # nothing new: both stay
    await ledger.mark_booked(key)
    record = await ledger.get(key)
    assert record is not None
    assert (record.source_updated_at, record.fortnox_total, record.booked) == (
        at,
        Decimal("120.00"),
        True,
    )


async def test_a_timed_out_write_settles_for_the_given_seconds(ledger: DocumentLedger) -> None:
    command = _command()
    key = command.document_key
    await ledger.open(command)
    assert await ledger.settling(key, 30.0) == 0.0  # never timed out
    await ledger.mark_timed_out(key)
    remaining = await ledger.settling(key, 30.0)
    assert 29.0 < remaining <= 30.0
    assert await ledger.settling(key, 0.0) == 0.0  # already settled
