"""create_document: an invoice or order (or a refund's negative invoice) exactly once.

The ledger row is opened on first sight and its attempt counted (committed) before the POST. A
later attempt first looks for what an earlier one made: the document whose
ExternalInvoiceReference1 is exactly ours (``fortnox_documents.find``), and adopts it. The totals
in Fortnox's answer are checked against the order's and corrected before anything else happens
to the document (``Steps.check_totals``). Follow-ups (bookkeep, e-mail) run after the document
is recorded, each safe to repeat; the row is ``finished`` once they are done.

Usage billing (billing_ledger.py): before a new invoice or order for a Shopify order is made,
its charge is reserved (free if the order was charged before) or the command waits on billing;
once the document is recorded the charge is confirmed. A document already recorded is never
charged again.

A negative invoice for a refund names its original in ``Remarks`` ("Avser faktura N", Swedish
for "concerns invoice N", which Swedish VAT rules want on a correction) and keeps (or sets)
``ExternalInvoiceReference2`` to the original's reference.

A backfill's command (``origin: backfill``) looks for the document by its reference before the
first POST too: a past order already in Fortnox is matched (``already_synced``), not duplicated.
"""

from __future__ import annotations

from libs.common.fortnox_errors import is_vat_missing
from libs.common.logs import get_logger
from libs.common.messages import DocumentDraft
from services.fortnox_writer import fortnox_documents
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient
from services.fortnox_writer.ledger import CreatedDocument
from services.fortnox_writer.links import Current
from services.fortnox_writer.operations.base import Outcome, Run, Steps, recorded
from services.fortnox_writer.totals_check import without_rounding_rows

log = get_logger(__name__)


class CreateDocument:
    def __init__(self, steps: Steps) -> None:
        self._steps = steps

    async def run(self, run: Run) -> Outcome:
        steps, ledger, command, key = self._steps, self._steps.ledger, run.command, run.key
        draft = command.document
        assert draft is not None
        record = await ledger.open(command)
        if record.made and record.finished:
            await steps.charged(run)
            return Outcome("already_synced", draft.kind, recorded(record))
        if record.made:
            await steps.charged(run)  # a crash between the record and the charge
        else:
            await steps.charge(run)  # usage billing: reserved, or the command waits
        client = await run.session.client()
        if record.made:  # recorded; its totals, bookkeep or e-mail may not be done
            await steps.same_company(run, key)
            made = recorded(record)
            if record.totals_ok is not True and command.expected_total is not None:
                if command.target_document_key is not None:
                    draft = with_original(draft, await steps.current(run))
                made = await steps.recheck_totals(run, client, key, draft, made.number)
            await steps.follow_up(client, key, draft, made.number, fresh=False, resume=True)
            await ledger.mark_finished(key)
            return Outcome("synced", draft.kind, made)
        if command.target_document_key is not None:
            draft = with_original(draft, await steps.current(run))
        found = None
        if record.attempts > 0:
            await steps.settle(key)
            found = await fortnox_documents.find(client, draft)
        elif command.origin == "backfill":
            # A past order may have been booked already (an earlier integration, by hand with
            # our reference): matched by its reference, never made twice.
            found = await fortnox_documents.find(client, draft)
        if found is None:
            draft, made = await self._make(run, client, draft, key)
        else:
            made = found
        await ledger.mark_done(key, made, "created", made_in=client.tenant_id)
        await steps.charged(run)
        await ledger.set_applied(key, command.source.updated_at, None)
        made = await steps.check_totals(run, client, key, draft, made)
        await steps.follow_up(client, key, draft, made.number, fresh=found is None)
        await ledger.mark_finished(key)
        matched = found is not None and command.origin == "backfill"
        return Outcome("already_synced" if matched else "synced", draft.kind, made)

    async def _make(
        self, run: Run, client: FortnoxClient, draft: DocumentDraft, key: str
    ) -> tuple[DocumentDraft, CreatedDocument]:
        """POST the document; a company without 0 % VAT gets it without the rounding rows."""
        try:
            return draft, await self._steps.make(run, client, draft, key)
        except FortnoxApiError as exc:
            vat_refused = is_vat_missing(exc.code, exc.source_message)
            fallback = without_rounding_rows(draft) if vat_refused else None
            if fallback is None:
                raise
            log.warning(
                "Fortnox refused the 0 % rounding row; made without it",
                document_key=key,
                error=str(exc),
            )
            return fallback, await self._steps.make(run, client, fallback, key)


def with_original(draft: DocumentDraft, current: Current) -> DocumentDraft:
    """A document correcting another (a refund's negative invoice) names the original."""
    noun = "faktura" if current.kind == "invoice" else "order"
    note = f"Avser {noun} {current.number}"
    remarks = draft.fields.get("Remarks")
    fields = {**draft.fields, "Remarks": f"{note}\n{remarks}" if remarks else note}
    fields.setdefault("ExternalInvoiceReference2", current.external_reference)
    return draft.model_copy(update={"fields": fields})
