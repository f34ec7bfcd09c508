"""Vouchers (``/3/vouchers``), created exactly once: a Shopify Payments payout's booking.

Fortnox vouchers have no external reference field and cannot be changed or deleted once made,
so the exact-once key (``VoucherDraft.reference``) is the voucher's ``Description``. The attempt
is counted (committed) before the POST; a later attempt first lists the series' vouchers of the
transaction date (``/3/vouchers/sublist/{series}?fromdate=&todate=``) and adopts the one whose
Description is exactly ours.

Amounts: vouchers are in the company's currency (SEK). A draft in another currency is converted
at the rate of the day from ``/3/currencies/{code}`` (SellRate per Unit), each row rounded
half-up to öre; what rounding leaves over is one row on the draft's ``rounding_account``, so
the voucher still balances. Each converted row names the original amount in its
TransactionInformation.
"""

from __future__ import annotations

from dataclasses import dataclass
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


async def rate_of_day(client: FortnoxClient, currency: str) -> Decimal:
    """SEK per unit of ``currency`` as Fortnox has it today."""
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
    return rate / unit


def body(draft: VoucherDraft, rate: Decimal | None) -> dict[str, Any]:
    """The Voucher to POST: rows in SEK (converted at ``rate`` when not SEK), balanced."""
    rows: list[dict[str, Any]] = []
    debit = credit = Decimal("0")
    for row in draft.rows:
        out: dict[str, Any] = {"Account": row.account, "Description": row.description}
        side, amount = ("Debit", row.debit) if row.debit else ("Credit", row.credit)
        if rate is not None:
            out["TransactionInformation"] = f"{draft.currency} {amount} à {rate}"[:100]
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
        "Description": draft.reference,
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
            if row.get("Description") == draft.reference and row.get("VoucherSeries") == (
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
    rate = None if draft.currency.upper() == "SEK" else await rate_of_day(client, draft.currency)
    await before_write()
    answer = await client.request("POST", PATH, body={"Voucher": body(draft, rate)})
    return _made(answer["Voucher"], adopted=False)
