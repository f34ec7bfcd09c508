"""The document ledger (``fortnox_writer.documents``): one row per document key, ever.

Fortnox has no idempotency key. Each document has a key from its source (shop, Shopify object,
document kind) and an ExternalInvoiceReference1 derived from it. Before the create call the
attempt is counted here (committed); if a later attempt finds the count above zero, the earlier
call may have reached Fortnox (timeout, dropped connection after commit, writer killed), so the
operation searches Fortnox by the reference (``fortnox_documents.find``) and adopts what it finds
instead of creating another. Only one replica works on a key at a time (a lease). The row also
says whether the document's totals were checked against the order's (``totals_ok``), and in which
Fortnox company (tenant) the document was made (``tenant_id``): a later credit, payment or edit
of it is refused in any other company (``operations/base.py``, ``document_in_other_company``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from libs.common import database
from libs.common.messages import FortnoxCommand


@dataclass(frozen=True)
class DocumentRecord:
    key: str
    status: str
    attempts: int
    document_number: str | None
    fortnox_total: Decimal | None
    kind: str = "invoice"
    external_reference: str = ""
    outcome: str | None = None
    finished: bool = False
    source_updated_at: datetime | None = None
    totals_ok: bool | None = None  # None: not checked (or nothing to check against)
    booked: bool = False  # Fortbridge bookkept it

    @property
    def made(self) -> bool:
        """Fortnox holds this key's document (or action) and its number is recorded."""
        return self.status == "created" and self.document_number is not None


@dataclass(frozen=True)
class CreatedDocument:
    """A Fortnox document as its answer described it (totals as Fortnox computed them)."""

    number: str
    total: Decimal | None
    total_vat: Decimal | None = None
    round_off: Decimal | None = None


class DocumentLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def open(
        self,
        command: FortnoxCommand,
        *,
        kind: str | None = None,
        external_reference: str | None = None,
    ) -> DocumentRecord:
        """The document's record, created as pending on first sight."""
        row = await database.insert_or_read(
            self._pool,
            """
            WITH inserted AS (
                INSERT INTO fortnox_writer.documents
                    (document_key, shop, command_id, kind, external_reference, action,
                     target_document_key)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (document_key) DO NOTHING
                RETURNING *
            )
            SELECT * FROM inserted
            UNION ALL
            SELECT * FROM fortnox_writer.documents WHERE document_key = $1
            LIMIT 1
            """,
            command.document_key,
            command.shop,
            command.command_id,
            kind or (command.document.kind if command.document else command.action),
            external_reference
            or (command.document.external_reference if command.document else command.document_key),
            command.action,
            command.target_document_key,
        )
        return _record(row)

    async def made_in(self, key: str) -> str | None:
        """The Fortnox company (tenant) the key's document was made in, if known."""
        tenant: str | None = await self._pool.fetchval(
            "SELECT tenant_id FROM fortnox_writer.documents WHERE document_key = $1", key
        )
        return tenant

    async def get(self, key: str) -> DocumentRecord | None:
        row = await self._pool.fetchrow(
            "SELECT * FROM fortnox_writer.documents WHERE document_key = $1", key
        )
        return None if row is None else _record(row)

    async def set_external_reference(self, key: str, reference: str) -> None:
        """Intent: the reference the document of this key will carry (before the call)."""
        await self._pool.execute(
            "UPDATE fortnox_writer.documents SET external_reference = $2, updated_at = now()"
            " WHERE document_key = $1",
            key,
            reference,
        )

    async def mark_done(
        self,
        key: str,
        made: CreatedDocument,
        outcome: str,
        *,
        made_in: str | None,
        finished: bool = False,
    ) -> None:
        """The Fortnox write of this key is made (its follow-ups may still be to do).

        ``made_in``: the Fortnox company (tenant) the write went to (None: nothing was written,
        e.g. a stale edit skipped); the first one recorded stays.
        """
        await self._pool.execute(
            """
            UPDATE fortnox_writer.documents
            SET status = 'created', document_number = $2, fortnox_total = $3, outcome = $4,
                finished_at = CASE WHEN $5 THEN now() ELSE finished_at END,
                last_error = NULL, updated_at = now(), tenant_id = COALESCE(tenant_id, $6)
            WHERE document_key = $1
            """,
            key,
            made.number,
            made.total,
            outcome,
            finished,
            made_in,
        )

    async def mark_timed_out(self, key: str) -> None:
        """A write of this key timed out on our side: Fortnox may still commit it late."""
        await self._pool.execute(
            "UPDATE fortnox_writer.documents SET timed_out_at = clock_timestamp()"
            " WHERE document_key = $1",
            key,
        )

    async def settling(self, key: str, seconds: float) -> float:
        """Seconds until ``seconds`` have passed since the key's last timeout (0: passed)."""
        remaining = await self._pool.fetchval(
            """
            SELECT GREATEST(0, $2 - extract(epoch FROM clock_timestamp() - timed_out_at))
            FROM fortnox_writer.documents WHERE document_key = $1 AND timed_out_at IS NOT NULL
            """,
            key,
            seconds,
        )
        return 0.0 if remaining is None else float(remaining)

    async def mark_finished(self, key: str) -> None:
        await self._pool.execute(
            "UPDATE fortnox_writer.documents SET finished_at = now(), updated_at = now()"
            " WHERE document_key = $1",
            key,
        )

    async def set_applied(
        self, key: str, updated_at: datetime | None, total: Decimal | None
    ) -> None:
        """A newer version of the source was applied to the document of ``key``."""
        await self._pool.execute(
            """
            UPDATE fortnox_writer.documents
            SET source_updated_at = COALESCE($2, source_updated_at),
                fortnox_total = COALESCE($3, fortnox_total), updated_at = now()
            WHERE document_key = $1
            """,
            key,
            updated_at,
            total,
        )

    async def count_attempt(self, key: str) -> None:
        """Committed before the create call: from now on the outcome may be ambiguous."""
        await self._pool.execute(
            "UPDATE fortnox_writer.documents SET attempts = attempts + 1, updated_at = now()"
            " WHERE document_key = $1",
            key,
        )

    async def mark_booked(self, key: str) -> None:
        await self._pool.execute(
            "UPDATE fortnox_writer.documents SET booked_at = now() WHERE document_key = $1", key
        )

    async def set_totals(self, key: str, total: Decimal | None, ok: bool | None) -> None:
        """What Fortnox computed, and whether it equals what the order says."""
        await self._pool.execute(
            "UPDATE fortnox_writer.documents SET fortnox_total = COALESCE($2, fortnox_total),"
            " totals_ok = $3, updated_at = now() WHERE document_key = $1",
            key,
            total,
            ok,
        )

    async def mark_failed(self, key: str, error: str) -> None:
        await self._pool.execute(
            "UPDATE fortnox_writer.documents SET status = 'failed', last_error = $2,"
            " updated_at = now() WHERE document_key = $1 AND status <> 'created'",
            key,
            error,
        )


def _record(row: asyncpg.Record) -> DocumentRecord:
    return DocumentRecord(
        key=row["document_key"],
        status=row["status"],
        attempts=row["attempts"],
        document_number=row["document_number"],
        fortnox_total=row["fortnox_total"],
        kind=row["kind"],
        external_reference=row["external_reference"],
        outcome=row["outcome"],
        finished=row["finished_at"] is not None,
        source_updated_at=row["source_updated_at"],
        totals_ok=row["totals_ok"],
        booked=row["booked_at"] is not None,
    )
