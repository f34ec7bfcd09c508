"""Payouts in the report: each Shopify Payments payout of the period beside its Fortnox voucher,
compared by amounts (docs/accounting.md, *Payouts*).

The voucher is found by its Description (``Shopify Payments utbetalning <id>``) and read whole;
its rows are summed per account of the shop's payout settings and compared with Shopify's
payout (``net`` and its ``summary``):

| Shopify | the voucher (per account) |
|---|---|
| the net paid out (a withdrawal negative) | bank account: debit less credit |
| the fees of every kind (``*Fee``) | fee account: debit less credit |
| charges and refunds gross (``chargesGross + refundsFeeGross``) | clearing: credit less debit |
| adjustments gross | adjustment account: credit less debit |
| reserves gross (held: negative) | reserve account: credit less debit |

A payout with no voucher is ``missing``; each amount that disagrees a ``payout`` difference. A
payout in another currency than SEK is booked in SEK at Fortnox's rate of its date, which the
voucher's Description names (``... (EUR 1213.73 kurs 11.4321)``, services/fortnox_writer/
vouchers.py): Shopify's amounts are converted with that same rate, half-up to öre, and
compared in SEK. The writer rounds each row on its own, so an account with a row on each side
(clearing: charges and refunds) may differ from the converted net by an öre: a difference of
up to 0.01 SEK is not listed for such a payout. A voucher in another currency whose Description
names no rate (made by hand) is listed, not compared (a note says so).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.fortnox_writer.reconciliation.fortnox_side import FortnoxVoucher
from services.fortnox_writer.reconciliation.shopify_side import ShopifyPayout
from services.mapper.accounting.payouts import reference
from services.mapper.accounting.settings import PayoutSettings

ZERO = Decimal("0.00")
HOME = "SEK"
CENT = Decimal("0.01")
TWO_SIDED = frozenset({"gross", "adjustments", "reserves"})  # a row each way, each rounded
RATE = re.compile(r" \((?P<currency>[A-Z]{3}) -?[0-9.]+ kurs (?P<rate>[0-9]+(\.[0-9]+)?)\)$")


def voucher_rate(description: str, currency: str) -> Decimal | None:
    """The rate (SEK per unit of ``currency``) a voucher's Description names, if it does."""
    found = RATE.search(description)
    if found is None or found["currency"] != currency.upper():
        return None
    return Decimal(found["rate"])


def in_sek(amounts: dict[str, Decimal], rate: Decimal) -> dict[str, Decimal]:
    return {
        name: (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)
        for name, amount in amounts.items()
    }


def _text(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _money(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


def _balance(rows: list[dict[str, Any]], account: int) -> Decimal:
    """Debit less credit on the account."""
    return sum(
        (
            _money(row.get("Debit")) - _money(row.get("Credit"))
            for row in rows
            if str(row.get("Account")) == str(account)
        ),
        ZERO,
    )


def voucher_amounts(rows: list[dict[str, Any]], accounts: PayoutSettings) -> dict[str, Decimal]:
    return {
        "net": _balance(rows, accounts.bank_account),
        "fees": _balance(rows, accounts.fee_account),
        "gross": -_balance(rows, accounts.clearing_account),
        "adjustments": -_balance(rows, accounts.adjustment_account),
        "reserves": -_balance(rows, accounts.reserve_account),
    }


def payout_amounts(payout: ShopifyPayout) -> dict[str, Decimal]:
    return {
        "net": payout.net,
        "fees": payout.fees,
        "gross": payout.charges + payout.refunds,
        "adjustments": payout.adjustments,
        "reserves": payout.reserves,
    }


WHAT = {
    "net": "net paid out (bank account)",
    "fees": "fees (fee account)",
    "gross": "charges and refunds gross (clearing account)",
    "adjustments": "adjustments (adjustment account)",
    "reserves": "reserves (reserve account)",
}


def payout_rows(
    payouts: list[ShopifyPayout] | None,
    vouchers: dict[str, FortnoxVoucher],
    accounts: PayoutSettings,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Each payout of the period with its voucher (None: not booked), the differences, notes."""
    rows: list[dict[str, Any]] = []
    differences: list[dict[str, Any]] = []
    notes: list[str] = []
    for payout in payouts or []:
        voucher = vouchers.get(reference(payout.payout_id))
        ours = payout_amounts(payout)
        row: dict[str, Any] = {
            "payout_id": payout.payout_id,
            "date": payout.day.isoformat(),
            "currency": payout.currency,
            "net": _text(payout.net),
            "fees": _text(payout.fees),
            "gross": _text(ours["gross"]),
            "voucher": voucher.number if voucher else None,
            "fortnox": None,
        }
        rows.append(row)
        base = {"order_id": None, "order_name": None}
        if voucher is None:
            differences.append(
                base
                | {
                    "kind": "missing",
                    "what": f"payout {payout.payout_id} voucher",
                    "shopify": _text(payout.net),
                    "fortnox": None,
                    "document": None,
                }
            )
            continue
        if voucher.rows is None:
            continue
        tolerance = ZERO
        if payout.currency.upper() != HOME:
            rate = voucher_rate(voucher.description, payout.currency)
            if rate is None:
                notes.append(
                    f"payout {payout.payout_id} ({payout.currency}): voucher {voucher.number}"
                    " names no rate in its Description, so it is not compared by amounts"
                )
                continue
            ours = in_sek(ours, rate)
            row["rate"] = f"{rate:f}"
            row["sek"] = {name: _text(amount) for name, amount in ours.items()}
            tolerance = CENT
        theirs = voucher_amounts(voucher.rows, accounts)
        row["fortnox"] = {name: _text(amount) for name, amount in theirs.items()}
        for name, amount in ours.items():
            slack = tolerance if name in TWO_SIDED else ZERO
            if abs(amount - theirs[name]) > slack:
                differences.append(
                    base
                    | {
                        "kind": "payout",
                        "what": f"payout {payout.payout_id} {WHAT[name]}",
                        "shopify": _text(amount),
                        "fortnox": _text(theirs[name]),
                        "difference": _text(theirs[name] - amount),
                        "document": voucher.number,
                    }
                )
    return rows, differences, notes
