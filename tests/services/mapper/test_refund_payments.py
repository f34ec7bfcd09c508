"""The planner's money paid back beyond the corpus: repeats, nothing left, unpaid orders."""

from __future__ import annotations

from decimal import Decimal

from services.mapper.accounting import ShopSettings, plan_event
from services.mapper.accounting.state import OrderState
from tests.services.mapper.corpus import SHOP, load

SETTINGS = ShopSettings(bookkeep_payments=True)
PAID_REFUND = "refunds/14_paid_partial_refund_pays_back.json"
FULL_REFUND = "refunds/15_paid_full_refund_credits_and_pays_back.json"


def _paid_order() -> OrderState:
    state = plan_event(
        SHOP, "orders/create", load("orders/01_two_rates_vat_included.json"), SETTINGS, None
    ).state
    state = plan_event(
        SHOP, "orders/paid", load("edits/09_paid_without_transactions.json"), SETTINGS, state
    ).state
    assert state is not None and state.payments == ["paid"]
    return state


def test_a_repeated_refund_pays_back_once() -> None:
    first = plan_event(SHOP, "refunds/create", load(PAID_REFUND), SETTINGS, _paid_order())
    [credit, payment] = first.commands
    assert payment.payment is not None and payment.payment.bookkeep
    assert payment.target_document_key == credit.document_key
    again = plan_event(SHOP, "refunds/create", load(PAID_REFUND), SETTINGS, first.state)
    assert again.commands == [] and again.skipped is not None


def test_money_back_with_nothing_left_to_credit_is_skipped_with_the_reason() -> None:
    state = plan_event(SHOP, "refunds/create", load(FULL_REFUND), SETTINGS, _paid_order()).state
    late = load(PAID_REFUND)
    late["id"] = 8_100_000_000_099
    plan = plan_event(SHOP, "refunds/create", late, SETTINGS, state)
    assert plan.commands == []
    assert plan.skipped is not None and "money paid back" in plan.skipped


def test_a_full_refund_cancels_only_when_it_pays_nothing_back() -> None:
    """Whether the customer paid is read from the refund itself, so the reversal is the same
    whether orders/paid came before the refund or after it."""
    state = plan_event(
        SHOP, "orders/create", load("orders/01_two_rates_vat_included.json"), SETTINGS, None
    ).state
    refund = load(FULL_REFUND)
    [reverse] = plan_event(SHOP, "refunds/create", refund, SETTINGS, state).commands
    assert reverse.action == "reverse_document" and reverse.allow_cancel is False
    refund["transactions"] = []
    [reverse] = plan_event(SHOP, "refunds/create", refund, SETTINGS, state).commands
    assert reverse.action == "reverse_document" and reverse.allow_cancel is True
    paid = _paid_order()
    [reverse] = plan_event(SHOP, "refunds/create", refund, SETTINGS, paid).commands
    assert reverse.allow_cancel is True  # the writer still credits an invoice with payments


def test_a_pending_refund_transaction_pays_nothing_back() -> None:
    refund = load(PAID_REFUND)
    refund["transactions"][0]["status"] = "pending"
    plan = plan_event(SHOP, "refunds/create", refund, SETTINGS, _paid_order())
    assert [c.action for c in plan.commands] == ["create_document"]
    assert plan.commands[0].expected_total == Decimal("-89.00")


def test_an_order_is_paid_once_with_or_without_its_transactions() -> None:
    """Reconciliation and "create now" read the order from Shopify with its transactions;
    Shopify's orders/paid webhook may come without them. Either way round, one payment set."""
    created = plan_event(
        SHOP, "orders/create", load("orders/01_two_rates_vat_included.json"), SETTINGS, None
    ).state
    with_transactions = load("edits/09_paid_without_transactions.json")
    with_transactions["transactions"] = [
        {"id": 71, "kind": "sale", "status": "success", "amount": "500.00", "gateway": "card"},
        {"id": 72, "kind": "capture", "status": "success", "amount": "36.00", "gateway": "card"},
    ]
    without = load("edits/09_paid_without_transactions.json")

    first = plan_event(SHOP, "orders/paid", with_transactions, SETTINGS, created)
    assert [c.payment.reference for c in first.commands if c.payment] == ["71", "72"]
    late = plan_event(SHOP, "orders/paid", without, SETTINGS, first.state)
    assert late.commands == []

    first = plan_event(SHOP, "orders/paid", without, SETTINGS, created)
    assert [c.payment.amount for c in first.commands if c.payment] == [Decimal("536.00")]
    late = plan_event(SHOP, "orders/paid", with_transactions, SETTINGS, first.state)
    assert late.commands == []
