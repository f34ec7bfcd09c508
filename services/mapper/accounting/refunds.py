"""Refunds and cancellations as credits that never exceed what was invoiced.

The design (docs/accounting.md, "Refunds"):

- A refund that credits the whole invoice when nothing was credited before is a
  ``reverse_document`` of the order's invoice: the writer cancels it when it is unbooked and the
  shop allows that, else uses Fortnox's one credit invoice (``/credit``).
- Every partial refund, and a full refund after earlier partial ones, is a NEGATIVE invoice:
  the refunded lines with negative quantities at the original unit price (the discount carries
  the refunded amount exactly), refunded shipping (negative Freight or shipping row), duties and
  order-level refund adjustments. ExternalInvoiceReference1 ``shopify-refund-<refund id>``,
  ExternalInvoiceReference2 the original's reference, Remarks naming the order.
- Every row and the document as a whole are capped at what is left uncredited.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from libs.common.messages import InvoiceRowDraft
from services.mapper.accounting.money import ZERO, Pricing, cents, quantity
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.state import OrderState, RowState
from services.mapper.accounting.vat import sales_account


@dataclass(frozen=True)
class Credit:
    """What one refund or cancellation credits from one row (or an order-level adjustment)."""

    key: str
    quantity: Decimal
    amount: Decimal
    tax: Decimal
    vat: Decimal = ZERO


@dataclass(frozen=True)
class CreditPlan:
    rows: list[InvoiceRowDraft]
    freight: Decimal
    total: Decimal  # positive: how much is credited, in the document currency
    state: OrderState
    whole: bool


def pricing_of(state: OrderState) -> Pricing:
    """Amounts of later events are read in the invoice's own currency."""
    return Pricing(state.currency, state.shop_currency, state.currency != state.shop_currency, None)


def _add(found: dict[str, Credit], credit: Credit) -> None:
    old = found.get(credit.key)
    if old is None:
        found[credit.key] = credit
    else:
        found[credit.key] = Credit(
            credit.key,
            old.quantity + credit.quantity,
            old.amount + credit.amount,
            old.tax + credit.tax,
            old.vat,
        )


def _amount(entry: dict[str, Any], name: str, pricing: Pricing, where: str) -> Decimal | None:
    if entry.get(name) is None and entry.get(f"{name}_set") is None:
        return None
    return pricing.amount(entry, name, where)


def refund_credits(refund: dict[str, Any], state: OrderState) -> list[Credit]:
    """The credits a refunds/create payload asks for, before capping."""
    pricing = pricing_of(state)
    rows = {row.key: row for row in state.rows}
    found: dict[str, Credit] = {}
    for i, entry in enumerate(refund.get("refund_line_items") or []):
        where = f"refund_line_items[{i}]"
        row = rows.get(f"line:{entry.get('line_item_id')}")
        if row is None:
            continue
        count = quantity(entry.get("quantity"), f"{where}.quantity")
        amount = _amount(entry, "subtotal", pricing, where)
        tax = _amount(entry, "total_tax", pricing, where)
        if amount is None:
            share = count / row.quantity if row.quantity else ZERO
            amount, tax = cents(row.amount * share), cents(row.tax * share)
        _add(found, Credit(row.key, count, amount, tax or ZERO))
    shipping = [row for row in state.rows if row.kind == "shipping"]
    for i, entry in enumerate(refund.get("refund_shipping_lines") or []):
        where = f"refund_shipping_lines[{i}]"
        key = f"shipping:{entry.get('shipping_line_id')}"
        amount = pricing.set_amount(
            entry.get("subtotal_amount_set"), f"{where}.subtotal_amount_set"
        )
        tax_set = entry.get("total_tax_set")
        tax = pricing.set_amount(tax_set, f"{where}.total_tax_set") if tax_set else ZERO
        _add(found, Credit(key, ZERO, amount, tax))
    for i, entry in enumerate(refund.get("duties") or []):
        key = f"duty:{entry.get('duty_id')}"
        amount = pricing.set_amount(entry.get("amount_set"), f"duties[{i}].amount_set")
        _add(found, Credit(key, ZERO, amount, ZERO))
    for i, adjustment in enumerate(refund.get("order_adjustments") or []):
        where = f"order_adjustments[{i}]"
        amount = -pricing.amount(adjustment, "amount", where)
        tax = -pricing.amount(adjustment, "tax_amount", where, default="0")
        if adjustment.get("kind") == "shipping_refund" and shipping:
            open_rows = [r for r in shipping if r.remaining_amount > 0] or shipping
            _add(found, Credit(open_rows[0].key, ZERO, amount, tax))
        elif amount:
            _add(
                found,
                Credit(
                    f"adjustment:{adjustment.get('id', i)}",
                    ZERO,
                    amount,
                    tax,
                    _adjustment_rate(amount, tax, state),
                ),
            )
    return list(found.values())


def _adjustment_rate(amount: Decimal, tax: Decimal, state: OrderState) -> Decimal:
    """An order-level adjustment's VAT rate: the invoiced rate closest to tax/amount, else 0."""
    if not tax or not amount:
        return ZERO
    net = amount - tax if state.vat_included else amount
    if not net:
        return ZERO
    implied = tax / net * 100
    rates = {row.vat for row in state.rows if row.vat}
    return min(rates, key=lambda rate: abs(rate - implied)) if rates else ZERO


def remainder_credits(state: OrderState) -> list[Credit]:
    """Everything not yet credited, row by row (a cancellation)."""
    return [
        Credit(row.key, row.remaining_quantity, row.remaining_amount, row.remaining_tax)
        for row in state.rows
        if row.kind != "rounding"
        and (row.remaining_quantity or row.remaining_amount or row.remaining_tax)
    ]


def _credit_row(row: RowState, count: Decimal, amount: Decimal) -> InvoiceRowDraft:
    if count:
        return InvoiceRowDraft(
            article_number=row.article_number,
            description=row.description,
            quantity=-count,
            price=row.price,
            vat=row.vat,
            discount=amount - row.price * count,
            account_number=row.account,
            fields=row.fields,
        )
    return InvoiceRowDraft(
        article_number=row.article_number,
        description=row.description,
        quantity=Decimal(-1),
        price=amount,
        vat=row.vat,
        account_number=row.account,
        fields=row.fields,
    )


def plan_credit(
    state: OrderState, credits: list[Credit], settings: ShopSettings, market: str | None = None
) -> CreditPlan:
    """Cap ``credits`` at what remains, and the rows, freight and total of the credit."""
    rows = {row.key: row for row in state.rows}
    drafts: list[InvoiceRowDraft] = []
    new_rows = dict(rows)
    freight = ZERO
    total = ZERO
    for credit in credits:
        row = rows.get(credit.key)
        if row is not None and row.kind == "rounding":
            continue  # each credit document gets its own rounding row from reconcile()
        if row is None:  # an order-level adjustment: capped by the document total below
            if credit.amount <= 0:
                continue
            account = sales_account(settings.accounts, state.market, credit.vat)
            drafts.append(
                InvoiceRowDraft(
                    article_number=None,
                    description="Justering av återbetalning",
                    quantity=Decimal(-1),
                    price=credit.amount,
                    vat=credit.vat,
                    account_number=account,
                )
            )
            total += credit.amount + (ZERO if state.vat_included else credit.tax)
            continue
        count = max(ZERO, min(credit.quantity, row.remaining_quantity))
        if row.amount >= 0:
            amount = max(ZERO, min(credit.amount, row.remaining_amount))
        else:  # a negative rounding row: credited back towards zero
            amount = min(ZERO, max(credit.amount, row.remaining_amount))
        tax = max(ZERO, min(credit.tax, row.remaining_tax))
        if not count and not amount and not tax:
            continue
        if not count and amount == row.remaining_amount and tax == row.remaining_tax:
            count = row.remaining_quantity  # the whole amount of the row: its quantity too
            drafts_count = ZERO
        else:
            drafts_count = count
        if row.freight:
            freight += amount
        else:
            drafts.append(_credit_row(row, drafts_count, amount))
        total += amount + (ZERO if state.vat_included else tax)
        new_rows[row.key] = row.model_copy(
            update={
                "credited_quantity": row.credited_quantity + count,
                "credited_amount": row.credited_amount + amount,
                "credited_tax": row.credited_tax + tax,
            }
        )
    total = min(total, state.remaining_total)
    exhausted = all(
        row.kind == "rounding" or (not row.remaining_quantity and not row.remaining_amount)
        for row in new_rows.values()
    )
    whole = exhausted and not state.anything_credited
    if exhausted:  # the invoice's rounding row is spent with the last credit
        total = state.remaining_total
        new_rows = {
            key: row.model_copy(
                update={
                    "credited_quantity": row.quantity,
                    "credited_amount": row.amount,
                    "credited_tax": row.tax,
                }
            )
            for key, row in new_rows.items()
        }
    new_state = state.model_copy(
        update={
            "rows": list(new_rows.values()),
            "credited_total": state.credited_total + total,
            "full_credit_used": state.full_credit_used or whole,
        }
    )
    return CreditPlan(drafts, freight, total, new_state, whole)
