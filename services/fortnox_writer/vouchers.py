"""Vouchers (``/3/vouchers``), created exactly once: a Shopify Payments payout's booking.

Fortnox vouchers have no external reference field and cannot be changed or deleted once made,
so the exact-once key (``VoucherDraft.reference``) begins the voucher's ``Description``. The
attempt is counted (committed) before the POST; a later attempt first lists the series' vouchers
of the transaction date (``/3/vouchers/sublist/{series}?fromdate=&todate=``) and adopts the one
whose Description is ours (exactly, or ours followed by `` (`` and the conversion).

Amounts: vouchers are in the company's currency (SEK). A draft in another currency is converted
at Fortnox's rate of the voucher's **transaction date** (the payout's date; fortnox.md: a
document gets the rate of its date): ``/3/currencies/{code}`` (SellRate per Unit) when the
``Date`` it answers (the day of Fortnox's newest rate) is that date or earlier: with no newer
rate published since, the newest is the rate of the voucher's date too, the one Fortnox gives
a document of that date (a weekend's payout, or one booked before the day's rates come out).
Fortnox's API tells no earlier day's rate, so a draft of a day before the newest rate's is
refused (``no_rate_of_day``) rather than booked at a wrong rate. Each row is
rounded half-up to öre; what rounding leaves over is one row on the draft's
``rounding_account``, so the voucher still balances to the öre. Each converted row names the
original amount in its TransactionInformation, and the Description names the currency, the
amount paid out and the rate: ``<reference> (EUR 1213.73 kurs 11.4321)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from libs.common.errors import PermanentError
from libs.common.messages import VoucherDraft
from services.fortnox_writer.client import FortnoxClient, path_segment
from services.fortnox_writer.credits import BeforeWrite, money

CENT = Decimal("0.01")
PATH = "/3/vouchers"
PAGE = 500


@dataclass(frozen=True)
class VoucherMade:
    number: str  # series and number, e.g. "A12"
    year: int
    total: Decimal  # the sum of the debits, SEK
    adopted: bool


async def rate_on(client: FortnoxClient, currency: str, day: str) -> Decimal:
    """SEK per unit of ``currency`` as Fortnox has it for ``day`` (YYYY-MM-DD)."""
    answer = await client.request("GET", f"/3/currencies/{path_segment(currency.upper())}")
    found: dict[str, Any] = answer["Currency"]
    unit = money(found.get("Unit")) or Decimal("1")
    rate = money(found.get("SellRate")) or money(found.get("BuyRate"))
    if rate is None:
        raise PermanentError(
            f"Fortnox has no exchange rate for {currency}",
            code="no_currency_rate",
            explanation=f"Add {currency} with its rate in Fortnox, then retry this job.",
        )
    dated = _day(found.get("Date"))
    if dated is None or dated > date.fromisoformat(day):
        raise PermanentError(
            f"Fortnox's {currency} rate is of {dated or 'an unknown day'}, the voucher of {day}",
            code="no_rate_of_day",
            explanation=(
                f"A voucher in {currency} is booked at Fortnox's rate of its own date, and"
                f" Fortnox's API tells only its newest rate, which is of a later day. Book"
                f" this payout by hand at the rate of {day} (docs/accounting.md, Payouts)."
            ),
        )
    return rate / unit


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value or "")[:10])
    except ValueError:
        return None


def description(draft: VoucherDraft, rate: Decimal | None) -> str:
    """The voucher's Description: the reference, and for another currency than SEK the
    amount paid out (the bank row) in that currency and the rate."""
    if rate is None:
        return draft.reference
    bank = draft.rows[0] if draft.rows else None
    amount = (bank.debit or -bank.credit) if bank is not None else Decimal("0")
    return f"{draft.reference} ({draft.currency} {amount} kurs {rate.normalize():f})"


def ours(text: Any, reference: str) -> bool:
    """Is a voucher's Description the one ``description`` makes for ``reference``?"""
    value = str(text or "")
    return value == reference or value.startswith(f"{reference} (")


def body(draft: VoucherDraft, rate: Decimal | None) -> dict[str, Any]:
    """The Voucher to POST: rows in SEK (converted at ``rate`` when not SEK), balanced."""
    rows: list[dict[str, Any]] = []
    debit = credit = Decimal("0")
    for row in draft.rows:
        out: dict[str, Any] = {"Account": row.account, "Description": row.description}
        side, amount = ("Debit", row.debit) if row.debit else ("Credit", row.credit)
        if rate is not None:
            out["TransactionInformation"] = f"{draft.currency} {amount} kurs {rate:f}"[:100]
            amount = (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)
        out[side] = amount
        debit += amount if side == "Debit" else Decimal("0")
        credit += amount if side == "Credit" else Decimal("0")
        rows.append(out)
    if debit != credit:
        side = "Debit" if debit < credit else "Credit"
        rows.append(
            {
                "Account": draft.rounding_account,
                "Description": "Öresavrundning (valutaomräkning)",
                side: abs(debit - credit),
            }
        )
    return {
        "VoucherSeries": draft.series,
        "TransactionDate": draft.transaction_date,
        "Description": description(draft, rate),
        "VoucherRows": rows,
    }


def _made(voucher: dict[str, Any], *, adopted: bool) -> VoucherMade:
    rows = voucher.get("VoucherRows") or []
    total = sum((money(r.get("Debit")) or Decimal("0") for r in rows), Decimal("0"))
    return VoucherMade(
        number=f"{voucher['VoucherSeries']}{voucher['VoucherNumber']}",
        year=int(voucher.get("Year") or 0),
        total=total,
        adopted=adopted,
    )


async def find(client: FortnoxClient, draft: VoucherDraft) -> VoucherMade | None:
    """The voucher an earlier attempt made: same series, date and Description (exactly)."""
    page = 1
    while True:
        listing = await client.request(
            "GET",
            f"{PATH}/sublist/{path_segment(draft.series)}",
            params={
                "fromdate": draft.transaction_date,
                "todate": draft.transaction_date,
                "limit": str(PAGE),
                "page": str(page),
            },
        )
        for row in listing.get("Vouchers", []):
            if ours(row.get("Description"), draft.reference) and row.get("VoucherSeries") == (
                draft.series
            ):
                answer = await client.request(
                    "GET",
                    f"{PATH}/{path_segment(draft.series)}/{row['VoucherNumber']}",
                    params={"financialyear": str(row.get("Year") or "")},
                )
                return _made(answer["Voucher"], adopted=True)
        pages = int((listing.get("MetaInformation") or {}).get("@TotalPages") or 0)
        if page >= pages:
            return None
        page += 1


async def create(
    client: FortnoxClient,
    draft: VoucherDraft,
    *,
    earlier_attempts: int,
    before_write: BeforeWrite,
) -> VoucherMade:
    """Create the voucher once (adopting what an earlier attempt made)."""
    if earlier_attempts > 0:
        existing = await find(client, draft)
        if existing is not None:
            return existing
    rate = (
        None
        if draft.currency.upper() == "SEK"
        else await rate_on(client, draft.currency, draft.transaction_date)
    )
    await before_write()
    answer = await client.request("POST", PATH, body={"Voucher": body(draft, rate)})
    return _made(answer["Voucher"], adopted=False)
