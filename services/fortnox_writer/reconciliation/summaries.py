"""Summary mode in the report: orders and refunds tied to the daily summary documents holding them.

Computed from Shopify and Fortnox only (never from Fortbridge's records of which summary holds
which order): an order with no invoice of its own is *summarized* when Fortnox has a sales
summary document (``fb-summary-<day>-<currency>-<profile>-sales[-<batch>]``) for the order's
day (``day_of``: the mapper's ``business_day`` with the shop's close time and time zone),
currency and prices with or without VAT (Shopify's ``taxesIncluded``, the profile's
``incl``/``excl``); a refund with no credit document of its own likewise with a refunds summary
of the refund's day (not for an order with an invoice of its own: its refunds are its
credits). All documents of one (kind, day, currency, incl/excl) are one group (the
batches of a day closed again, and the VAT types of a profile): per group of a day in the
period, the Shopify side (the sum of its orders' totals and VAT per rate, or of its refunds') is
compared with the Fortnox side (the documents' totals and VAT per rate, a refunds summary's
negated), a ``summary`` difference listed when they disagree.

A summarized order cancelled without a refund is a member of the refunds summary of the day it
was cancelled (the mapper negates its entry there: ``reversal_of``), for its whole total. The
payments registered on a group's documents are compared too: a sales summary's against the
money Shopify received for its orders (successful sales and captures), a refunds summary's
(negative payments, negated) against the money its refunds paid back (successful refund
transactions; a cancellation without a refund pays nothing back). A summarized order's refund
(or cancellation) whose day is after the period is in a later refunds summary: marked
``later`` and not counted here (a later period's report compares it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from services.fortnox_writer.reconciliation.fortnox_side import FortnoxDocument
from services.fortnox_writer.reconciliation.shopify_side import ShopifyOrder

ZERO = Decimal("0.00")
DayOf = Callable[[datetime], date]
Group = tuple[str, date, str, str]  # (sales | refunds, day, currency, incl | excl)


@dataclass
class Member:
    order: ShopifyOrder
    refund_id: str | None  # None: the order's sale (or its cancellation)
    total: Decimal
    vat: Decimal
    vat_by_rate: dict[str, Decimal]
    paid: Decimal = ZERO  # money received (a sale) or paid back (a refund)
    cancellation: bool = False  # the whole order cancelled without a refund


@dataclass
class Tie:
    """Which summary documents hold each order's sale and each refund, per group the members."""

    sales: dict[str, list[FortnoxDocument]] = field(default_factory=dict)  # order id ->
    refunds: dict[str, list[FortnoxDocument]] = field(default_factory=dict)  # refund id ->
    cancellations: dict[str, list[FortnoxDocument]] = field(default_factory=dict)  # order id ->
    groups: dict[Group, list[FortnoxDocument]] = field(default_factory=dict)
    members: dict[Group, list[Member]] = field(default_factory=lambda: defaultdict(list))

    def of_order(self, order: ShopifyOrder) -> dict[str, Any] | None:
        sales = self.sales.get(order.order_id)
        refunds = {
            r.refund_id: _numbers(self.refunds[r.refund_id])
            for r in order.refunds
            if r.refund_id in self.refunds
        }
        cancelled = self.cancellations.get(order.order_id)
        if sales is None and not refunds and cancelled is None:
            return None
        return {
            "documents": _numbers(sales) if sales else [],
            "refunds": refunds,
            "cancelled": _numbers(cancelled) if cancelled else [],
        }


def _numbers(documents: list[FortnoxDocument]) -> list[str]:
    return [d.number for d in documents]


def _group_of(document: FortnoxDocument) -> Group:
    assert document.summary is not None
    (day, currency, profile, kind), _ = document.summary
    return kind, day, currency, profile.split("-", 1)[0]


def tie(
    orders: list[ShopifyOrder],
    documents: list[FortnoxDocument],
    start: date,
    end: date,
    day_of: DayOf | None,
) -> Tie:
    """Tie the orders (and their refunds) without documents of their own to the summaries."""
    found = Tie()
    for document in documents:
        if document.summary is not None:
            found.groups.setdefault(_group_of(document), []).append(document)
    if not found.groups or day_of is None:
        return found
    invoiced = {d.order_id for d in documents if d.kind == "invoice"}
    credited = {d.refund_id for d in documents if d.kind == "credit" and d.refund_id}
    with_credit = {d.order_id for d in documents if d.kind in ("credit", "cancellation")}

    def group(kind: str, moment: datetime, order: ShopifyOrder) -> Group | None:
        sides: tuple[str, ...] = ("incl", "excl")
        if order.taxes_included is not None:
            sides = ("incl",) if order.taxes_included else ("excl",)
        for side in sides:
            key = (kind, day_of(moment), order.currency, side)
            if key in found.groups:
                return key
        return None

    for order in orders:
        sold = order.in_period or order.edge
        if sold and order.order_id not in invoiced and order.created_at is not None:
            key = group("sales", order.created_at, order)
            if key is not None and (not order.edge or start <= key[1] <= end):
                found.sales[order.order_id] = found.groups[key]
                found.members[key].append(
                    Member(order, None, order.total, order.vat, order.vat_by_rate, order.captured)
                )
        if order.edge or order.order_id in invoiced:
            continue  # here for its sale only; or booked on its own: its refunds are credits
        summarized = order.order_id in found.sales
        for refund in order.refunds:
            if refund.refund_id in credited:
                continue
            if summarized and day_of(refund.created_at) > end:
                refund.later = True  # in a later day's refunds summary: a later report's
                continue
            key = group("refunds", refund.created_at, order)
            if key is not None and (not refund.edge or start <= key[1] <= end):
                found.refunds[refund.refund_id] = found.groups[key]
                found.members[key].append(
                    Member(
                        order,
                        refund.refund_id,
                        refund.amount,
                        refund.vat,
                        refund.vat_by_rate,
                        refund.paid_back,
                    )
                )
        own_credit = order.order_id in with_credit  # cancelled on its own in Fortnox
        if order.cancelled and not order.refunds and order.cancelled_at and not own_credit:
            if summarized and day_of(order.cancelled_at) > end:
                order.cancel_later = True  # in a later day's refunds summary
                continue
            key = group("refunds", order.cancelled_at, order)
            if key is not None and (not order.cancel_edge or start <= key[1] <= end):
                found.cancellations[order.order_id] = found.groups[key]
                found.members[key].append(
                    Member(order, None, order.total, order.vat, order.vat_by_rate, ZERO, True)
                )
    return found


def _text(value: Decimal) -> str:
    return str((value + ZERO).quantize(Decimal("0.01")))  # + 0: a negated zero is 0.00


def _sum(values: list[dict[str, Decimal]], sign: int = 1) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for value in values:
        for rate, amount in value.items():
            out[rate] += sign * amount
    return dict(out)


def _rates(values: dict[str, Decimal]) -> dict[str, str]:
    return {rate: _text(values[rate]) for rate in sorted(values, key=lambda r: -Decimal(r))}


def compare(
    found: Tie, start: date, end: date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per group of a day in the period: its row, and its differences."""
    rows: list[dict[str, Any]] = []
    differences: list[dict[str, Any]] = []
    for key in sorted(found.groups, key=lambda k: (k[1], k[0], k[2], k[3])):
        kind, day, currency, side = key
        if not start <= day <= end:
            continue  # another period's summary (named on its orders, compared in its report)
        documents = found.groups[key]
        members = found.members.get(key, [])
        sign = 1 if kind == "sales" else -1  # a refunds summary is a negative invoice
        shopify_total = sum((m.total for m in members), ZERO)
        shopify_vat = sum((m.vat for m in members), ZERO)
        shopify_rates = _sum([m.vat_by_rate for m in members])
        shopify_paid = sum((m.paid for m in members), ZERO)
        fortnox_paid = sign * sum((d.paid for d in documents), ZERO)
        fortnox_total = sign * sum((d.total for d in documents), ZERO)
        fortnox_vat = sign * sum((d.vat for d in documents), ZERO)
        fortnox_rates = _sum([d.vat_by_rate for d in documents], sign)
        numbers = ", ".join(_numbers(documents))
        rows.append(
            {
                "documents": _numbers(documents),
                "date": day.isoformat(),
                "kind": kind,
                "currency": currency,
                "vat_included": side == "incl",
                "orders": len({m.order.order_id for m in members}),
                "refunds": len([m for m in members if m.refund_id is not None]),
                "cancellations": len([m for m in members if m.cancellation]),
                "shopify": {
                    "total": _text(shopify_total),
                    "vat": _text(shopify_vat),
                    "vat_by_rate": _rates(shopify_rates),
                    "paid": _text(shopify_paid),
                },
                "fortnox": {
                    "total": _text(fortnox_total),
                    "vat": _text(fortnox_vat),
                    "vat_by_rate": _rates(fortnox_rates),
                    "paid": _text(fortnox_paid),
                },
            }
        )
        label = f"{kind} summary {day.isoformat()} {currency}"
        checks = [("total", shopify_total, fortnox_total), ("VAT", shopify_vat, fortnox_vat)]
        checks += [
            (f"VAT {rate} %", shopify_rates.get(rate, ZERO), fortnox_rates.get(rate, ZERO))
            for rate in sorted(set(shopify_rates) | set(fortnox_rates), key=lambda r: -Decimal(r))
        ]
        checks.append(("paid", shopify_paid, fortnox_paid))
        for what, ours, theirs in checks:
            if ours != theirs:
                differences.append(
                    {
                        "order_id": None,
                        "order_name": None,
                        "kind": "summary",
                        "what": f"{label} {what}",
                        "shopify": _text(ours),
                        "fortnox": _text(theirs),
                        "difference": _text(theirs - ours),
                        "document": numbers,
                    }
                )
    return rows, differences
