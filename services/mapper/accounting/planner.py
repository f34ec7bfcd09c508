"""The pure planner: a Shopify event, the shop's settings and the order's state in; the Fortnox
commands to send and the order's new state out. No I/O: the handler loads and stores.

- orders/create, orders/updated, orders/edited (a full order): first sight creates the
  invoice; later, ``update_document`` when the content changed and updated_at is newer than the
  last applied, else skipped with the reason (stale, or unchanged).
- orders/edited with only ``order_edit``: skipped; the content comes with orders/updated.
- orders/cancelled: credit what remains (``reverse_document`` if nothing was credited, else a
  negative invoice for the remainder, else nothing).
- orders/paid: ``register_payment`` per transaction not yet registered.
- refunds/create: ``reverse_document`` for a first refund of everything, else a negative
  invoice (refunds.py); on an order paid through Fortbridge, a negative ``register_payment``
  on that credit document per refund transaction (refund_payments.py), or, before the order
  is paid through Fortbridge, kept for the orders/paid that registers its payments. A paid
  invoice is credited, never cancelled (by a refund or by orders/cancelled).

Before the order's document exists, the settings' ``document_kind`` and ``trigger`` (set by the
shop's rules, triggers.py) decide whether this event makes it: kind ``none`` never, trigger
``paid``/``fulfilled`` only once the order is; a document made late on a paid order is made
with its payments. A Fortnox order (kind ``order``) takes no payments (Fortnox registers them
on invoices). Once made, the document keeps its kind and key whatever the rules say later.

``vat``: what VIES said about the order's VAT number (the handler asks before planning;
vat_numbers.py). Reverse charge only with a confirmed number; otherwise the order is booked with
the shop's VAT and its commands carry a notice saying why. None: the caller vouches for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from libs.common.errors import TransientError
from libs.common.messages import FortnoxCommand, SourceRef
from services.mapper.accounting.commands import (
    document_command,
    key_base,
    payment_command,
    reconciled_rows,
    reverse_command,
)
from services.mapper.accounting.invoices import (
    create_invoice,
    order_id_of,
    order_source,
    shop_day,
    timestamp,
    update_invoice,
)
from services.mapper.accounting.money import UnmappableOrder
from services.mapper.accounting.payments import planned_payments
from services.mapper.accounting.refund_payments import (
    cancel_key,
    pay_back,
    pays_back,
    pending_payment_commands,
    refund_payments,
)
from services.mapper.accounting.refunds import (
    CreditPlan,
    plan_credit,
    refund_credits,
    remainder_credits,
)
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.state import OrderState
from services.mapper.accounting.triggers import NO_DOCUMENT, held_reason, is_paid
from services.mapper.accounting.vat_numbers import VatCheck

ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/edited", "orders/fulfilled"})
SYNCED_TOPICS = ORDER_TOPICS | {"orders/cancelled", "orders/paid", "refunds/create"}


@dataclass(frozen=True)
class Plan:
    commands: list[FortnoxCommand]
    state: OrderState | None
    skipped: str | None = None


def order_id_for(topic: str, payload: dict[str, Any]) -> str | None:
    """The order an event belongs to (its state row), or None for topics without one."""
    if topic == "refunds/create":
        value = payload.get("order_id")
    elif topic == "orders/edited" and isinstance(payload.get("order_edit"), dict):
        value = payload["order_edit"].get("order_id")
    elif topic in SYNCED_TOPICS:
        value = payload.get("id")
    else:
        return None
    return None if value is None or isinstance(value, bool | float) else str(value)


def plan_event(
    shop: str,
    topic: str,
    payload: dict[str, Any],
    settings: ShopSettings,
    state: OrderState | None,
    *,
    event_uid: str | None = None,
    vat: VatCheck | None = None,
) -> Plan:
    if topic not in SYNCED_TOPICS:
        return Plan([], state, f"topic {topic} is not synced")
    if topic == "refunds/create":
        if state is None and settings.document_kind == "none":
            return Plan([], state, NO_DOCUMENT)
        return _refund(shop, payload, settings, state, event_uid)
    if topic == "orders/edited" and "line_items" not in payload:
        return Plan(
            [],
            state,
            "orders/edited carries only the edit; the invoice is updated from the "
            "orders/updated event Shopify sends with it",
        )
    order_id_of(payload)
    if state is None:
        held = held_reason(topic, payload, settings)
        if held is not None:
            return Plan([], state, held)
        if settings.trigger != "create" and topic != "orders/cancelled" and is_paid(payload):
            # Made late, on a paid order: its payments are registered with it.
            return _paid(shop, payload, settings, state, event_uid, vat)
    if topic == "orders/cancelled":
        return _cancel(shop, payload, settings, state, event_uid, vat)
    if topic == "orders/paid":
        return _paid(shop, payload, settings, state, event_uid, vat)
    return _order_version(shop, topic, payload, settings, state, event_uid, vat)


def _order_version(
    shop: str,
    topic: str,
    order: dict[str, Any],
    settings: ShopSettings,
    state: OrderState | None,
    uid: str | None,
    vat: VatCheck | None = None,
) -> Plan:
    if state is None:
        command, new_state = create_invoice(shop, order, settings, uid, vat=vat)
        return Plan([command], new_state)
    if topic == "orders/create":
        # The same order created again (a later copy of the webhook, or "create now" from the
        # admin API): the same create command again, if the order is still what was planned.
        # The writer makes its document once, and retries one that failed.
        command, new_state = create_invoice(shop, order, settings, uid, vat=vat)
        if _without_consultation(new_state) == _without_consultation(state):
            return Plan([command], state)
    if state.cancelled or state.full_credit_used:
        return Plan([], state, "the invoice is already cancelled or fully credited")
    updated_at = timestamp(order.get("updated_at"))
    last = state.last_updated_at
    if updated_at is None or (last is not None and updated_at <= last):
        return Plan(
            [],
            state,
            f"stale event: updated_at {updated_at and updated_at.isoformat()} is not newer "
            f"than the last applied {last and last.isoformat()}",
        )
    update, new_state = update_invoice(shop, order, settings, state, updated_at, uid, vat=vat)
    if update is None:
        return Plan([], new_state, "the invoice content did not change")
    return Plan([update], new_state)


def _without_consultation(state: OrderState) -> OrderState:
    """The state without the VIES consultation's date: a later check of the same number is
    the same order."""
    customer = state.customer.model_copy(update={"vies_note": None})
    return state.model_copy(update={"customer": customer})


def _ensure_invoice(
    shop: str,
    order: dict[str, Any],
    settings: ShopSettings,
    state: OrderState | None,
    uid: str | None,
    *,
    original: bool = False,
    vat: VatCheck | None = None,
) -> tuple[list[FortnoxCommand], OrderState]:
    if state is not None:
        return [], state
    command, new_state = create_invoice(shop, order, settings, uid, original=original, vat=vat)
    return [command], new_state


def _paid(
    shop: str,
    order: dict[str, Any],
    settings: ShopSettings,
    state: OrderState | None,
    uid: str | None,
    vat: VatCheck | None = None,
) -> Plan:
    commands, state = _ensure_invoice(shop, order, settings, state, uid, vat=vat)
    if state.document_kind == "order":
        reason = "payments are registered on invoices; this order's document is a Fortnox order"
        return Plan(commands, state, None if commands else reason)
    payments = planned_payments(order, state, settings)
    source = order_source(order)
    base = key_base(state)
    for payment in payments:
        key = f"{base}:payment:{payment.reference}"
        commands.append(payment_command(shop, key, source, state, payment, uid))
    state = state.model_copy(
        update={"payments": [*state.payments, *(p.reference for p in payments)]}
    )
    # Refunds planned before the invoice was paid: their money back, after its payments.
    money_back, state = pending_payment_commands(shop, state, uid)
    commands.extend(money_back)
    return Plan(commands, state, None if commands else "every payment is already registered")


def _cancel(
    shop: str,
    order: dict[str, Any],
    settings: ShopSettings,
    state: OrderState | None,
    uid: str | None,
    vat: VatCheck | None = None,
) -> Plan:
    commands, state = _ensure_invoice(shop, order, settings, state, uid, original=True, vat=vat)
    if state.cancelled:
        return Plan([], state, "the order is already cancelled")
    key = f"{key_base(state)}:cancel"
    source = order_source(order)
    if not state.anything_credited:
        credit = plan_credit(state, remainder_credits(state), settings)
        state = credit.state.model_copy(update={"cancelled": True, "cancel_document": True})
        # A paid invoice cannot be cancelled in Fortnox: it is credited, and the refund's
        # money back is registered on the credit invoice. Read from the order, not from the
        # payments planned so far, so the documents do not depend on the events' order.
        allow_cancel = not is_paid(order)
        dated = reversal_date(order.get("cancelled_at"), state)
        commands.append(reverse_command(shop, key, source, state, allow_cancel, uid, dated))
        return Plan(commands, state)
    credit = plan_credit(state, remainder_credits(state), settings)
    state = credit.state.model_copy(update={"cancelled": True})
    if not credit.total:
        return Plan(commands, state, "nothing remains to credit")
    state = state.model_copy(update={"cancel_document": True})
    remarks = f"Makulering av order {state.your_order_number}: kreditering av återstoden"
    dated = credit_date(order.get("cancelled_at"), state)
    commands.append(
        _negative_invoice(
            shop, key, f"shopify-cancel-{state.order_id}", source, credit, remarks, settings, uid,
            dated,
        )
    )  # fmt: skip
    return Plan(commands, state)


def _refund(
    shop: str,
    refund: dict[str, Any],
    settings: ShopSettings,
    state: OrderState | None,
    uid: str | None,
) -> Plan:
    refund_id = refund.get("id")
    if refund_id is None or isinstance(refund_id, bool | float):
        raise UnmappableOrder("the refund has no integer id", code="missing_id")
    refund_id = str(refund_id)
    if state is None:
        raise TransientError(
            f"refund {refund_id} arrived before its order {refund.get('order_id')} was "
            "invoiced; retrying later",
            code="order_not_invoiced",
        )
    if refund_id in state.refunds:
        return Plan([], state, f"refund {refund_id} is already credited")
    credit = plan_credit(state, refund_credits(refund, state), settings)
    new_state = credit.state.model_copy(update={"refunds": [*state.refunds, refund_id]})
    key = f"{shop}:refund:{refund_id}:credit"
    # The source is the refund; the timeline shows it on its order (order_id).
    source = SourceRef(
        type="refund",
        id=refund_id,
        order_id=state.order_id,
        name=state.name,
        updated_at=timestamp(refund.get("created_at")),
    )
    money_back = refund_payments(refund, state, settings)
    if not credit.total:
        reason = (
            "nothing remains to credit"
            if state.cancelled or state.full_credit_used
            else ("the refund credits no lines, shipping or amounts")
        )
        if money_back and state.cancel_document:
            # The cancellation credited the order already: the money goes back on its document.
            target = cancel_key(state)
            payments, new_state = pay_back(
                shop, refund_id, target, source, new_state, money_back, uid
            )
            if payments:
                return Plan(payments, new_state)
            reason += f"; the money paid back waits for the order's payments, then goes on {target}"
        elif money_back:
            reason += "; the money paid back has no credit document to be registered on"
        return Plan([], new_state, f"refund {refund_id}: {reason}")
    if credit.whole:
        # A paid invoice is credited, never cancelled: the money back is paid on the credit.
        allow_cancel = settings.cancel_unbooked_on_refund and not pays_back(refund)
        dated = reversal_date(refund.get("created_at"), state)
        command = reverse_command(shop, key, source, state, allow_cancel, uid, dated)
    else:
        remarks = (
            f"Kreditering av order {state.your_order_number} (Shopify-återbetalning {refund_id})"
        )
        dated = credit_date(refund.get("created_at"), state)
        command = _negative_invoice(
            shop, key, f"shopify-refund-{refund_id}", source, credit, remarks, settings, uid,
            dated,
        )  # fmt: skip
    payments, new_state = pay_back(shop, refund_id, key, source, new_state, money_back, uid)
    return Plan([command, *payments], new_state)


def _negative_invoice(
    shop: str,
    key: str,
    reference: str,
    source: SourceRef,
    credit: CreditPlan,
    remarks: str,
    settings: ShopSettings,
    uid: str | None,
    document_date: str,
) -> FortnoxCommand:
    state = credit.state
    fields = {k: v for k, v in state.fields.items() if k != "Freight"}
    if credit.freight:
        fields["Freight"] = -credit.freight
    fields["ExternalInvoiceReference2"] = state.external_reference
    fields["Remarks"] = remarks
    rows = reconciled_rows(
        credit.rows,
        -credit.total,
        -credit.freight,
        vat_included=state.vat_included,
        currency=state.currency,
        settings=settings,
        what=f"credit of order {state.your_order_number}",
    )
    return document_command(
        shop,
        action="create_document",
        key=key,
        source=source,
        state=state,
        rows=rows,
        external_ref=reference,
        fields=fields,
        total=-credit.total,
        settings=settings,
        event_uid=uid,
        target=state.invoice_key,
        kind="invoice",
        document_date=document_date,
    )


def reversal_date(moment: Any, state: OrderState) -> str | None:
    """The day Fortnox's own credit invoice of the whole order belongs to (:func:`credit_date`),
    or None to leave Fortnox's date: for a document in another currency without an explicit
    CurrencyRate, whose credit's rate the reference does not say Fortnox keeps when re-dated."""
    if state.currency != "SEK" and "CurrencyRate" not in state.fields:
        return None
    return credit_date(moment, state)


def credit_date(moment: Any, state: OrderState) -> str:
    """The date of a negative invoice: the day the refund or cancellation happened.

    A credit reduces the output VAT of the period it is issued in, so a December refund of a
    November order is a December document, not a change to November (which the accountant may
    have reported and locked). The day is the shop's, as for the order's own date
    (:func:`shop_day`). The order's date instead when the timestamp is missing or earlier
    than the order, and for a document in another currency without an explicit CurrencyRate:
    Fortnox gives such a document the rate of its date, and the credit must reverse the invoice
    at the invoice's rate.
    """
    if state.currency != "SEK" and "CurrencyRate" not in state.fields:
        return state.document_date
    day = shop_day(moment)
    try:
        date.fromisoformat(day)
    except ValueError:
        return state.document_date
    return max(day, state.document_date)
