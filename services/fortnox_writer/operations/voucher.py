"""create_voucher: a voucher (a Shopify Payments payout's booking) exactly once.

The ledger row is opened on first sight (kind ``voucher``, reference = the voucher's
Description) and the attempt counted before the POST; a later attempt lets a timed-out request
settle, then looks for the voucher an earlier one made (``vouchers.find``) and adopts it. A
voucher is final in Fortnox (booked when made), so there is nothing to follow up.
"""

from __future__ import annotations

from services.fortnox_writer import vouchers
from services.fortnox_writer.ledger import CreatedDocument
from services.fortnox_writer.operations.base import Outcome, Run, Steps, recorded


class CreateVoucher:
    def __init__(self, steps: Steps) -> None:
        self._steps = steps

    async def run(self, run: Run) -> Outcome:
        steps, ledger, command, key = self._steps, self._steps.ledger, run.command, run.key
        draft = command.voucher
        assert draft is not None
        record = await ledger.open(command, kind="voucher", external_reference=draft.reference)
        if record.made:
            if not record.finished:
                await ledger.mark_finished(key)
            return Outcome("already_synced", "voucher", recorded(record))
        client = await run.session.client()
        if record.attempts > 0:
            await steps.settle(key)
        async with steps.watching(key):
            made = await vouchers.create(
                client,
                draft,
                earlier_attempts=record.attempts,
                before_write=lambda: ledger.count_attempt(key),
            )
        document = CreatedDocument(made.number, made.total)
        outcome = "adopted" if made.adopted else "created"
        await ledger.mark_done(key, document, outcome, made_in=client.tenant_id, finished=True)
        return Outcome("synced", "voucher", document)
