"""orders/paid -> invoice payments, one per Shopify transaction (or one for the order).

With the order's ``transactions`` (successful ``sale``/``capture``), each becomes a payment in
its own amount, gateway and date; a gift-card transaction uses the gift-card mode of payment and
its account is the gift-card liability (the debt recorded when the card was sold is settled).
Without transactions, the invoiced total is registered once, reference ``paid``, with the mode
of the first gateway that is not a gift card.

The order is paid once, whichever way its payments were told: after ``paid`` nothing more is
registered, and after transactions no ``paid`` (the same order can reach the mapper with its
transactions, read from Shopify by reconciliation or "create now", and without them, as a
webhook).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from libs.common.messages import PaymentDraft
from services.mapper.accounting.money import UnmappableOrder, money
from services.mapper.accounting.refunds import pricing_of
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.state import OrderState


def payment_draft(
    state: OrderState,
    settings: ShopSettings,
    amount: Decimal,
    gateway: str | None,
    date: str,
    reference: str,
) -> PaymentDraft:
    gift_card = gateway == "gift_card"
    return PaymentDraft(
        amount=amount,
        currency=state.currency,
        currency_rate=state.currency_rate,
        payment_date=date,
        mode_of_payment=settings.payment_mode(gateway),
        mode_of_payment_account=settings.accounts.gift_card_liability if gift_card else None,
        bookkeep=settings.bookkeep_payments,
        reference=reference,
    )


def transaction_amount(tx: dict[str, Any], state: OrderState, where: str) -> Decimal:
    if tx.get("amount_set"):
        return pricing_of(state).amount(tx, "amount", where)
    currency = tx.get("currency") or state.currency
    if currency != state.currency:
        raise UnmappableOrder(
            f"{where} is in {currency} but the invoice is in {state.currency}",
            code="payment_currency",
        )
    return money(tx.get("amount"), f"{where}.amount")


def planned_payments(
    order: dict[str, Any], state: OrderState, settings: ShopSettings
) -> list[PaymentDraft]:
    """The payments the order shows that are not yet registered."""
    date = str(order.get("processed_at") or order.get("updated_at") or "")[:10]
    transactions = order.get("transactions")
    drafts: list[PaymentDraft] = []
    if isinstance(transactions, list) and transactions:
        for i, tx in enumerate(transactions):
            if tx.get("kind") not in ("sale", "capture") or tx.get("status") != "success":
                continue
            reference = str(tx.get("id", i))
            amount = transaction_amount(tx, state, f"transactions[{i}]")
            tx_date = str(tx.get("processed_at") or tx.get("created_at") or date)[:10]
            drafts.append(
                payment_draft(state, settings, amount, tx.get("gateway"), tx_date, reference)
            )
    else:
        gateways = [str(g) for g in order.get("payment_gateway_names") or []]
        gateway = next((g for g in gateways if g != "gift_card"), gateways[0] if gateways else None)
        drafts.append(payment_draft(state, settings, state.invoiced_total, gateway, date, "paid"))
    if "paid" in state.payments:
        return []  # the whole invoiced total was registered once, without transactions
    if state.payments:
        # Transactions were registered (a fetched order carries them; Shopify's webhook may
        # not): the order is paid, so a later orders/paid without them adds nothing.
        drafts = [d for d in drafts if d.reference != "paid"]
    return [d for d in drafts if d.reference not in state.payments and d.amount > 0]
