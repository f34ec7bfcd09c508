"""update_document: change the target in place while Fortnox allows it, else credit and re-invoice.

- Unbooked invoice (or an order not yet invoiced): ``PUT /3/invoices/{n}`` (``/3/orders/{n}``)
  with the new header and rows; the document keeps its ExternalInvoiceReference1. A PUT is the
  same whenever it is repeated, so a retry simply sends it again.
- Booked invoice: credit it (exactly once: Fortnox's CreditInvoiceReference), then create a
  replacement invoice whose ExternalInvoiceReference1 is the target's original reference with
  the version suffix ``-v{N}`` (N = 2, 3, ... per target, reserved in ``document_links`` before
  the first write, so a retry searches for and adopts the same replacement). The link row holds
  original, credit and replacement numbers; the replacement becomes the target's current
  document for later updates, reversals and payments.
- Totals: the answer of the PUT, or of the replacement's create, is checked against the
  command's ``expected_total`` and corrected like a created document's (``Steps.check_totals``).
- Stale: a command whose ``source.updated_at`` is not newer than the version last applied to
  the target changes nothing (result ``skipped``).
- A target already credited or cancelled by something else is not re-invoiced (a failed job
  with the reason): an edit must not bring back a document that was reversed on purpose.
"""

from __future__ import annotations

from typing import Any

from libs.common.errors import PermanentError
from libs.common.messages import DocumentDraft, ResultKind, SyncStatus
from services.fortnox_writer import credits, fortnox_documents
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient
from services.fortnox_writer.ledger import CreatedDocument
from services.fortnox_writer.links import Link
from services.fortnox_writer.operations.base import Outcome, Run, Steps, document_kind


class UpdateDocument:
    def __init__(self, steps: Steps) -> None:
        self._steps = steps
        self._ledger = steps.ledger
        self._links = steps.links

    async def run(self, run: Run) -> Outcome:
        command, session = run.command, run.session
        draft = command.document
        assert draft is not None and command.target_document_key is not None
        key = command.document_key
        record = await self._ledger.open(command)
        if record.made:
            kind: ResultKind = "invoice" if record.outcome == "replaced" else draft.kind
            document = CreatedDocument(str(record.document_number), record.fortnox_total)
            if not record.finished:  # the replacement's bookkeep/e-mail may not be done
                await self._steps.same_company(run, key)
                replacement = draft.model_copy(update={"kind": "invoice"})
                await self._steps.follow_up(
                    await session.client(),
                    key,
                    replacement,
                    document.number,
                    fresh=False,
                    resume=True,
                )
                await self._ledger.mark_finished(key)
                return Outcome("synced", kind, document)
            status: SyncStatus = "skipped" if record.outcome == "skipped" else "already_synced"
            return Outcome(status, kind, document)
        current = await self._steps.current(run)
        target = await self._ledger.get(command.target_document_key)
        applied = target.source_updated_at if target is not None else None
        updated_at = command.source.updated_at
        if updated_at is not None and applied is not None and updated_at <= applied:
            skipped = CreatedDocument(current.number, None)
            await self._ledger.mark_done(key, skipped, "skipped", made_in=None, finished=True)
            return Outcome("skipped", document_kind(current.kind), skipped)
        link = await self._links.reserve(key, current, "update", new_version=True)
        client = await session.client()
        if link.original_kind == "order":
            made = await self._update_order(run, client, draft, link)
            await self._finish_in_place(run, client, made)
            return Outcome("synced", "order", made)
        invoice = await credits.get_invoice(client, link.original_number)
        in_place = link.relation == "update" and not _locked(invoice)
        if in_place:
            updated = await self._update_invoice(run, client, draft, link, invoice)
            if updated is not None:
                await self._steps.follow_up(client, key, draft, updated.number, fresh=False)
                await self._finish_in_place(run, client, updated)
                return Outcome("synced", "invoice", updated)
        made = await self._replace(run, client, draft, link, record.attempts)
        return Outcome("synced", "invoice", made)

    async def _finish_in_place(
        self, run: Run, client: FortnoxClient, made: CreatedDocument
    ) -> None:
        command = run.command
        assert command.target_document_key is not None
        await self._ledger.mark_done(
            command.document_key, made, "updated", made_in=client.tenant_id, finished=True
        )
        await self._ledger.set_applied(command.target_document_key, command.source.updated_at, None)

    async def _update_invoice(
        self,
        run: Run,
        client: FortnoxClient,
        draft: DocumentDraft,
        link: Link,
        invoice: dict[str, Any],
    ) -> CreatedDocument | None:
        """PUT the new version; None when Fortnox booked it meanwhile (replace it instead)."""
        kept, customer_number = await self._kept(run, client, draft, invoice)
        await self._ledger.count_attempt(run.key)
        number = link.original_number
        try:
            made = await fortnox_documents.replace_content(client, kept, customer_number, number)
        except FortnoxApiError as exc:
            await self._steps.forget_master_data(run, exc, customer_number)
            if _locked(await credits.get_invoice(client, number)):
                return None
            raise
        return await self._steps.check_totals(run, client, run.key, kept, made)

    async def _update_order(
        self, run: Run, client: FortnoxClient, draft: DocumentDraft, link: Link
    ) -> CreatedDocument:
        number = link.original_number
        order = await credits.get_order(client, number)
        if credits.flag(order.get("Cancelled")) or credits.reference(order.get("InvoiceReference")):
            raise PermanentError(
                f"Fortnox order {number} is cancelled or invoiced and can no longer be changed",
                code="order_closed",
                explanation=(
                    "The Fortnox order was already invoiced or cancelled, so the edit cannot be"
                    " applied to it. Correct the invoice in Fortnox, or reverse and re-create it."
                ),
            )
        as_order = draft.model_copy(update={"kind": "order"})
        kept, customer_number = await self._kept(run, client, as_order, order)
        await self._ledger.count_attempt(run.key)
        try:
            made = await fortnox_documents.replace_content(client, kept, customer_number, number)
        except FortnoxApiError as exc:
            await self._steps.forget_master_data(run, exc, customer_number)
            raise
        return await self._steps.check_totals(run, client, run.key, kept, made)

    async def _kept(
        self, run: Run, client: FortnoxClient, draft: DocumentDraft, existing: dict[str, Any]
    ) -> tuple[DocumentDraft, str]:
        """The draft for a PUT (it keeps the document's own reference), and its customer."""
        customer_number = await self._steps.customer_number(run, client)
        reference = existing.get("ExternalInvoiceReference1") or draft.external_reference
        return draft.model_copy(update={"external_reference": reference}), customer_number

    async def _replace(
        self,
        run: Run,
        client: FortnoxClient,
        draft: DocumentDraft,
        link: Link,
        earlier_attempts: int,
    ) -> CreatedDocument:
        """Credit the booked document, then create its replacement (each exactly once)."""
        command = run.command
        assert command.target_document_key is not None
        key = command.document_key
        target = await self._ledger.get(command.target_document_key)
        base = target.external_reference if target is not None else draft.external_reference
        reference = link.replacement_reference or f"{base}-v{link.version}"
        if link.relation != "replace":
            await self._links.set_relation(key, "replace")
            await self._links.set_replacement(key, reference, None)
            await self._ledger.set_external_reference(key, reference)
        reversal = await credits.credit(
            client, link.original_number, before_write=lambda: self._ledger.count_attempt(key)
        )
        if reversal.outcome != "credited" or (reversal.already and earlier_attempts == 0):
            await self._links.set_relation(key, "update")  # no replacement is on its way
            raise PermanentError(
                f"Fortnox document {link.original_number} was already {reversal.outcome}"
                " elsewhere; the edit does not re-invoice it",
                code=f"target_{reversal.outcome}",
                explanation=(
                    "The invoice was credited or cancelled before this edit arrived, so"
                    " Fortbridge will not issue a new invoice for it. Check the order in Fortnox."
                ),
            )
        await self._links.set_credit(key, reversal.number)
        replacement = draft.model_copy(update={"kind": "invoice", "external_reference": reference})
        found: CreatedDocument | None = None
        if earlier_attempts > 0:
            await self._steps.settle(key)
            found = await fortnox_documents.find(client, replacement)
        made = found or await self._steps.make(run, client, replacement, key)
        await self._links.set_replacement(key, reference, made.number)
        await self._ledger.mark_done(key, made, "replaced", made_in=client.tenant_id)
        await self._ledger.set_applied(command.target_document_key, command.source.updated_at, None)
        made = await self._steps.check_totals(run, client, key, replacement, made)
        await self._steps.follow_up(client, key, replacement, made.number, fresh=found is None)
        await self._ledger.mark_finished(key)
        return made


def _locked(invoice: dict[str, Any]) -> bool:
    """Fortnox no longer lets this invoice change in place."""
    return (
        credits.flag(invoice.get("Booked"))
        or credits.flag(invoice.get("Cancelled"))
        or credits.reference(invoice.get("CreditInvoiceReference")) is not None
    )
