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
"""

from __future__ import annotations

from typing import Any

from libs.common.messages import FortnoxCommand, PaymentDraft, SourceRef
from services.mapper.accounting.commands import key_base, payment_command
from services.mapper.accounting.payments import payment_draft, transaction_amount
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.state import OrderState


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
    """The money the refund paid back, as negative payment drafts (empty if none to register)."""
    if not paid_through_fortbridge(state):
        return []
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


def cancel_key(state: OrderState) -> str:
    """The key of the credit document orders/cancelled made for the order."""
    return f"{key_base(state)}:cancel"
