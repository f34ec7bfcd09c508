"""What the document operations share: the run they are given, their outcome, and common steps.

An operation (create, update, reverse, pay, catalog) gets a :class:`Run` (the command, when the
writer received it, and a Fortnox session made only if Fortnox is needed) and returns an
:class:`Outcome`, or raises a HandlerError the executor turns into a retry, a park or a failed
job. Operations use only what is below them: the Fortnox modules (``fortnox_documents``,
``credits``, ``payments``, ``registers``) and the stores (``ledger``, ``links``, ``leases``),
through :class:`Steps`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from libs.common.errors import PermanentError, TransientError
from libs.common.messages import (
    DocumentDraft,
    FortnoxCommand,
    ResultKind,
    StockLevel,
    SyncStatus,
)
from services.fortnox_writer import credits, fortnox_documents
from services.fortnox_writer.article_register import ARTICLE_NOT_FOUND, ArticleRegister
from services.fortnox_writer.billing_ledger import BillingLedger, BillingRequired
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient
from services.fortnox_writer.clock import Clock
from services.fortnox_writer.customer_register import CUSTOMER_NOT_FOUND, CustomerRegister
from services.fortnox_writer.ledger import CreatedDocument, DocumentLedger, DocumentRecord
from services.fortnox_writer.links import Current, DocumentLinks
from services.fortnox_writer.totals_check import corrected, differs, mismatch_message

ClientFactory = Callable[[], Awaitable[FortnoxClient]]
# A retry waits in the operation up to this long for an earlier attempt to settle; longer waits
# go back to the scheduler.
MAX_SETTLE_WAIT = 10.0


@dataclass(frozen=True)
class Outcome:
    status: SyncStatus  # synced | already_synced | skipped
    kind: ResultKind
    document: CreatedDocument
    explanation: str | None = None  # why it was skipped
    stock: tuple[StockLevel, ...] = ()  # read_stock: what Fortnox has
    warehouse_module: bool | None = None
    found: dict[str, str] = field(default_factory=dict)  # find_documents: reference -> number


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


@dataclass(frozen=True)
class Run:
    """One execution of a command."""

    command: FortnoxCommand
    session: Session
    received_at: datetime  # when the writer received it (DB clock): the registers' horizon

    @property
    def key(self) -> str:
        return self.command.document_key


class Operation(Protocol):
    async def run(self, run: Run) -> Outcome: ...


def document_kind(kind: str) -> ResultKind:
    """A stored document kind (invoice | order) as a result's kind."""
    return "order" if kind == "order" else "invoice"


def recorded(record: DocumentRecord) -> CreatedDocument:
    assert record.document_number is not None
    return CreatedDocument(record.document_number, record.fortnox_total)


class Steps:
    """Steps several operations take, each against the stores and Fortnox modules."""

    def __init__(
        self,
        ledger: DocumentLedger,
        links: DocumentLinks,
        customers: CustomerRegister,
        articles: ArticleRegister,
        clock: Clock,
        *,
        settle_seconds: float,
        fortnox_zone: ZoneInfo,
        billing: BillingLedger | None = None,
    ) -> None:
        self.ledger = ledger
        self._fortnox_zone = fortnox_zone
        self.billing = billing
        self.links = links
        self.customers = customers
        self.articles = articles
        self._clock = clock
        self._settle_seconds = settle_seconds

    def fortnox_today(self) -> str:
        """The day Fortnox dates a document it makes itself (FORTNOX_TIMEZONE's)."""
        return datetime.now(self._fortnox_zone).date().isoformat()

    # --- the target of a correction -------------------------------------------------------
    async def current(self, run: Run) -> Current:
        """The target's current document, made in the company the shop is connected to now."""
        command = run.command
        target = command.target_document_key
        assert target is not None
        current = await self.links.current(target)
        if current is None and self.billing is not None and await self.billing.waiting(target):
            # Its document waits on billing: so does this (never a failed job for it).
            blocked = await self.billing.blocked(command.shop)
            raise BillingRequired(
                "This applies to a document that waits on billing: "
                + (blocked.explanation if blocked else "it runs once billing is possible."),
                state=blocked.state if blocked else "waiting",
            )
        if current is None:
            raise TransientError(
                f"the document {target} this command applies to is not in Fortnox yet",
                code="target_not_created",
                explanation=(
                    "This change applies to a document Fortbridge has not created yet; it is"
                    " retried once that document exists."
                ),
            )
        await self.same_company(run, target)
        replacing = await self.links.replacing(target, command.document_key)
        if replacing is not None:  # credited, its replacement not made yet: wait for it
            raise TransientError(
                f"the document {target} is being corrected by {replacing}",
                code="target_being_replaced",
                explanation="An edit of this order is being applied in Fortnox; retried after it.",
            )
        return current

    async def same_company(self, run: Run, target: str) -> None:
        """A document made in the shop's previous Fortnox company is not credited, paid,
        changed or finished (totals, bookkeep, e-mail) in the company the shop is connected to
        now (switching.py): there, the same document number is another, unrelated document."""
        made_in = await self.ledger.made_in(target)
        if made_in is None:
            return
        connected = (await run.session.client()).tenant_id
        if made_in != connected:
            raise PermanentError(
                f"the document {target} was made in Fortnox company {made_in}; the shop is now"
                f" connected to company {connected}",
                code="document_in_other_company",
                explanation=(
                    "The document this sync applies to was made in the Fortnox company the"
                    f" shop was connected to before (DatabaseNumber {made_in}); the shop is now"
                    f" connected to another one ({connected}). Fortbridge does not apply it to"
                    " the new company. Record it in the previous company by hand, or connect"
                    " that company again and retry this job."
                ),
            )

    # --- usage billing (billing_ledger.py) ----------------------------------------------
    async def charge(self, run: Run) -> None:
        """Before a new invoice or order is made: its charge is reserved, or the command waits
        on billing (``BillingRequired``). Free for an order charged before."""
        if self.billing is None:
            return
        blocked = await self.billing.reserve(run.command)
        if blocked is not None:
            raise BillingRequired(blocked.explanation, state=blocked.state)

    async def charged(self, run: Run) -> None:
        """The document is recorded: its reserved charge is charged (once)."""
        if self.billing is not None:
            await self.billing.confirm(run.command)

    # --- ambiguous outcomes ---------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def watching(self, key: str) -> AsyncIterator[None]:
        """Around a Fortnox write: remember when it timed out on our side (see ``settle``)."""
        try:
            yield
        except TransientError as exc:
            if isinstance(exc.__cause__, TimeoutError):
                await self.ledger.mark_timed_out(key)
            raise

    async def settle(self, key: str) -> None:
        """Before looking for what an earlier attempt made: let a timed-out request finish.

        A request that timed out on our side may still commit in Fortnox a little later; a
        search right away would miss it and the retry would write twice. So after a timeout a
        retry reads Fortnox only once ``settle_seconds`` (the request timeout) more have passed.
        A dropped connection or a killed writer needs no wait: Fortnox answered or never will.
        """
        remaining = await self.ledger.settling(key, self._settle_seconds)
        if remaining <= 0:
            return
        if remaining > MAX_SETTLE_WAIT:
            raise TransientError(
                f"waiting {remaining:.0f} s for an earlier attempt's outcome to settle",
                code="settling",
                explanation="An earlier attempt's outcome is not known yet; Fortbridge retries.",
                details={"retry_after": remaining},
            )
        await self._clock.sleep(remaining)

    # --- customer, articles and the document ---------------------------------------------
    async def customer_number(self, run: Run, client: FortnoxClient) -> str:
        """The order's customer and articles exist in Fortnox (from the mirrors if known)."""
        command = run.command
        assert command.customer is not None
        number = await self.customers.customer_number(
            command.shop, client, command.customer, run.received_at
        )
        for article in command.articles:
            await self.articles.ensure(command.shop, client, article)
        return number

    async def make(
        self, run: Run, client: FortnoxClient, draft: DocumentDraft, key: str
    ) -> CreatedDocument:
        """POST the document (its attempt counted first); stale master data is re-made."""
        customer_number = await self.customer_number(run, client)
        await self.ledger.count_attempt(key)
        try:
            async with self.watching(key):
                return await fortnox_documents.create(client, draft, customer_number)
        except FortnoxApiError as exc:
            await self.forget_master_data(run, exc, customer_number)
            raise

    async def forget_master_data(
        self, run: Run, exc: FortnoxApiError, customer_number: str | None
    ) -> None:
        """A customer or article the mirror has and Fortnox no longer has: forget it, retry."""
        command = run.command
        if exc.code not in (CUSTOMER_NOT_FOUND, ARTICLE_NOT_FOUND):
            return
        tenant = (await run.session.client()).tenant_id
        if exc.code == CUSTOMER_NOT_FOUND:
            if customer_number is None:
                return
            await self.customers.forget(command.shop, tenant, customer_number)
        else:
            await self.articles.forget(
                command.shop, tenant, [article.article_number for article in command.articles]
            )
        raise TransientError(
            "a customer or article in the mirror no longer exists in Fortnox; re-creating it",
            code=exc.code,
            source_message=exc.source_message,
        ) from exc

    # --- totals ----------------------------------------------------------------------------
    async def check_totals(
        self, run: Run, client: FortnoxClient, key: str, draft: DocumentDraft, made: CreatedDocument
    ) -> CreatedDocument:
        """Fortnox's total equals the order's, corrected with one update if it did not.

        Raises ``total_mismatch`` (a failed job naming both figures; the document stays
        unbooked in Fortnox) when it cannot be corrected.
        """
        expected = run.command.expected_total
        if not differs(expected, made.total):
            await self.ledger.set_totals(key, made.total, None if expected is None else True)
            return made
        assert expected is not None and made.total is not None
        fixed = corrected(draft, expected, made.total)
        if fixed is not None:
            customer_number = await self.customer_number(run, client)
            try:
                async with self.watching(key):
                    made = await fortnox_documents.replace_content(
                        client, fixed, customer_number, made.number
                    )
            except FortnoxApiError as exc:
                await self.forget_master_data(run, exc, customer_number)
                raise
            if not differs(expected, made.total):
                await self.ledger.set_totals(key, made.total, True)
                return made
        assert made.total is not None
        await self.ledger.set_totals(key, made.total, False)
        mismatch = mismatch_message(made.number, made.total, expected, draft.currency)
        raise PermanentError(
            mismatch,
            code="total_mismatch",
            explanation=(
                f"{mismatch}. Fortbridge could not correct it with a rounding row, so the"
                " document was left unbooked. Correct it in Fortnox (or the order's rows), then"
                " replay: the totals are checked again."
            ),
            details={
                "document_number": made.number,
                "fortnox_total": str(made.total),
                "expected_total": str(expected),
            },
        )

    async def recheck_totals(
        self, run: Run, client: FortnoxClient, key: str, draft: DocumentDraft, number: str
    ) -> CreatedDocument:
        """A recorded document whose totals were not confirmed: read it and check again."""
        made = fortnox_documents.created(await fortnox_documents.read(client, draft.kind, number))
        return await self.check_totals(run, client, key, draft, made)

    # --- after the document --------------------------------------------------------------
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
                await self.ledger.mark_booked(key)
            if draft.send_email:
                await credits.email(client, number, invoice)


def refuse_self_target(command: FortnoxCommand) -> None:
    if command.target_document_key == command.document_key:
        raise PermanentError("a command cannot target its own document key", code="target_is_self")
