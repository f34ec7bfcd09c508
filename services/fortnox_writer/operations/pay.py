"""register_payment: an invoice payment exactly once (see ``payments``), then its bookkeep.

The payment goes on the target's current invoice; on an order, on the invoice Fortnox made of
it; on a reversal (a refund's money paid back), on the credit invoice that reversal made.
"""

from __future__ import annotations

from libs.common.errors import PermanentError
from services.fortnox_writer import credits, payments
from services.fortnox_writer.client import FortnoxClient
from services.fortnox_writer.ledger import CreatedDocument
from services.fortnox_writer.links import Current
from services.fortnox_writer.operations.base import Outcome, Run, Steps, recorded


class RegisterPayment:
    def __init__(self, steps: Steps) -> None:
        self._steps = steps

    async def run(self, run: Run) -> Outcome:
        steps, ledger, command, key = self._steps, self._steps.ledger, run.command, run.key
        payment = command.payment
        assert payment is not None
        record = await ledger.open(command, kind="payment", external_reference=payment.reference)
        if record.made and record.finished:
            return Outcome("already_synced", "payment", recorded(record))
        current = await steps.current(run)
        client = await run.session.client()
        if record.made:
            await steps.same_company(run, key)
            assert record.document_number is not None
            number, known_unbooked = record.document_number, False
            if payment.bookkeep:
                await steps.settle(key)  # an earlier bookkeep may still be on its way
        else:
            invoice_number = await self._invoice_of(client, current)
            if record.attempts > 0:
                await steps.settle(key)
            async with steps.watching(key):
                made = await payments.register(
                    client,
                    payment,
                    invoice_number,
                    earlier_attempts=record.attempts,
                    before_write=lambda: ledger.count_attempt(key),
                )
            await ledger.mark_done(
                key,
                CreatedDocument(made.number, payment.amount),
                "paid",
                made_in=client.tenant_id,
            )
            number, known_unbooked = made.number, not made.booked
        if payment.bookkeep:
            async with steps.watching(key):
                await payments.bookkeep(client, number, known_unbooked=known_unbooked)
        await ledger.mark_finished(key)
        return Outcome("synced", "payment", CreatedDocument(number, payment.amount))

    async def _invoice_of(self, client: FortnoxClient, current: Current) -> str:
        if current.kind == "reversal":
            return await self._credit_of(current)
        if current.kind != "order":
            return current.number
        order = await credits.get_order(client, current.number)
        invoice_number = credits.reference(order.get("InvoiceReference"))
        if invoice_number is None:
            raise PermanentError(
                f"Fortnox order {current.number} has no invoice yet, so it cannot take a payment",
                code="order_not_invoiced",
                explanation=(
                    "Fortnox registers payments on invoices. Create the invoice from the order in"
                    " Fortnox, then retry this job."
                ),
            )
        return invoice_number

    async def _credit_of(self, current: Current) -> str:
        """A payment on a reversal (a refund's or cancellation's money back): its credit invoice.

        The reversal recorded the credit invoice's number, read from the original's
        ``CreditInvoiceReference``. A reversal that cancelled the invoice made no credit
        invoice; Fortnox cancels only invoices without payments, so nothing was paid in and
        there is nothing to pay back on.
        """
        record = await self._steps.ledger.get(current.target_key)
        if record is None or record.outcome != "cancelled":
            return current.number
        raise PermanentError(
            f"the document {current.target_key} cancelled invoice {current.number} instead of"
            " crediting it, so there is no credit invoice to register the money paid back on",
            code="credit_cancelled",
            explanation=(
                "The order's invoice was cancelled in Fortnox, not credited, so the refund has"
                " no credit invoice to take the money paid back. A cancelled invoice carries no"
                " payment, so nothing is left open; if the customer paid, register the payment"
                " and its refund by hand."
            ),
        )
