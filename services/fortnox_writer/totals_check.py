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


def without_rounding_rows(draft: DocumentDraft) -> DocumentDraft | None:
    """The draft without its 0 % rounding rows, when only those rows are at 0 %; else None.

    Fortnox does not document whether a company has 0 % VAT without setting it up. When it
    refuses a document for a missing VAT rate and the only 0 % rows are the öre-rounding rows,
    the document is made without them (rounding_account None: nothing adds one back); the
    totals check then reports the öre difference on the order's status, and the pre-flight
    check names 0 % as the rate to add in Fortnox. Either answer of Fortnox works.
    """
    account = draft.rounding_account
    if account is None:
        return None
    rounding = [row for row in draft.rows if _is_rounding(row, account)]
    others_at_zero = [r for r in draft.rows if r.vat == ZERO and not _is_rounding(r, account)]
    if not rounding or others_at_zero:
        return None
    rows = [row for row in draft.rows if not _is_rounding(row, account)]
    return draft.model_copy(update={"rows": rows, "rounding_account": None})
