"""A Shopify Payments payout as one Fortnox voucher (pure; docs/accounting.md, *Payouts*).

The customers' card payments were registered on their invoices with the mode of payment of
``shopify_payments`` (``KORT``), whose account in Fortnox is the clearing account (1580 by
default): they wait there until Shopify pays out. A payout then moves them to the bank:

| balance transactions | voucher row |
|---|---|
| charges (gross) | credit the clearing account |
| refunds (gross, negative) | debit the clearing account (money paid back was registered there) |
| fees of every transaction | debit the fee account (6064), no VAT (an exempt financial service) |
| adjustments, disputes and other types | their net sign on the adjustment account |
| reserves (held, released) | the reserve account (held: debit; released: credit) |
| the payout (net) | debit the bank account (1930); a withdrawal credits it |

Amounts are the payout's currency (the writer converts another currency than SEK at Fortnox's
rate of the payout's date, services/fortnox_writer/vouchers.py). The payout's own ``payout``
transaction is the bank row, the draft's first row (the voucher's Description names its
amount). The sum of the transactions' nets must equal the payout's amount, or the payout is
refused (a failed job): a voucher that does not match the bank statement is worse than none.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from libs.common.errors import PermanentError
from libs.common.messages import FortnoxCommand, SourceRef, VoucherDraft, VoucherRowDraft
from services.mapper.accounting.settings import ShopSettings

PAYOUT_TOPIC = "payouts/paid"
ZERO = Decimal("0")
CLEARING_TYPES = frozenset({"charge", "refund"})
RESERVE_TYPES = frozenset({"reserve", "reserved_funds", "reserved_funds_reversal"})
LABELS = {
    ("clearing", "credit"): "Kortbetalningar",
    ("clearing", "debit"): "Återbetalningar till kunder",
    ("adjustment", "credit"): "Justeringar (tillgodo)",
    ("adjustment", "debit"): "Justeringar och tvister",
    ("reserve", "credit"): "Reserv frigjord",
    ("reserve", "debit"): "Reserv innehållen",
}


@dataclass(frozen=True)
class PayoutPlan:
    command: FortnoxCommand | None
    skipped: str | None = None


def _money(value: Any, what: str) -> Decimal:
    if isinstance(value, float) or value is None:
        raise PermanentError(f"the payout's {what} is not a decimal string", code="bad_payout")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise PermanentError(f"the payout's {what} is not a number", code="bad_payout") from None
    if not number.is_finite():
        raise PermanentError(f"the payout's {what} is not a number", code="bad_payout")
    return number


def document_key(shop: str, payout_id: str) -> str:
    return f"{shop}:payout:{payout_id}:voucher"


def reference(payout_id: str) -> str:
    """The voucher's Description, Fortbridge's exact-once key in Fortnox."""
    return f"Shopify Payments utbetalning {payout_id}"


def voucher_rows(payout: dict[str, Any], settings: ShopSettings) -> list[VoucherRowDraft]:
    accounts = settings.payouts
    targets = {
        "clearing": accounts.clearing_account,
        "adjustment": accounts.adjustment_account,
        "reserve": accounts.reserve_account,
    }
    sums: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    fees = nets = ZERO
    currency = str(payout.get("currency") or "").upper()
    for txn in payout.get("balance_transactions") or []:
        kind = str(txn.get("type") or "").lower()
        if kind == "payout":
            continue
        if txn.get("currency") and str(txn["currency"]).upper() != currency:
            raise PermanentError(
                f"balance transaction {txn.get('id')} is in {txn['currency']}, the payout in"
                f" {currency}",
                code="payout_currency_mixed",
            )
        amount = _money(txn.get("amount"), f"transaction {txn.get('id')} amount")
        fee = _money(txn.get("fee") or "0", f"transaction {txn.get('id')} fee")
        net = _money(txn.get("net"), f"transaction {txn.get('id')} net")
        if amount - fee != net:
            raise PermanentError(
                f"balance transaction {txn.get('id')}: amount {amount} - fee {fee} is not its"
                f" net {net}",
                code="payout_does_not_add_up",
            )
        fees += fee
        nets += net
        group = (
            "clearing"
            if kind in CLEARING_TYPES
            else "reserve"
            if kind in RESERVE_TYPES
            else "adjustment"
        )
        side = "credit" if amount > 0 else "debit"
        sums[(group, side)] += abs(amount)
        counts[(group, side)] += 1
    payout_net = _money(payout.get("net"), "net amount")
    if nets != payout_net:
        raise PermanentError(
            f"the payout's transactions add up to {nets} {currency}, the payout is"
            f" {payout_net} {currency}",
            code="payout_does_not_add_up",
            explanation=(
                "Shopify's balance transactions of this payout do not add up to the amount"
                " paid out, so no voucher was made (it would not match the bank statement)."
                " Replay it once Shopify's payout report is complete, or book it by hand."
            ),
        )
    rows: list[VoucherRowDraft] = []
    if payout_net:
        side = "debit" if payout_net > 0 else "credit"
        rows.append(
            VoucherRowDraft(
                account=accounts.bank_account,
                description=f"Utbetalning Shopify Payments {payout.get('id')}",
                **{side: abs(payout_net)},
            )
        )
    if fees:
        side = "debit" if fees > 0 else "credit"
        rows.append(
            VoucherRowDraft(
                account=accounts.fee_account,
                description="Avgifter Shopify Payments",
                **{side: abs(fees)},
            )
        )
    for group in ("clearing", "adjustment", "reserve"):
        for side in ("credit", "debit"):
            total = sums.get((group, side), ZERO)
            if total:
                label = f"{LABELS[(group, side)]} ({counts[(group, side)]} st)"
                rows.append(
                    VoucherRowDraft(account=targets[group], description=label, **{side: total})
                )
    return rows


def plan_payout(
    shop: str, payout: dict[str, Any], settings: ShopSettings, *, event_uid: str | None
) -> PayoutPlan:
    """The voucher command of a paid payout, or why none is made."""
    payout_id = str(payout.get("id") or "").strip()
    if not payout_id:
        raise PermanentError("the payout event names no payout id", code="missing_id")
    if not settings.payouts.enabled:
        return PayoutPlan(
            None, "payouts are not booked for this shop (settings: payouts.enabled is off)"
        )
    if str(payout.get("status") or "").lower() != "paid":
        return PayoutPlan(None, f"the payout is {payout.get('status')}, not paid")
    rows = voucher_rows(payout, settings)
    if not rows:
        return PayoutPlan(None, "the payout moves no money")
    currency = str(payout.get("currency") or settings.home_currency).upper()
    issued = str(payout.get("issued_at") or "")[:10]
    draft = VoucherDraft(
        series=settings.payouts.voucher_series,
        transaction_date=issued,
        reference=reference(payout_id),
        currency=currency,
        rows=rows,
        rounding_account=settings.accounts.rounding,
    )
    key = document_key(shop, payout_id)
    total = sum((row.debit for row in rows), ZERO)
    command = FortnoxCommand(
        shop=shop,
        command_id=f"{key}:create",
        action="create_voucher",
        document_key=key,
        source=SourceRef(type="payout", id=payout_id, name=f"Utbetalning {issued}"),
        voucher=draft,
        expected_total=total,
        event_uid=event_uid,
    )
    return PayoutPlan(command)
