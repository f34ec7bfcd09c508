"""Money paid back by a refund planned before the order's orders/paid (webhooks out of order):
kept in the order's state, registered with the invoice's payments, under the same keys."""

from __future__ import annotations

import json
from typing import Any

from libs.common.messages import FortnoxCommand
from services.mapper.accounting import ShopSettings, plan_event
from services.mapper.accounting.state import OrderState
from tests.services.mapper.corpus import SHOP, load

SETTINGS = ShopSettings(bookkeep_payments=True)
ORDER = "orders/01_two_rates_vat_included.json"
PAID = "edits/09_paid_without_transactions.json"
CANCELLED_PAID = "edits/14_cancelled_paid_credits_not_cancels.json"
PAID_REFUND = "refunds/14_paid_partial_refund_pays_back.json"
FULL_REFUND = "refunds/15_paid_full_refund_credits_and_pays_back.json"
FAILED_REFUND = "refunds/17_paid_refund_failed_transaction_pays_nothing.json"
AFTER_CANCEL = "refunds/19_refund_after_paid_cancel_pays_back_on_its_credit.json"


def _run(
    events: list[tuple[str, dict[str, Any]]], settings: ShopSettings = SETTINGS
) -> tuple[OrderState | None, list[list[FortnoxCommand]]]:
    state: OrderState | None = None
    planned = []
    for i, (topic, payload) in enumerate(events):
        plan = plan_event(SHOP, topic, payload, settings, state, event_uid=f"uid-{i}")
        state = plan.state
        planned.append(plan.commands)
    return state, planned


def _same(a: list[FortnoxCommand], b: list[FortnoxCommand]) -> bool:
    return [c.model_dump(exclude={"event_uid"}) for c in a] == [
        c.model_dump(exclude={"event_uid"}) for c in b
    ]


def _created() -> tuple[str, dict[str, Any]]:
    return ("orders/create", load(ORDER))


def test_a_refund_before_orders_paid_pays_back_with_the_invoices_payments() -> None:
    paid_first_state, [_, _, paid_first] = _run(
        [_created(), ("orders/paid", load(PAID)), ("refunds/create", load(PAID_REFUND))]
    )
    state, [_, refund, paid] = _run(
        [_created(), ("refunds/create", load(PAID_REFUND)), ("orders/paid", load(PAID))]
    )
    [credit] = refund
    assert credit.action == "create_document"
    assert state is not None and state.pending_refund_payments == []
    [invoice_payment, money_back] = paid
    assert invoice_payment.target_document_key == state.invoice_key
    assert money_back.target_document_key == credit.document_key
    assert money_back.payment is not None and money_back.payment.amount < 0
    assert money_back.event_uid == "uid-2"  # sent by the orders/paid event
    # Exactly the command the refund makes when the order was paid first.
    assert _same([credit, money_back], paid_first)
    assert paid_first_state == state


def test_the_money_back_waits_through_an_edit_of_the_invoice() -> None:
    state, [_, [credit], [update], paid] = _run(
        [
            _created(),
            ("refunds/create", load(PAID_REFUND)),
            ("orders/updated", load("edits/01_updated_with_added_line.json")),
            ("orders/paid", load(PAID)),
        ]
    )
    assert update.action == "update_document"
    [_, money_back] = paid
    assert money_back.target_document_key == credit.document_key
    assert state is not None and state.pending_refund_payments == []


def test_the_money_back_waits_in_the_state_until_the_order_is_paid() -> None:
    state, [_, [credit]] = _run([_created(), ("refunds/create", load(PAID_REFUND))])
    assert state is not None
    [pending] = state.pending_refund_payments
    assert pending.target == credit.document_key
    assert pending.source == credit.source
    [draft] = pending.payments
    assert draft.amount < 0 and draft.bookkeep and draft.mode_of_payment == "KORT"
    # Stored as JSON and read back (mapper.order_state), the same.
    assert OrderState.model_validate_json(state.model_dump_json()) == state
    # The same refund again adds nothing.
    again = plan_event(SHOP, "refunds/create", load(PAID_REFUND), SETTINGS, state)
    assert again.commands == [] and again.state == state


def test_a_full_refund_before_orders_paid_credits_and_pays_back_on_the_credit_invoice() -> None:
    _, [_, _, paid_first] = _run(
        [_created(), ("orders/paid", load(PAID)), ("refunds/create", load(FULL_REFUND))]
    )
    state, [_, [reverse], paid] = _run(
        [_created(), ("refunds/create", load(FULL_REFUND)), ("orders/paid", load(PAID))]
    )
    assert reverse.action == "reverse_document" and reverse.allow_cancel is False
    [_, money_back] = paid
    assert money_back.target_document_key == reverse.document_key
    assert _same([reverse, money_back], paid_first)
    assert state is not None and state.pending_refund_payments == []


def test_a_failed_refund_transaction_leaves_nothing_waiting() -> None:
    state, [_, [credit], [payment]] = _run(
        [_created(), ("refunds/create", load(FAILED_REFUND)), ("orders/paid", load(PAID))]
    )
    assert credit.action == "create_document"
    assert payment.target_document_key == credit.target_document_key  # the invoice's payment
    assert state is not None and state.pending_refund_payments == []


def test_an_order_never_paid_keeps_its_money_back_unregistered() -> None:
    state, planned = _run(
        [
            _created(),
            ("refunds/create", load(PAID_REFUND)),
            ("orders/cancelled", load(CANCELLED_PAID)),
        ]
    )
    assert all(c.action != "register_payment" for commands in planned for c in commands)
    assert state is not None and len(state.pending_refund_payments) == 1


def test_a_refund_after_the_cancellation_and_before_orders_paid_pays_back_on_its_credit() -> None:
    events = [_created(), ("orders/cancelled", load(CANCELLED_PAID))]
    _, [*_, paid_first] = _run(
        [*events, ("orders/paid", load(PAID)), ("refunds/create", load(AFTER_CANCEL))]
    )
    state, [_, [reverse], refund, paid] = _run(
        [*events, ("refunds/create", load(AFTER_CANCEL)), ("orders/paid", load(PAID))]
    )
    assert reverse.allow_cancel is False  # the cancelled order shows as paid: credited
    assert refund == []
    [_, money_back] = paid
    assert (
        money_back.target_document_key
        == reverse.document_key
        == f"{SHOP}:order:" + str(load(ORDER)["id"]) + ":cancel"
    )
    assert _same([money_back], paid_first)
    assert state is not None and state.pending_refund_payments == []


def test_the_skip_of_a_refund_after_the_cancellation_says_its_money_back_waits() -> None:
    state, _ = _run([_created(), ("orders/cancelled", load(CANCELLED_PAID))])
    plan = plan_event(SHOP, "refunds/create", load(AFTER_CANCEL), SETTINGS, state)
    assert plan.commands == []
    assert plan.skipped is not None and "waits for the order's payments" in plan.skipped


def test_a_fortnox_order_keeps_no_money_back() -> None:
    settings = ShopSettings(document_kind="order")
    state, [_, _, paid] = _run(
        [_created(), ("refunds/create", load(PAID_REFUND)), ("orders/paid", load(PAID))],
        settings,
    )
    assert state is not None and state.document_kind == "order"
    assert state.pending_refund_payments == [] and paid == []


def test_an_unreadable_transaction_before_orders_paid_does_not_stop_the_credit() -> None:
    refund = load(PAID_REFUND)
    refund["transactions"][-1]["currency"] = "EUR"  # not the invoice's currency
    state, [_, [credit]] = _run([_created(), ("refunds/create", refund)])
    assert credit.action == "create_document"
    assert state is not None and state.pending_refund_payments == []


def test_a_state_stored_before_pending_refund_payments_still_loads() -> None:
    state, _ = _run([_created()])
    assert state is not None
    stored = json.loads(state.model_dump_json())
    del stored["pending_refund_payments"]
    assert OrderState.model_validate_json(json.dumps(stored)) == state
