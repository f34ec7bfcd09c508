"""Fortnox's totals against the order's (pure).

Fortnox does not document whether it rounds VAT per row or per VAT rate, and with prices
excluding VAT over many rows the two differ by several öre. So the writer does not trust the
mapper's guess: it reads ``Total`` from Fortnox's answer to the create (no extra call) and, when
it differs from the command's ``expected_total``, corrects the document before it is bookkept
by moving the difference onto the draft's 0 % rounding row (added on ``rounding_account`` if the
draft has none) with one update. A 0 % row changes the total by exactly its price whatever
Fortnox's VAT rule, so one update suffices; the update's answer is checked again. A difference
larger than ``MAX_CORRECTION`` is not rounding but a data problem, and is not corrected.
"""

from __future__ import annotations

from decimal import Decimal

from libs.common.messages import DocumentDraft, InvoiceRowDraft

MAX_CORRECTION = Decimal("1.00")
ZERO = Decimal("0")
ROUNDING_DESCRIPTION = "Öresavrundning"


def differs(expected: Decimal | None, fortnox_total: Decimal | None) -> bool:
    """True when the command says what the total must be and Fortnox computed another."""
    return expected is not None and fortnox_total is not None and expected != fortnox_total


def corrected(
    draft: DocumentDraft, expected: Decimal, fortnox_total: Decimal
) -> DocumentDraft | None:
    """The draft with the difference on its rounding row; None when it cannot be corrected."""
    difference = expected - fortnox_total
    if not difference:
        return draft
    if draft.rounding_account is None or abs(difference) > MAX_CORRECTION:
        return None
    rows = list(draft.rows)
    for index, row in enumerate(rows):
        if _is_rounding(row, draft.rounding_account):
            rows[index] = row.model_copy(update={"price": row.price + difference})
            break
    else:
        rows.append(
            InvoiceRowDraft(
                article_number=None,
                description=ROUNDING_DESCRIPTION,
                quantity=Decimal(1),
                price=difference,
                vat=ZERO,
                account_number=draft.rounding_account,
            )
        )
    return draft.model_copy(update={"rows": rows})


def _is_rounding(row: InvoiceRowDraft, account: int) -> bool:
    return (
        row.account_number == account
        and row.vat == ZERO
        and row.quantity == 1
        and not row.discount
        and row.article_number is None
    )


def mismatch_message(number: str, fortnox_total: Decimal, expected: Decimal, currency: str) -> str:
    return (
        f"Fortnox computed a total of {fortnox_total:.2f} {currency} for document {number} but"
        f" the order's total is {expected:.2f} {currency} (a difference of"
        f" {expected - fortnox_total:.2f})"
    )
