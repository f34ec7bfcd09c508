"""Invoice payments (``/3/invoicepayments``), registered exactly once.

Fortnox has no idempotency key for payments either. Each payment carries our reference, the
Shopify transaction id (``PaymentDraft.reference``), in the InvoicePayment's own
``ExternalInvoiceReference1`` field. The attempt is counted (committed) before the POST; a later
attempt of the same command first lists the invoice's payments (``?invoicenumber=``, a
substring search, so the invoice number is compared exactly), keeps those with exactly our SEK
amount and payment date, reads each in full (list rows do not carry the reference) and adopts
the one whose ``ExternalInvoiceReference1`` equals our reference. Only one replica works on a
payment's key, and on its invoice, at a time (leases).

Amounts: ``Amount`` is SEK; for another currency it is the amount x CurrencyRate (the draft's
rate, else the invoice's CurrencyRate / CurrencyUnit), rounded half-up to öre, and
``AmountCurrency`` carries the amount in the invoice's currency.

A refund's money paid back is a NEGATIVE payment on its credit document (a negative invoice, or
the credit invoice of a reversal: ``actions.Actions._credit_of``); the same rules apply, signs
included (Fortnox refuses a payment against the direction of the invoice's balance).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from libs.common.errors import PermanentError
from libs.common.messages import PaymentDraft
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient
from services.fortnox_writer.credits import BeforeWrite, flag, get_invoice, money

CENT = Decimal("0.01")
PATH = "/3/invoicepayments"


@dataclass(frozen=True)
class PaymentPlan:
    invoice_number: str
    body: dict[str, Any]
    sek_amount: Decimal


@dataclass(frozen=True)
class PaymentMade:
    number: str
    amount: Decimal  # in the payment's currency
    booked: bool
    adopted: bool  # made by an earlier attempt


def plan(draft: PaymentDraft, invoice: dict[str, Any]) -> PaymentPlan:
    """The InvoicePayment for ``draft`` on ``invoice`` (a full GET of the invoice)."""
    number = str(invoice["DocumentNumber"])
    if flag(invoice.get("Cancelled")):
        raise PermanentError(
            f"Fortnox invoice {number} is cancelled; a payment cannot be registered on it",
            code="invoice_cancelled",
            explanation="The invoice was cancelled in Fortnox, so the payment has nowhere to go.",
        )
    currency = str(invoice.get("Currency") or "SEK").upper()
    if currency != draft.currency.upper():
        raise PermanentError(
            f"the payment is in {draft.currency} but Fortnox invoice {number} is in {currency}",
            code="currency_mismatch",
            explanation="Fortnox registers a payment in the invoice's own currency only.",
        )
    body: dict[str, Any] = {
        "InvoiceNumber": int(number),
        "PaymentDate": draft.payment_date,
        "ModeOfPayment": draft.mode_of_payment,
        "ExternalInvoiceReference1": draft.reference,
    }
    if draft.mode_of_payment_account is not None:
        body["ModeOfPaymentAccount"] = draft.mode_of_payment_account
    if currency == "SEK":
        sek = draft.amount.quantize(CENT, rounding=ROUND_HALF_UP)
    else:
        rate = draft.currency_rate
        if rate is None:
            unit = money(invoice.get("CurrencyUnit")) or Decimal("1")
            rate = (money(invoice.get("CurrencyRate")) or Decimal("1")) / unit
        sek = (draft.amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)
        body["AmountCurrency"] = draft.amount
        body["CurrencyRate"] = rate
    body["Amount"] = sek
    return PaymentPlan(number, body, sek)


async def find(client: FortnoxClient, payment: PaymentPlan) -> dict[str, Any] | None:
    """The payment an earlier attempt made: same invoice, SEK amount, date and reference."""
    listing = await client.request(
        "GET", PATH, params={"invoicenumber": payment.invoice_number, "limit": "500"}
    )
    for row in listing.get("InvoicePayments", []):
        if str(row.get("InvoiceNumber")) != payment.invoice_number:
            continue
        if money(row.get("Amount")) != payment.sek_amount:
            continue
        if str(row.get("PaymentDate")) != payment.body["PaymentDate"]:
            continue
        full = await get_payment(client, str(row["Number"]))
        if full.get("ExternalInvoiceReference1") == payment.body["ExternalInvoiceReference1"]:
            return full
    return None


async def get_payment(client: FortnoxClient, number: str) -> dict[str, Any]:
    answer = await client.request("GET", f"{PATH}/{number}")
    payment: dict[str, Any] = answer["InvoicePayment"]
    return payment


async def register(
    client: FortnoxClient,
    draft: PaymentDraft,
    invoice_number: str,
    *,
    earlier_attempts: int,
    before_write: BeforeWrite,
) -> PaymentMade:
    """Register the payment once (adopting what an earlier attempt made)."""
    payment = plan(draft, await get_invoice(client, invoice_number))
    if earlier_attempts > 0:
        existing = await find(client, payment)
        if existing is not None:
            return _made(existing, draft, adopted=True)
    await before_write()
    answer = await client.request("POST", PATH, body={"InvoicePayment": payment.body})
    return _made(answer["InvoicePayment"], draft, adopted=False)


async def bookkeep(client: FortnoxClient, number: str, *, known_unbooked: bool) -> None:
    """Bookkeep the payment unless it is booked already."""
    if not known_unbooked and flag((await get_payment(client, number)).get("Booked")):
        return
    try:
        await client.request("PUT", f"{PATH}/{number}/bookkeep")
    except FortnoxApiError:
        if flag((await get_payment(client, number)).get("Booked")):
            return  # a repeat of a bookkeep that was made
        raise


def _made(payment: dict[str, Any], draft: PaymentDraft, *, adopted: bool) -> PaymentMade:
    return PaymentMade(
        number=str(payment["Number"]),
        amount=draft.amount,
        booked=flag(payment.get("Booked")),
        adopted=adopted,
    )
