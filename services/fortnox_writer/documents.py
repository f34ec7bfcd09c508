"""Exactly-once Fortnox documents.

Fortnox has no idempotency key. Each document has a key from its source (shop, Shopify object,
document kind) and an ExternalInvoiceReference1 derived from it. Before the create call the
attempt is counted in ``fortnox_writer.documents`` (committed); if a later attempt finds the count
above zero, the earlier call may have reached Fortnox (timeout, dropped connection after commit,
writer killed), so it searches Fortnox by the reference, compares exactly (the search is a
substring match), and adopts the document it finds instead of creating another. Only one
replica works on a key at a time (a lease).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from libs.common.messages import DocumentDraft, FortnoxCommand
from services.fortnox_writer.client import FortnoxClient

_RESOURCES = {"invoice": ("/3/invoices", "Invoice", "Invoices", "InvoiceRows")}
_RESOURCES["order"] = ("/3/orders", "Order", "Orders", "OrderRows")


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

    @property
    def made(self) -> bool:
        """Fortnox holds this key's document (or action) and its number is recorded."""
        return self.status == "created" and self.document_number is not None


@dataclass(frozen=True)
class CreatedDocument:
    number: str
    total: Decimal | None


# The company a document is made in: the shop's connection when it is recorded as made (a
# switch in between is refused mid-command, handler.py).
MADE_IN = (
    "(SELECT c.tenant_id FROM fortnox_writer.connections c"
    " WHERE c.shop = fortnox_writer.documents.shop)"
)


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
        row = await self._pool.fetchrow(
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
        self, key: str, made: CreatedDocument, outcome: str, *, finished: bool = False
    ) -> None:
        """The Fortnox write of this key is made (its follow-ups may still be to do)."""
        await self._pool.execute(
            f"""
            UPDATE fortnox_writer.documents
            SET status = 'created', document_number = $2, fortnox_total = $3, outcome = $4,
                finished_at = CASE WHEN $5 THEN now() ELSE finished_at END,
                last_error = NULL, updated_at = now(), tenant_id = COALESCE(tenant_id, {MADE_IN})
            WHERE document_key = $1
            """,
            key,
            made.number,
            made.total,
            outcome,
            finished,
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

    async def mark_created(self, key: str, created: CreatedDocument) -> None:
        await self._pool.execute(
            f"""
            UPDATE fortnox_writer.documents
            SET status = 'created', document_number = $2, fortnox_total = $3, last_error = NULL,
                updated_at = now(), tenant_id = COALESCE(tenant_id, {MADE_IN})
            WHERE document_key = $1
            """,
            key,
            created.number,
            created.total,
        )

    async def mark_failed(self, key: str, error: str) -> None:
        await self._pool.execute(
            "UPDATE fortnox_writer.documents SET status = 'failed', last_error = $2,"
            " updated_at = now() WHERE document_key = $1 AND status <> 'created'",
            key,
            error,
        )


def document_body(draft: DocumentDraft, customer_number: str) -> dict[str, Any]:
    """The Fortnox document JSON for a draft."""
    _, single, _, rows_field = _RESOURCES[draft.kind]
    date_field = "InvoiceDate" if draft.kind == "invoice" else "OrderDate"
    quantity_field = "DeliveredQuantity" if draft.kind == "invoice" else "OrderedQuantity"
    rows: list[dict[str, Any]] = []
    for row in draft.rows:
        # Other row fields (Project, CostCenter, Unit, a rule's Description) go before what
        # Fortbridge computes, so they never replace the quantity, price, VAT or account.
        entry: dict[str, Any] = {
            "Description": row.description,
            **row.fields,
            quantity_field: row.quantity,
            "Price": row.price,
            "VAT": row.vat,
        }
        if draft.kind == "order":
            entry["DeliveredQuantity"] = row.quantity
        if row.article_number:
            entry["ArticleNumber"] = row.article_number
        if row.discount:
            entry["Discount"] = row.discount
            entry["DiscountType"] = row.discount_type
        if row.account_number is not None:
            entry["AccountNumber"] = row.account_number
        rows.append(entry)
    body: dict[str, Any] = {
        "CustomerNumber": customer_number,
        "Currency": draft.currency,
        "VATIncluded": draft.vat_included,
        "ExternalInvoiceReference1": draft.external_reference,
        "YourOrderNumber": draft.your_order_number,
        rows_field: rows,
        **draft.fields,
    }
    if draft.document_date:
        body[date_field] = draft.document_date
    return {single: body}


async def create(
    client: FortnoxClient, draft: DocumentDraft, customer_number: str
) -> CreatedDocument:
    path, single, _, _ = _RESOURCES[draft.kind]
    answer = await client.request("POST", path, body=document_body(draft, customer_number))
    return _created(answer[single])


async def find(client: FortnoxClient, draft: DocumentDraft) -> CreatedDocument | None:
    """The document with exactly this ExternalInvoiceReference1, if Fortnox has one."""
    path, single, plural, _ = _RESOURCES[draft.kind]
    listing = await client.request(
        "GET", path, params={"externalinvoicereference1": draft.external_reference}
    )
    for row in listing.get(plural, []):
        reference = row.get("ExternalInvoiceReference1")
        if reference is None:  # list rows may omit it: read the whole document
            full = await client.request("GET", f"{path}/{row['DocumentNumber']}")
            row = full[single]
            reference = row.get("ExternalInvoiceReference1")
        if reference == draft.external_reference and not row.get("Cancelled"):
            return _created(row)
    return None


def _created(document: dict[str, Any]) -> CreatedDocument:
    total = document.get("Total")
    return CreatedDocument(
        number=str(document["DocumentNumber"]),
        total=None if total is None else Decimal(str(total)),
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
    )
