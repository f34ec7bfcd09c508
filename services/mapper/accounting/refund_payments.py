"""refunds/create -> the money paid back, as NEGATIVE payments on the refund's credit document.

When the order's invoice was paid through Fortbridge (orders/paid planned payments, so the
original's balance is settled), the credit a refund makes (a negative invoice, or the credit
invoice Fortnox's ``/credit`` made) would otherwise stay open in accounts receivable. Each
successful ``kind: "refund"`` transaction of the refund becomes a payment of MINUS its amount on
that document: the same mode of payment per gateway, currency, rate and bookkeeping as the
payments of orders/paid (payments.py), dated the transaction's date, its reference the Shopify
transaction id.

Nothing is registered when the order was not paid through Fortbridge (nothing was paid on the
original, so the credit simply settles it), when the refund pays nothing back (restock only, no
transactions) or when its transactions failed or are pending.

Shopify's webhooks come in any order: a refund planned before the order's orders/paid keeps its
money back in the order's state (``pending_refund_payments``: the credit document's key and the
drafts), and the orders/paid that registers the invoice's payments registers them too, with the
same keys they would have had, so the payments are the same whichever event came first. An
order never paid through Fortbridge keeps them pending: nothing was paid in, nothing goes back.
"""

from __future__ import annotations

from typing import Any

from libs.common.messages import FortnoxCommand, PaymentDraft, SourceRef
from services.mapper.accounting.commands import key_base, payment_command
from services.mapper.accounting.money import UnmappableOrder
from services.mapper.accounting.payments import payment_draft, transaction_amount
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.state import OrderState, PendingRefundPayments


def paid_through_fortbridge(state: OrderState) -> bool:
    """Payments were planned on the order's invoice (orders/paid), so it is settled."""
    return state.document_kind == "invoice" and bool(state.payments)


def _refund_transactions(refund: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return [
        (i, tx)
        for i, tx in enumerate(refund.get("transactions") or [])
        if isinstance(tx, dict) and tx.get("kind") == "refund" and tx.get("status") == "success"
    ]


def pays_back(refund: dict[str, Any]) -> bool:
    """The refund paid money back, so the customer had paid: its invoice is credited, not
    cancelled. Read from the refund alone, so the documents do not depend on whether
    orders/paid was planned before it (webhooks come in any order)."""
    return bool(_refund_transactions(refund))


def refund_payments(
    refund: dict[str, Any], state: OrderState, settings: ShopSettings
) -> list[PaymentDraft]:
    """The money the refund paid back, as negative payment drafts: to register now on an
    invoice paid through Fortbridge, else to keep until it is (``pay_back``). Empty when there
    is none, or on a Fortnox order (it takes no payments)."""
    if state.document_kind != "invoice":
        return []
    try:
        return _drafts(refund, state, settings)
    except UnmappableOrder:
        if paid_through_fortbridge(state):
            raise
        # Not paid yet, and perhaps never: a transaction that cannot be read must not stop the
        # credit (on a paid order the refund is refused with the reason).
        return []


def _drafts(
    refund: dict[str, Any], state: OrderState, settings: ShopSettings
) -> list[PaymentDraft]:
    date = str(refund.get("processed_at") or refund.get("created_at") or "")[:10]
    drafts: list[PaymentDraft] = []
    for i, tx in _refund_transactions(refund):
        amount = transaction_amount(tx, state, f"transactions[{i}]")
        if amount <= 0:
            continue
        tx_date = str(tx.get("processed_at") or tx.get("created_at") or date)[:10]
        reference = str(tx.get("id", f"refund-{refund.get('id')}-{i}"))
        drafts.append(
            payment_draft(state, settings, -amount, tx.get("gateway"), tx_date, reference)
        )
    return drafts


def refund_payment_commands(
    shop: str,
    refund_id: str,
    target: str,
    source: SourceRef,
    state: OrderState,
    drafts: list[PaymentDraft],
    uid: str | None,
) -> list[FortnoxCommand]:
    """One ``register_payment`` per draft on ``target`` (the refund's credit document key)."""
    commands = []
    for draft in drafts:
        key = f"{shop}:refund:{refund_id}:payment:{draft.reference}"
        commands.append(payment_command(shop, key, source, state, draft, uid, target))
    return commands


def pay_back(
    shop: str,
    refund_id: str,
    target: str,
    source: SourceRef,
    state: OrderState,
    drafts: list[PaymentDraft],
    uid: str | None,
) -> tuple[list[FortnoxCommand], OrderState]:
    """The refund's money back on ``target``: its commands on an invoice paid through
    Fortbridge; else no command yet, the drafts kept in the state for orders/paid."""
    if not drafts:
        return [], state
    if paid_through_fortbridge(state):
        return refund_payment_commands(shop, refund_id, target, source, state, drafts, uid), state
    pending = PendingRefundPayments(
        refund_id=refund_id, target=target, source=source, payments=drafts
    )
    return [], state.model_copy(
        update={"pending_refund_payments": [*state.pending_refund_payments, pending]}
    )


def pending_payment_commands(
    shop: str, state: OrderState, uid: str | None
) -> tuple[list[FortnoxCommand], OrderState]:
    """Once the invoice is paid through Fortbridge: the money back of refunds planned before,
    with the keys they would have had then (the writer registers each key once)."""
    if not state.pending_refund_payments or not paid_through_fortbridge(state):
        return [], state
    commands = [
        command
        for pending in state.pending_refund_payments
        for command in refund_payment_commands(
            shop, pending.refund_id, pending.target, pending.source, state, pending.payments, uid
        )
    ]
    return commands, state.model_copy(update={"pending_refund_payments": []})


def cancel_key(state: OrderState) -> str:
    """The key of the credit document orders/cancelled made for the order."""
    return f"{key_base(state)}:cancel"
