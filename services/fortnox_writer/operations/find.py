"""find_documents: which of a backfill dry run's orders Fortnox already has a document of.

Read-only (no ledger row, nothing made): each reference (``shopify-<order id>``) is looked up
the way a backfill's create looks before it creates (``fortnox_documents.find_reference``:
``GET /3/invoices?externalinvoicereference1=<ref>``, every row's reference compared for
equality, a cancelled document not counted), among the command's ``find_kinds`` in order
(invoices; orders too for a shop whose settings or rules make Fortnox orders), the next kind
only when the one before has none: one request per reference and kind, through the tenant's
rate limiter. The command comes from ingest with ``origin: backfill``, so it runs behind live
work (admission.py's ``Background``). The result's ``found`` maps each reference Fortnox has to
the document: an invoice's number, or ``order <number>`` for a Fortnox order; the others would
be created.
"""

from __future__ import annotations

from services.fortnox_writer.fortnox_documents import find_reference
from services.fortnox_writer.ledger import CreatedDocument
from services.fortnox_writer.operations.base import Outcome, Run


class FindDocuments:
    async def run(self, run: Run) -> Outcome:
        client = await run.session.client()
        found: dict[str, str] = {}
        for reference in run.command.references:
            for kind in run.command.find_kinds:
                document = await find_reference(client, kind, reference)
                if document is not None:
                    prefix = "" if kind == "invoice" else f"{kind} "
                    found[reference] = prefix + document.number
                    break
        made = CreatedDocument(f"{len(found)} of {len(run.command.references)} found", None)
        return Outcome("synced", "invoice", made, found=found)
