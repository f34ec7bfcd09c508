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
- Stale: a command whose ``source.updated_at`` is not newer than the version last applied to
  the target changes nothing (result ``skipped``).
- A target already credited or cancelled by something else is not re-invoiced (a failed job
  with the reason): an edit must not bring back a document that was reversed on purpose.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from libs.common.errors import PermanentError
from libs.common.messages import DocumentDraft, FortnoxCommand
from services.fortnox_writer import credits, documents
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient
from services.fortnox_writer.documents import CreatedDocument, DocumentLedger
from services.fortnox_writer.links import DocumentLinks, Link

if TYPE_CHECKING:
    from services.fortnox_writer.actions import Actions, Outcome, Session


class Updates:
    def __init__(self, ledger: DocumentLedger, links: DocumentLinks, actions: Actions) -> None:
        self._ledger = ledger
        self._links = links
        self._actions = actions

    async def update(self, command: FortnoxCommand, session: Session) -> Outcome:
        from services.fortnox_writer.actions import Outcome

        draft = command.document
        assert draft is not None and command.target_document_key is not None
        key = command.document_key
        record = await self._ledger.open(command)
        if record.made:
            kind = "invoice" if record.outcome == "replaced" else draft.kind
            document = CreatedDocument(str(record.document_number), record.fortnox_total)
            if not record.finished:  # the replacement's bookkeep/e-mail may not be done
                replacement = draft.model_copy(update={"kind": "invoice"})
                await self._actions.follow_up(
                    await session.client(),
                    key,
                    replacement,
                    document.number,
                    fresh=False,
                    resume=True,
                )
                await self._ledger.mark_finished(key)
                return Outcome("synced", kind, document)
            status = "skipped" if record.outcome == "skipped" else "already_synced"
            return Outcome(status, kind, document)
        current = await self._actions.current(command)
        target = await self._ledger.get(command.target_document_key)
        applied = target.source_updated_at if target is not None else None
        updated_at = command.source.updated_at
        if updated_at is not None and applied is not None and updated_at <= applied:
            skipped = CreatedDocument(current.number, None)
            await self._ledger.mark_done(key, skipped, "skipped", finished=True)
            return Outcome("skipped", current.kind, skipped)
        link = await self._links.reserve(key, current, "update", new_version=True)
        client = await session.client()
        if link.original_kind == "order":
            made = await self._update_order(command, client, draft, link)
            await self._finish_in_place(command, made)
            return Outcome("synced", "order", made)
        invoice = await credits.get_invoice(client, link.original_number)
        in_place = link.relation == "update" and not _locked(invoice)
        if in_place:
            updated = await self._update_invoice(command, client, draft, link, invoice)
            if updated is not None:
                await self._actions.follow_up(client, key, draft, updated.number, fresh=False)
                await self._finish_in_place(command, updated)
                return Outcome("synced", "invoice", updated)
        made = await self._replace(command, client, draft, link, record.attempts)
        return Outcome("synced", "invoice", made)

    async def _finish_in_place(self, command: FortnoxCommand, made: CreatedDocument) -> None:
        assert command.target_document_key is not None
        await self._ledger.mark_done(command.document_key, made, "updated", finished=True)
        await self._ledger.set_applied(command.target_document_key, command.source.updated_at, None)

    async def _update_invoice(
        self,
        command: FortnoxCommand,
        client: FortnoxClient,
        draft: DocumentDraft,
        link: Link,
        invoice: dict[str, Any],
    ) -> CreatedDocument | None:
        """PUT the new version; None when Fortnox booked it meanwhile (replace it instead)."""
        body = await self._body(command, client, draft, invoice)
        await self._ledger.count_attempt(command.document_key)
        number = link.original_number
        try:
            answer = await client.request("PUT", f"/3/invoices/{number}", body=body)
        except FortnoxApiError as exc:
            await self._actions.forget_master_data(command, exc)
            if _locked(await credits.get_invoice(client, number)):
                return None
            raise
        total = credits.money(answer["Invoice"].get("Total"))
        return CreatedDocument(number, total)

    async def _update_order(
        self, command: FortnoxCommand, client: FortnoxClient, draft: DocumentDraft, link: Link
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
        body = await self._body(command, client, draft.model_copy(update={"kind": "order"}), order)
        await self._ledger.count_attempt(command.document_key)
        try:
            answer = await client.request("PUT", f"/3/orders/{number}", body=body)
        except FortnoxApiError as exc:
            await self._actions.forget_master_data(command, exc)
            raise
        return CreatedDocument(number, credits.money(answer["Order"].get("Total")))

    async def _body(
        self,
        command: FortnoxCommand,
        client: FortnoxClient,
        draft: DocumentDraft,
        existing: dict[str, Any],
    ) -> dict[str, Any]:
        """The document body for a PUT: it keeps the document's own reference."""
        customer_number = await self._actions.customer_number(command, client)
        reference = existing.get("ExternalInvoiceReference1") or draft.external_reference
        kept = draft.model_copy(update={"external_reference": reference})
        return documents.document_body(kept, customer_number)

    async def _replace(
        self,
        command: FortnoxCommand,
        client: FortnoxClient,
        draft: DocumentDraft,
        link: Link,
        earlier_attempts: int,
    ) -> CreatedDocument:
        """Credit the booked document, then create its replacement (each exactly once)."""
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
        made: CreatedDocument | None = None
        if earlier_attempts > 0:
            await self._actions.settle(key)
            made = await documents.find(client, replacement)
        fresh = made is None
        if made is None:
            made = await self._actions.make(command, client, replacement, key)
        await self._links.set_replacement(key, reference, made.number)
        await self._ledger.mark_done(key, made, "replaced")
        await self._ledger.set_applied(command.target_document_key, command.source.updated_at, None)
        await self._actions.follow_up(client, key, replacement, made.number, fresh=fresh)
        await self._ledger.mark_finished(key)
        return made


def _locked(invoice: dict[str, Any]) -> bool:
    """Fortnox no longer lets this invoice change in place."""
    return (
        credits.flag(invoice.get("Booked"))
        or credits.flag(invoice.get("Cancelled"))
        or credits.reference(invoice.get("CreditInvoiceReference")) is not None
    )
