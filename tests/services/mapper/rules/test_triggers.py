"""Triggers (create, paid, fulfilled) and document kinds across an order's events; a document
once made keeps its kind and key whatever the rules say later."""

from __future__ import annotations

from typing import Any

from simulators.shopify.payloads import order_payload
from tests.services.mapper.builders import refund_payload
from tests.services.mapper.rules.support import only_document, plan, rule, rule_set

PAID = rule_set(rule({"trigger": "paid"}))
FULFILLED = rule_set(rule({"trigger": "fulfilled"}))


def test_create_is_the_default_trigger() -> None:
    result = plan("orders/create", order_payload(financial_status="pending"), rule_set())
    assert [c.action for c in result.commands] == ["create_document"]
    assert result.commands[0].rule_version == 1


def test_paid_trigger_waits_for_orders_paid() -> None:
    order = order_payload(financial_status="pending")
    waiting = plan("orders/create", order, PAID)
    assert waiting.commands == [] and waiting.state is None
    assert waiting.skipped and "when the order is paid" in waiting.skipped
    paid = {**order, "financial_status": "paid"}
    result = plan("orders/paid", paid, PAID)
    assert [c.action for c in result.commands] == ["create_document", "register_payment"]
    assert result.state is not None
    again = plan("orders/updated", {**paid, "updated_at": paid["updated_at"]}, PAID, result.state)
    assert again.commands == []  # stale/unchanged: the document exists once


def test_paid_trigger_also_fires_on_a_paid_order_update() -> None:
    result = plan("orders/updated", order_payload(financial_status="paid"), PAID)
    assert [c.action for c in result.commands] == ["create_document", "register_payment"]


def test_fulfilled_trigger() -> None:
    order = order_payload(financial_status="pending")
    assert plan("orders/create", order, FULFILLED).commands == []
    assert plan("orders/paid", {**order, "financial_status": "paid"}, FULFILLED).commands == []
    fulfilled = {**order, "fulfillment_status": "fulfilled"}
    assert [c.action for c in plan("orders/fulfilled", fulfilled, FULFILLED).commands] == [
        "create_document"
    ]
    by_update = plan("orders/updated", fulfilled, FULFILLED)
    assert [c.action for c in by_update.commands] == ["create_document"]
    paid_and_fulfilled = {**fulfilled, "financial_status": "paid"}
    both = plan("orders/fulfilled", paid_and_fulfilled, FULFILLED)
    assert [c.action for c in both.commands] == ["create_document", "register_payment"]


def test_cancelled_before_the_trigger_makes_nothing() -> None:
    order = order_payload(financial_status="pending")
    result = plan("orders/cancelled", {**order, "cancelled_at": order["created_at"]}, PAID)
    assert result.commands == []
    assert result.skipped and "cancelled before it was paid" in result.skipped


def test_kind_none_skips_every_event_of_the_order() -> None:
    none = rule_set(rule({"document_kind": "none"}))
    order = order_payload()
    for topic in ("orders/create", "orders/updated", "orders/paid", "orders/cancelled"):
        result = plan(topic, order, none)
        assert result.commands == [] and result.skipped, topic
    refund = plan("refunds/create", refund_payload(order, 9_000_001, lines=[(0, 1)]), none)
    assert refund.commands == [] and refund.skipped


def test_an_order_document_takes_no_payment_and_keeps_its_kind() -> None:
    as_order = rule_set(rule({"document_kind": "order"}))
    order = order_payload(financial_status="paid")
    created = plan("orders/create", order, as_order)
    assert created.state is not None and created.state.document_kind == "order"
    paid = plan("orders/paid", order, as_order, created.state)
    assert paid.commands == [] and paid.skipped and "registered on invoices" in paid.skipped
    # The rules change: the order's document stays a Fortnox order (history is not rewritten).
    edited: dict[str, Any] = {
        **order,
        "updated_at": "2030-01-01T00:00:00+00:00",
        "note": "changed",
    }
    edited["line_items"] = [
        {**order["line_items"][0], "title": "Renamed"},
        *order["line_items"][1:],
    ]
    edited["line_items"][0]["name"] = "Renamed"
    update = plan("orders/updated", edited, rule_set(version=2), created.state)
    [command] = update.commands
    assert command.action == "update_document" and command.rule_version == 2
    assert command.target_document_key == created.state.invoice_key
    assert command.document and command.document.kind == "order"


def test_a_refund_of_an_order_document_is_a_negative_invoice() -> None:
    as_order = rule_set(rule({"document_kind": "order"}))
    order = order_payload()
    created = plan("orders/create", order, as_order)
    refund = refund_payload(order, 9_000_002, lines=[(0, 1)])
    assert created.state is not None
    result = plan("refunds/create", refund, as_order, created.state)
    command = only_document(result)
    assert command.document is not None and command.document.kind == "invoice"
    assert command.target_document_key == created.state.invoice_key  # ...:order
