"""reverse_document: cancel (unbooked, allowed, unpaid) or credit the target's current document.

Exactly once by Fortnox's own state: a cancelled document stays cancelled, and Fortnox allows one
credit invoice per invoice, recorded in the original's ``CreditInvoiceReference`` (``credits``).
The link row (``document_links``) is reserved before the first write, so a retry acts on the same
document. A credit's total is Fortnox's negation of the original's; it is reported with the
order's expected figure beside it. Fortnox dates a credit invoice its own today; one whose refund
happened on an earlier day (``credit_date``: a backfill, a refund handled after midnight) is
re-dated to that day while unbooked, two more calls; a refund credited the day it happened costs
none.
"""

from __future__ import annotations

from functools import partial

from libs.common.logs import get_logger
from libs.common.messages import ResultKind, SyncStatus
from services.fortnox_writer import credits
from services.fortnox_writer.ledger import CreatedDocument
from services.fortnox_writer.operations.base import (
    Outcome,
    Run,
    Steps,
    document_kind,
    recorded,
)

log = get_logger(__name__)


class ReverseDocument:
    def __init__(self, steps: Steps) -> None:
        self._steps = steps

    async def run(self, run: Run) -> Outcome:
        steps, ledger, links, command, key = (
            self._steps,
            self._steps.ledger,
            self._steps.links,
            run.command,
            run.key,
        )
        record = await ledger.open(
            command, kind="reversal", external_reference=str(command.target_document_key)
        )
        if record.made:
            kind: ResultKind = "credit" if record.outcome == "credited" else "invoice"
            link = await links.get(key)
            if link is not None and record.outcome == "cancelled":
                kind = document_kind(link.original_kind)
            return Outcome("already_synced", kind, recorded(record))
        current = await steps.current(run)
        link = await links.reserve(key, current, "credit", new_version=False)
        client = await run.session.client()
        attempt = partial(ledger.count_attempt, key)  # counted before each write to Fortnox
        if link.original_kind == "order":
            reversal = await credits.reverse_order(
                client,
                link.original_number,
                allow_cancel=command.allow_cancel,
                before_write=attempt,
            )
        else:
            target = await ledger.get(current.target_key)
            reversal = await credits.reverse_invoice(
                client,
                link.original_number,
                allow_cancel=command.allow_cancel,
                before_write=attempt,
                # One call for a full refund of an invoice Fortbridge booked (first attempt).
                credit_first=(
                    record.attempts == 0
                    and current.version == 1
                    and target is not None
                    and target.booked
                ),
            )
        if reversal.outcome == "credited":
            await links.set_credit(key, reversal.number)
            day = command.credit_date
            if day is not None and day < steps.fortnox_today():
                dated = await credits.date_credit(
                    client, reversal.number, day, before_write=attempt
                )
                if not dated:
                    log.warning(
                        "credit invoice left on Fortnox's date (booked, or the change refused)",
                        document_key=key,
                        document_number=reversal.number,
                        refund_day=day,
                    )
        else:
            await links.set_relation(key, "cancel")
        made = CreatedDocument(reversal.number, reversal.total)
        await ledger.mark_done(key, made, reversal.outcome, made_in=client.tenant_id, finished=True)
        status: SyncStatus = (
            "already_synced" if reversal.already and record.attempts == 0 else "synced"
        )
        return Outcome(status, reversal.kind, made)
