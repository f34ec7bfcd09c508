"""Fortnox invoice and order state changes, each safe to repeat: cancel, credit, bookkeep, e-mail.

Fortnox has no idempotency key, so every state change here reads the document first and does
nothing when it is already in the wanted state, and when Fortnox refuses the change it reads the
document again and counts "already done" as done. That covers the three ways a change can be
sent twice: a retry after an ambiguous failure (timeout, connection dropped after Fortnox
committed, writer killed), and aiohttp re-sending an idempotent request (PUT, GET) once on a
connection that dropped. A credit is exactly once because Fortnox allows one credit invoice per
invoice and records its number in the original's ``CreditInvoiceReference``.

E-mail is ``GET /3/invoices/{n}/email`` (Fortnox's documented method, not PUT); it sets ``Sent``,
which is how a repeat is recognised. A GET re-sent by aiohttp itself could still e-mail twice:
Fortnox gives no way to tell.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from libs.common.errors import PermanentError
from libs.common.messages import ResultKind
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient

BeforeWrite = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Reversal:
    outcome: str  # cancelled | credited
    kind: ResultKind  # invoice | order (cancelled) or credit
    number: str  # the credit invoice's number, or the cancelled document's
    total: Decimal | None
    already: bool  # Fortnox was in this state before this call looked


def reference(value: Any) -> str | None:
    """A Fortnox reference field: "0", "" and null mean none."""
    text = "" if value is None else str(value).strip()
    return None if text in ("", "0") else text


def flag(value: Any) -> bool:
    """Fortnox booleans, including the string "true" of ``Credit``."""
    return value is True or str(value).lower() == "true"


def money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


async def get_invoice(client: FortnoxClient, number: str) -> dict[str, Any]:
    answer = await client.request("GET", f"/3/invoices/{number}")
    invoice: dict[str, Any] = answer["Invoice"]
    return invoice


async def get_order(client: FortnoxClient, number: str) -> dict[str, Any]:
    answer = await client.request("GET", f"/3/orders/{number}")
    order: dict[str, Any] = answer["Order"]
    return order


async def _put_action(
    client: FortnoxClient,
    resource: str,
    number: str,
    action: str,
    done: Callable[[dict[str, Any]], bool],
    read: Callable[[FortnoxClient, str], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    single = "Invoice" if resource == "invoices" else "Order"
    try:
        answer = await client.request("PUT", f"/3/{resource}/{number}/{action}")
    except FortnoxApiError:
        current = await read(client, number)  # a repeat refused because it is done already
        if done(current):
            return current
        raise
    document: dict[str, Any] = answer.get(single) or await read(client, number)
    return document


async def bookkeep(
    client: FortnoxClient, number: str, invoice: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Bookkeep the invoice unless it is booked already."""
    invoice = invoice if invoice is not None else await get_invoice(client, number)
    if flag(invoice.get("Booked")):
        return invoice
    return await _put_action(
        client, "invoices", number, "bookkeep", lambda i: flag(i.get("Booked")), get_invoice
    )


async def email(
    client: FortnoxClient, number: str, invoice: dict[str, Any] | None = None
) -> dict[str, Any]:
    """E-mail the invoice to the customer unless it was sent already."""
    invoice = invoice if invoice is not None else await get_invoice(client, number)
    if flag(invoice.get("Sent")):
        return invoice
    answer = await client.request("GET", f"/3/invoices/{number}/email")
    sent: dict[str, Any] = answer.get("Invoice") or invoice
    return sent


async def reverse_invoice(
    client: FortnoxClient,
    number: str,
    *,
    allow_cancel: bool,
    before_write: BeforeWrite,
    credit_first: bool = False,
) -> Reversal:
    """Cancel the invoice if unbooked, unpaid and allowed, else credit it; no-op if done.

    ``credit_first`` (a first attempt on an invoice Fortbridge booked): send the credit at once,
    one call. Fortnox credits only booked invoices, once each, so the worst a wrong guess costs
    is the refusal; then the invoice is read and handled as below.
    """
    if credit_first:
        await before_write()
        try:
            answer = await client.request("PUT", f"/3/invoices/{number}/credit")
        except FortnoxApiError:
            pass  # not booked, or reversed already: read it and decide
        else:
            done = _reversed(answer.get("Invoice") or {}, number, already=False)
            if done is not None:
                return done
    invoice = await get_invoice(client, number)
    done = _reversed(invoice, number)
    if done is not None:
        return done
    if flag(invoice.get("Credit")):
        raise PermanentError(
            f"Fortnox invoice {number} is a credit invoice and cannot be credited",
            code="target_is_credit",
            explanation="A credit invoice cannot be credited or cancelled once more in Fortnox.",
        )
    await before_write()
    if not flag(invoice.get("Booked")) and allow_cancel and not has_payments(invoice):
        cancelled = await _put_action(
            client, "invoices", number, "cancel", _is_reversed, get_invoice
        )
        return _reversed(cancelled, number, already=False) or _unexpected(number)
    if not flag(invoice.get("Booked")):
        # Fortnox credits booked invoices only: book it, then credit it.
        invoice = await bookkeep(client, number, invoice)
    credited = await _put_action(client, "invoices", number, "credit", _is_reversed, get_invoice)
    return _reversed(credited, number, already=False) or _unexpected(number)


def has_payments(invoice: dict[str, Any]) -> bool:
    """Payments are registered on the invoice (its Balance is not its Total).

    Fortnox cancels only invoices without payments; a paid invoice is credited instead, and the
    money paid back is registered on the credit invoice.
    """
    balance, total = money(invoice.get("Balance")), money(invoice.get("Total"))
    return balance is not None and total is not None and balance != total


async def reverse_order(
    client: FortnoxClient, number: str, *, allow_cancel: bool, before_write: BeforeWrite
) -> Reversal:
    """Cancel the order; once Fortnox invoiced it, reverse its invoice instead."""
    order = await get_order(client, number)
    if flag(order.get("Cancelled")):
        return Reversal("cancelled", "order", number, None, already=True)
    invoice_number = reference(order.get("InvoiceReference"))
    if invoice_number is not None:
        return await reverse_invoice(
            client, invoice_number, allow_cancel=allow_cancel, before_write=before_write
        )
    await before_write()
    cancelled = await _put_action(
        client, "orders", number, "cancel", lambda o: flag(o.get("Cancelled")), get_order
    )
    if not flag(cancelled.get("Cancelled")):
        _unexpected(number)
    return Reversal("cancelled", "order", number, None, already=False)


async def credit(client: FortnoxClient, number: str, *, before_write: BeforeWrite) -> Reversal:
    """Credit the invoice (booking it first if needed); a no-op once credited."""
    return await reverse_invoice(client, number, allow_cancel=False, before_write=before_write)


async def date_credit(
    client: FortnoxClient, number: str, day: str, *, before_write: BeforeWrite
) -> bool:
    """Date Fortnox's credit invoice ``number`` on ``day`` (YYYY-MM-DD) while it is unbooked.

    ``/credit`` dates the credit invoice Fortnox's today, but a credit belongs to the period of
    the day the refund happened (a backfilled refund of last month, a refund processed after
    midnight). A no-op when it has that date. False, and the date left, when the credit invoice
    is booked or Fortnox refuses the change: the reference says neither whether Fortnox books a
    booked invoice's credit at once nor whether it lets a credit invoice's date change, so
    either answer leaves the refund credited and only its date differs (a refusal is never
    retried: it would fail a credit that is done).
    """
    invoice = await get_invoice(client, number)
    if str(invoice.get("InvoiceDate")) == day:
        return True
    if flag(invoice.get("Booked")) or flag(invoice.get("Cancelled")):
        return False
    await before_write()
    try:
        await client.request("PUT", f"/3/invoices/{number}", body={"Invoice": {"InvoiceDate": day}})
    except FortnoxApiError as exc:
        if exc.needs_reconnection or exc.status == 429 or exc.status >= 500:
            raise
        return False
    return True


def _is_reversed(invoice: dict[str, Any]) -> bool:
    return (
        flag(invoice.get("Cancelled"))
        or reference(invoice.get("CreditInvoiceReference")) is not None
    )


def _reversed(invoice: dict[str, Any], number: str, *, already: bool = True) -> Reversal | None:
    if flag(invoice.get("Cancelled")):
        return Reversal("cancelled", "invoice", number, None, already=already)
    credit_number = reference(invoice.get("CreditInvoiceReference"))
    if credit_number is not None:
        total = money(invoice.get("Total"))
        return Reversal(
            "credited", "credit", credit_number, None if total is None else -total, already
        )
    return None


def _unexpected(number: str) -> Reversal:
    raise PermanentError(
        f"Fortnox answered the change of document {number} without making it",
        code="unexpected_state",
    )
