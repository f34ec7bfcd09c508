"""Every action of the command contract, exactly once: create, reverse, update, payment.

Each command has a ledger row under its ``document_key`` (``fortnox_writer.documents``): opened
on first sight, its attempt counted (committed) before each Fortnox write, its outcome recorded
after. A command whose row is done answers ``already_synced`` without calling Fortnox. After an
ambiguous failure a retry adopts what the earlier attempt made instead of making it again:

- create: the document with exactly our ExternalInvoiceReference1 (``documents.find``);
- reverse, and the credit of an update: Fortnox's own state (Cancelled, CreditInvoiceReference;
  Fortnox allows one credit per invoice), see ``credits``;
- the replacement of an update: its versioned reference, reserved in ``document_links`` before
  the first write;
- payments: see ``payments``. A payment aimed at a reversal (a refund's money paid back) goes
  on the credit invoice that reversal made.

Commands with a ``target_document_key`` act on the target's current document (``links``) and hold
the target's lease, so they are serialized with each other and with the target's creation; a
target not created yet is a TransientError (the command is retried later).

Follow-ups of a create (bookkeep, e-mail) run after the document is recorded, each safe to repeat;
the row is ``finished`` once they are done, so a retry completes them without a second document.
A negative invoice for a refund names its original in ``Remarks`` ("Avser faktura N", Swedish for
"concerns invoice N", which Swedish VAT rules want on a correction) and keeps (or sets)
``ExternalInvoiceReference2`` to the original's reference.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from libs.common.errors import PermanentError, TransientError
from libs.common.messages import DocumentDraft, FortnoxCommand
from services.fortnox_writer import catalog, credits, documents, payments
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient
from services.fortnox_writer.documents import CreatedDocument, DocumentLedger, DocumentRecord
from services.fortnox_writer.leases import Leases
from services.fortnox_writer.links import Current, DocumentLinks
from services.fortnox_writer.masterdata import ARTICLE_NOT_FOUND, CUSTOMER_NOT_FOUND, MasterData
from services.fortnox_writer.updates import Updates

ClientFactory = Callable[[], Awaitable[FortnoxClient]]
# Catalog actions and the kind of record each makes.
CATALOG_KINDS = {"sync_articles": "article", "sync_customer": "customer"}
TARGET_LEASE_TTL = 15.0
TARGET_LEASE_WAIT = 20.0
# A retry waits in the handler up to this long for an earlier attempt to settle; longer waits
# go back to the retry queue.
MAX_SETTLE_WAIT = 10.0


@dataclass(frozen=True)
class Outcome:
    status: str  # synced | already_synced | skipped
    kind: str  # invoice | order | credit | payment
    document: CreatedDocument


class Session:
    """One command's Fortnox client, made only when Fortnox is needed."""

    def __init__(self, factory: ClientFactory) -> None:
        self._factory = factory
        self._client: FortnoxClient | None = None

    async def client(self) -> FortnoxClient:
        if self._client is None:
            self._client = await self._factory()
        return self._client

    @property
    def calls(self) -> int:
        return 0 if self._client is None else self._client.calls


class Actions:
    def __init__(
        self,
        pool: asyncpg.Pool,
        ledger: DocumentLedger,
        leases: Leases,
        masterdata: MasterData,
        *,
        settle_seconds: float = 20.0,
    ) -> None:
        self._settle_seconds = settle_seconds
        self._pool = pool
        self._ledger = ledger
        self._leases = leases
        self._masterdata = masterdata
        self._links = DocumentLinks(pool)
        self._updates = Updates(ledger, self._links, self)

    async def run(self, command: FortnoxCommand, session: Session) -> Outcome:
        if command.action in CATALOG_KINDS:
            return await self.sync_catalog(command, session)
        target = command.target_document_key
        if target is None:
            return await self.create(command, session)
        if target == command.document_key:
            raise PermanentError(
                "a command cannot target its own document key", code="target_is_self"
            )
        async with self._leases.hold(
            f"document:{target}", ttl=TARGET_LEASE_TTL, wait=TARGET_LEASE_WAIT
        ):
            await self.same_company(target, session)
            if command.action == "create_document":
                return await self.create(command, session)
            if command.action == "reverse_document":
                return await self.reverse(command, session)
            if command.action == "update_document":
                return await self._updates.update(command, session)
            return await self.pay(command, session)

    async def same_company(self, target: str, session: Session) -> None:
        """A document made in the shop's previous Fortnox company is not credited, paid or
        changed in the company the shop is connected to now (switching.py)."""
        made_in = await self._ledger.made_in(target)
        if made_in is None:
            return
        connected = (await session.client()).tenant_id
        if made_in != connected:
            raise PermanentError(
                f"the document {target} was made in Fortnox company {made_in}; the shop is now"
                f" connected to company {connected}",
                code="document_in_other_company",
                explanation=(
                    "The document this change applies to was made in the Fortnox company the"
                    f" shop was connected to before (DatabaseNumber {made_in}); the shop is now"
                    f" connected to another one ({connected}). Fortbridge does not apply it to"
                    " the new company. Record it in the previous company by hand, or connect"
                    " that company again and retry this job."
                ),
            )

    async def current(self, command: FortnoxCommand) -> Current:
        target = command.target_document_key
        assert target is not None
        current = await self._links.current(target)
        if current is None:
            raise TransientError(
                f"the document {target} this command applies to is not in Fortnox yet",
                code="target_not_created",
                explanation=(
                    "This change applies to a document Fortbridge has not created yet; it is"
                    " retried once that document exists."
                ),
            )
        replacing = await self._links.replacing(target, command.document_key)
        if replacing is not None:  # credited, its replacement not made yet: wait for it
            raise TransientError(
                f"the document {target} is being corrected by {replacing}",
                code="target_being_replaced",
                explanation="An edit of this order is being applied in Fortnox; retried after it.",
            )
        return current

    @contextlib.asynccontextmanager
    async def watching(self, key: str) -> AsyncIterator[None]:
        """Around a Fortnox write: remember when it timed out on our side (see ``settle``)."""
        try:
            yield
        except TransientError as exc:
            if isinstance(exc.__cause__, TimeoutError):
                await self._ledger.mark_timed_out(key)
            raise

    async def settle(self, key: str) -> None:
        """Before looking for what an earlier attempt made: let a timed-out request finish.

        A request that timed out on our side may still commit in Fortnox a little later; a
        search right away would miss it and the retry would write twice. So after a timeout a
        retry reads Fortnox only once ``settle_seconds`` (the request timeout) more have passed.
        A dropped connection or a killed writer needs no wait: Fortnox answered or never will.
        """
        remaining = await self._ledger.settling(key, self._settle_seconds)
        if remaining <= 0:
            return
        if remaining > MAX_SETTLE_WAIT:
            raise TransientError(
                f"waiting {remaining:.0f} s for an earlier attempt's outcome to settle",
                code="settling",
                explanation="An earlier attempt's outcome is not known yet; Fortbridge retries.",
            )
        await asyncio.sleep(remaining)

    # --- catalog ---------------------------------------------------------------------------
    async def sync_catalog(self, command: FortnoxCommand, session: Session) -> Outcome:
        """A product's articles or a customer (see catalog.py); each version once."""
        kind = CATALOG_KINDS[command.action]
        record = await self._ledger.open(command, kind=kind)
        if record.made:
            return Outcome("already_synced", kind, _document(record))
        client = await session.client()
        await self._ledger.count_attempt(command.document_key)
        if command.action == "sync_customer":
            assert command.customer is not None
            number = await catalog.sync_customer(
                self._masterdata, client, command.shop, command.customer
            )
        else:
            number = await catalog.sync_articles(
                self._pool, self._leases, client, command.shop, command.articles
            )
        made = CreatedDocument(number, None)
        await self._ledger.mark_done(command.document_key, made, "synced", finished=True)
        return Outcome("synced", kind, made)

    # --- create ----------------------------------------------------------------------------
    async def create(self, command: FortnoxCommand, session: Session) -> Outcome:
        draft = command.document
        assert draft is not None
        record = await self._ledger.open(command)
        if record.made and record.finished:
            return Outcome("already_synced", draft.kind, _document(record))
        if record.made:  # recorded, but its bookkeep/e-mail may not be done
            assert record.document_number is not None
            await self.follow_up(
                await session.client(),
                command.document_key,
                draft,
                record.document_number,
                fresh=False,
                resume=True,
            )
            await self._ledger.mark_finished(command.document_key)
            return Outcome("synced", draft.kind, _document(record))
        if command.target_document_key is not None:
            draft = with_original(draft, await self.current(command))
        client = await session.client()
        made: CreatedDocument | None = None
        if record.attempts > 0:
            await self.settle(command.document_key)
            made = await documents.find(client, draft)
        fresh = made is None
        if made is None:
            made = await self.make(command, client, draft, command.document_key)
        await self._ledger.mark_done(command.document_key, made, "created")
        await self._ledger.set_applied(command.document_key, command.source.updated_at, None)
        await self.follow_up(client, command.document_key, draft, made.number, fresh=fresh)
        await self._ledger.mark_finished(command.document_key)
        return Outcome("synced", draft.kind, made)

    async def customer_number(self, command: FortnoxCommand, client: FortnoxClient) -> str:
        assert command.customer is not None
        number = await self._masterdata.customer_number(command.shop, client, command.customer)
        for article in command.articles:
            await self._masterdata.ensure_article(command.shop, client, article)
        return number

    async def make(
        self, command: FortnoxCommand, client: FortnoxClient, draft: DocumentDraft, key: str
    ) -> CreatedDocument:
        """POST the document (its attempt counted first); stale master data is re-made."""
        customer_number = await self.customer_number(command, client)
        await self._ledger.count_attempt(key)
        try:
            async with self.watching(key):
                return await documents.create(client, draft, customer_number)
        except FortnoxApiError as exc:
            await self.forget_master_data(command, exc)
            raise

    async def forget_master_data(self, command: FortnoxCommand, exc: FortnoxApiError) -> None:
        """A cached customer or article Fortnox no longer has: forget it and retry."""
        if exc.code == CUSTOMER_NOT_FOUND and command.customer is not None:
            await self._masterdata.forget_customer(command.shop, command.customer)
        elif exc.code == ARTICLE_NOT_FOUND:
            await self._masterdata.forget_articles(
                command.shop, [article.article_number for article in command.articles]
            )
        else:
            return
        raise TransientError(
            "a cached customer or article no longer exists in Fortnox; re-creating it",
            code=exc.code,
            source_message=exc.source_message,
        ) from exc

    async def follow_up(
        self,
        client: FortnoxClient,
        key: str,
        draft: DocumentDraft,
        number: str,
        *,
        fresh: bool,
        resume: bool = False,
    ) -> None:
        """Bookkeep and e-mail a created invoice, as the draft asks (each done once).

        ``fresh``: just created, so known unbooked and unsent. ``resume``: an earlier attempt
        may have sent these requests; let them settle before reading the invoice's state.
        """
        if draft.kind != "invoice" or not (draft.bookkeep or draft.send_email):
            return
        if resume:
            await self.settle(key)
        invoice = {"Booked": False, "Sent": False} if fresh else None
        async with self.watching(key):
            if draft.bookkeep:
                invoice = await credits.bookkeep(client, number, invoice)
            if draft.send_email:
                await credits.email(client, number, invoice)

    # --- reverse ---------------------------------------------------------------------------
    async def reverse(self, command: FortnoxCommand, session: Session) -> Outcome:
        key = command.document_key
        record = await self._ledger.open(
            command, kind="reversal", external_reference=str(command.target_document_key)
        )
        if record.made:
            kind = "credit" if record.outcome == "credited" else "invoice"
            link = await self._links.get(key)
            if link is not None and record.outcome == "cancelled":
                kind = link.original_kind
            return Outcome("already_synced", kind, _document(record))
        link = await self._links.reserve(
            key, await self.current(command), "credit", new_version=False
        )
        client = await session.client()
        reverse = (
            credits.reverse_order if link.original_kind == "order" else credits.reverse_invoice
        )
        reversal = await reverse(
            client,
            link.original_number,
            allow_cancel=command.allow_cancel,
            before_write=lambda: self._ledger.count_attempt(key),
        )
        if reversal.outcome == "credited":
            await self._links.set_credit(key, reversal.number)
        else:
            await self._links.set_relation(key, "cancel")
        made = CreatedDocument(reversal.number, reversal.total)
        await self._ledger.mark_done(key, made, reversal.outcome, finished=True)
        status = "already_synced" if reversal.already and record.attempts == 0 else "synced"
        return Outcome(status, reversal.kind, made)

    # --- payment ---------------------------------------------------------------------------
    async def pay(self, command: FortnoxCommand, session: Session) -> Outcome:
        payment = command.payment
        assert payment is not None
        key = command.document_key
        record = await self._ledger.open(
            command, kind="payment", external_reference=payment.reference
        )
        if record.made and record.finished:
            return Outcome("already_synced", "payment", _document(record))
        current = await self.current(command)
        client = await session.client()
        if record.made:
            assert record.document_number is not None
            number, known_unbooked = record.document_number, False
            if payment.bookkeep:
                await self.settle(key)  # an earlier bookkeep may still be on its way
        else:
            invoice_number = await self._invoice_of(client, current)
            if record.attempts > 0:
                await self.settle(key)
            async with self.watching(key):
                made = await payments.register(
                    client,
                    payment,
                    invoice_number,
                    earlier_attempts=record.attempts,
                    before_write=lambda: self._ledger.count_attempt(key),
                )
            await self._ledger.mark_done(key, CreatedDocument(made.number, payment.amount), "paid")
            number, known_unbooked = made.number, not made.booked
        if payment.bookkeep:
            async with self.watching(key):
                await payments.bookkeep(client, number, known_unbooked=known_unbooked)
        await self._ledger.mark_finished(key)
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
        record = await self._ledger.get(current.target_key)
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


def with_original(draft: DocumentDraft, current: Current) -> DocumentDraft:
    """A document correcting another (a refund's negative invoice) names the original."""
    noun = "faktura" if current.kind == "invoice" else "order"
    note = f"Avser {noun} {current.number}"
    remarks = draft.fields.get("Remarks")
    fields = {**draft.fields, "Remarks": f"{note}\n{remarks}" if remarks else note}
    fields.setdefault("ExternalInvoiceReference2", current.external_reference)
    return draft.model_copy(update={"fields": fields})


def _document(record: DocumentRecord) -> CreatedDocument:
    assert record.document_number is not None
    return CreatedDocument(record.document_number, record.fortnox_total)
