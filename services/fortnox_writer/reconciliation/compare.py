"""Shopify beside Fortnox: per order, per day and per VAT rate, with every difference listed.

Per order created in the period (and per earlier order refunded in it: its credits only):
- the invoice: Shopify's total and VAT (``totalPriceSet``, ``totalTaxSet``, ``taxLines`` per
  rate) against the Fortnox invoice's ``Total``, ``TotalVAT`` and VAT per rate, and currency;
- credits: what Shopify refunded (``totalRefundedSet`` of its refunds, or the whole order when it
  was cancelled without a refund) against the Fortnox credit documents (negated);
- payments: Shopify's successful sales and captures less refunds against the payments Fortnox
  has registered on the order's invoice and credits.

Differences: ``missing`` (no Fortnox invoice), ``extra`` (a Fortbridge invoice in Fortnox with
no Shopify order of the period, or two invoices for one order), ``amount``, ``vat``
(total or a rate), ``currency``, ``credit`` and ``payment``. All money is Decimal in the
document's currency; sums per day are by the Shopify order's day and the Fortnox document's
date (``InvoiceDate``), per rate over invoices and credits (credits negative).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from services.fortnox_writer.reconciliation.fortnox_side import FortnoxDocument, FortnoxPeriod
from services.fortnox_writer.reconciliation.shopify_side import ShopifyOrder, ShopifyPayout

ZERO = Decimal("0.00")


def _text(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _rates(values: dict[str, Decimal]) -> dict[str, str]:
    return {rate: _text(amount) for rate, amount in sorted(values.items(), key=_rate_order)}


def _rate_order(item: tuple[str, Any]) -> Decimal:
    return -Decimal(item[0])


def _difference(
    order: ShopifyOrder | None,
    kind: str,
    what: str,
    shopify: Any,
    fortnox: Any,
    document: str | None = None,
    order_id: str | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "order_id": order.order_id if order else order_id,
        "order_name": order.name if order else None,
        "kind": kind,
        "what": what,
        "shopify": shopify,
        "fortnox": fortnox,
        "document": document,
    }
    if isinstance(shopify, Decimal) and isinstance(fortnox, Decimal):
        entry["difference"] = _text(fortnox - shopify)
        entry["shopify"], entry["fortnox"] = _text(shopify), _text(fortnox)
    return entry


def _sum(values: list[dict[str, Decimal]]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for value in values:
        for rate, amount in value.items():
            out[rate] += amount
    return out


def relevant(
    order: ShopifyOrder, documents: list[FortnoxDocument], start: date
) -> list[FortnoxDocument]:
    """The order's documents this period counts: all of an order of the period; of an earlier
    order refunded in it, the credits of those refunds (and a Fortnox credit made in it)."""
    if order.in_period:
        return documents
    refunds = {r.refund_id for r in order.refunds}
    return [
        d
        for d in documents
        if d.kind == "credit"
        and (d.refund_id in refunds or (d.refund_id is None and d.day >= start))
    ]


def compare_order(order: ShopifyOrder, documents: list[FortnoxDocument]) -> dict[str, Any]:
    """``documents``: the order's documents this period counts (``relevant``)."""
    invoices = [d for d in documents if d.kind == "invoice"]
    credits = [d for d in documents if d.kind == "credit"]
    differences: list[dict[str, Any]] = []
    invoice = invoices[0] if invoices else None
    if not order.in_period:
        pass  # an earlier order, here for its refunds: only the credits are compared
    elif invoice is None:
        differences.append(_difference(order, "missing", "invoice", _text(order.total), None))
    else:
        for extra in invoices[1:]:
            differences.append(
                _difference(
                    order, "extra", "second invoice", None, _text(extra.total), extra.number
                )
            )
        if invoice.currency != order.currency:
            differences.append(
                _difference(
                    order, "currency", "invoice", order.currency, invoice.currency, invoice.number
                )
            )
        if invoice.total != order.total:
            differences.append(
                _difference(
                    order, "amount", "invoice total", order.total, invoice.total, invoice.number
                )
            )
        if invoice.vat != order.vat:
            differences.append(
                _difference(order, "vat", "invoice VAT", order.vat, invoice.vat, invoice.number)
            )
        for rate in sorted(set(order.vat_by_rate) | set(invoice.vat_by_rate)):
            ours, theirs = order.vat_by_rate.get(rate, ZERO), invoice.vat_by_rate.get(rate, ZERO)
            if ours != theirs and invoice.vat == order.vat:
                differences.append(
                    _difference(order, "vat", f"VAT {rate} %", ours, theirs, invoice.number)
                )
    expected_credit = order.total if order.cancelled and not order.refunds else order.refunded
    credited = -sum((c.total for c in credits), ZERO)
    if expected_credit != credited:
        differences.append(
            _difference(
                order,
                "credit",
                "credited",
                expected_credit,
                credited,
                ", ".join(c.number for c in credits) or None,
            )
        )
    paid = sum((d.paid for d in documents), ZERO)
    if paid != order.paid and order.in_period:
        differences.append(_difference(order, "payment", "paid (net)", order.paid, paid))
    return {
        "order_id": order.order_id,
        "order_name": order.name,
        "date": order.created.isoformat(),
        "in_period": order.in_period,
        "currency": order.currency,
        "shopify": {
            "total": _text(order.total),
            "vat": _text(order.vat),
            "vat_by_rate": _rates(order.vat_by_rate),
            "refunded": _text(order.refunded),
            "refunds": [
                {
                    "id": r.refund_id,
                    "date": r.created.isoformat(),
                    "amount": _text(r.amount),
                    "vat": _text(r.vat),
                }
                for r in order.refunds
            ],
            "cancelled": order.cancelled,
            "paid": _text(order.paid),
        },
        "fortnox": {
            "documents": [
                {
                    "number": d.number,
                    "kind": d.kind,
                    "date": d.day.isoformat(),
                    "total": _text(d.total),
                    "vat": _text(d.vat),
                    "vat_by_rate": _rates(d.vat_by_rate),
                    "paid": _text(d.paid),
                    "refund_id": d.refund_id,
                }
                for d in documents
            ],
            "total": _text(invoice.total) if invoice else None,
            "vat": _text(invoice.vat) if invoice else None,
            "credited": _text(credited),
            "paid": _text(paid),
        },
        "differences": differences,
    }


def build_report(
    shop: str, start: date, end: date, orders: list[ShopifyOrder], fortnox: FortnoxPeriod
) -> dict[str, Any]:
    ids = {o.order_id for o in orders}
    counted = {o.order_id: relevant(o, fortnox.of_order(o.order_id), start) for o in orders}
    documents = [d for d in fortnox.documents if d.order_id not in ids] + [
        d for docs in counted.values() for d in docs
    ]
    fortnox = FortnoxPeriod(documents, fortnox.calls, fortnox.notes)
    compared = [compare_order(o, counted[o.order_id]) for o in orders]
    ours = [o for o in orders if o.in_period]  # the period's own orders
    differences = [d for row in compared for d in row["differences"]]
    for document in fortnox.documents:
        if document.order_id not in ids and document.kind == "invoice":
            differences.append(
                _difference(
                    None,
                    "extra",
                    "invoice without a Shopify order in the period",
                    None,
                    _text(document.total),
                    document.number,
                    order_id=document.order_id,
                )
            )
    by_day: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for order in orders:
        if order.in_period:
            day = by_day[order.created.isoformat()]
            day["shopify_orders"] += order.total
            day["shopify_vat"] += order.vat
        for refund in order.refunds:
            by_day[refund.created.isoformat()]["shopify_refunds"] += refund.amount
    for document in fortnox.documents:
        day = by_day[document.day.isoformat()]
        name = "fortnox_invoices" if document.kind == "invoice" else "fortnox_credits"
        day[name] += document.total
        day["fortnox_vat"] += document.vat
    shopify_rates = _sum([o.vat_by_rate for o in ours])
    refund_rates = _sum([r.vat_by_rate for o in orders for r in o.refunds])
    fortnox_invoice_rates = _sum([d.vat_by_rate for d in fortnox.documents if d.kind == "invoice"])
    fortnox_credit_rates = _sum([d.vat_by_rate for d in fortnox.documents if d.kind == "credit"])
    rates = sorted(
        set(shopify_rates)
        | set(refund_rates)
        | set(fortnox_invoice_rates)
        | set(fortnox_credit_rates),
        key=lambda r: -Decimal(r),
    )
    invoices = [d for d in fortnox.documents if d.kind == "invoice"]
    credits = [d for d in fortnox.documents if d.kind == "credit"]
    columns = (
        "shopify_orders",
        "shopify_vat",
        "shopify_refunds",
        "fortnox_invoices",
        "fortnox_credits",
        "fortnox_vat",
    )
    return {
        "shop": shop,
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "totals": {
            "shopify": {
                "orders": len(ours),
                "total": _text(sum((o.total for o in ours), ZERO)),
                "vat": _text(sum((o.vat for o in ours), ZERO)),
                "refunded": _text(sum((o.refunded for o in orders), ZERO)),
                "refund_vat": _text(sum((o.refund_vat for o in orders), ZERO)),
                "paid": _text(sum((o.paid for o in ours), ZERO)),
            },
            "fortnox": {
                "invoices": len(invoices),
                "credits": len(credits),
                "total": _text(sum((d.total for d in invoices), ZERO)),
                "vat": _text(sum((d.vat for d in invoices), ZERO)),
                "credited": _text(-sum((d.total for d in credits), ZERO)),
                "credit_vat": _text(-sum((d.vat for d in credits), ZERO)),
                "paid": _text(sum((d.paid for o in ours for d in counted[o.order_id]), ZERO)),
            },
        },
        "by_day": [
            {"date": day, **{name: _text(values[name]) for name in columns}}
            for day, values in sorted(by_day.items())
        ],
        "by_vat_rate": [
            {
                "rate": rate,
                "shopify_orders_vat": _text(shopify_rates.get(rate, ZERO)),
                "shopify_refunds_vat": _text(refund_rates.get(rate, ZERO)),
                "fortnox_invoices_vat": _text(fortnox_invoice_rates.get(rate, ZERO)),
                "fortnox_credits_vat": _text(-fortnox_credit_rates.get(rate, ZERO)),
            }
            for rate in rates
        ],
        "orders": compared,
        "differences": differences,
        # Shopify Payments payouts of the period and their vouchers (jobs.py adds them).
        "payouts": [],
        "fortnox_calls": fortnox.calls,
        "notes": list(fortnox.notes),
    }


CSV_COLUMNS = (
    "date",
    "order_id",
    "order_name",
    "currency",
    "documents",
    "shopify_total",
    "fortnox_total",
    "shopify_vat",
    "fortnox_vat",
    "shopify_refunded",
    "fortnox_credited",
    "shopify_paid",
    "fortnox_paid",
    "differences",
)


def to_csv(report: dict[str, Any]) -> str:
    """One line per order (its differences in the last column), then one per extra document."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in report["orders"]:
        shopify, fortnox = row["shopify"], row["fortnox"]
        writer.writerow(
            [
                row["date"],
                row["order_id"],
                row["order_name"],
                row["currency"],
                " ".join(f"{d['kind']}:{d['number']}" for d in fortnox["documents"]),
                shopify["total"],
                fortnox["total"] or "",
                shopify["vat"],
                fortnox["vat"] or "",
                shopify["refunded"],
                fortnox["credited"],
                shopify["paid"],
                fortnox["paid"],
                "; ".join(_described(d) for d in row["differences"]),
            ]
        )
    for extra in report["differences"]:
        if extra["order_name"] is None:
            writer.writerow(
                [
                    "",
                    extra["order_id"],
                    "",
                    "",
                    f"invoice:{extra['document']}",
                    "",
                    extra["fortnox"],
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    _described(extra),
                ]
            )
    return out.getvalue()


def _described(difference: dict[str, Any]) -> str:
    text = f"{difference['kind']} {difference['what']}"
    if difference.get("difference") is not None:
        text += f" ({difference['shopify']} vs {difference['fortnox']})"
    return text


def payout_rows(
    payouts: list[ShopifyPayout] | None, vouchers: dict[str, str]
) -> list[dict[str, Any]]:
    """Each payout of the period with its voucher in Fortnox (None: not booked)."""
    return [
        {
            "payout_id": p.payout_id,
            "date": p.day.isoformat(),
            "currency": p.currency,
            "net": _text(p.net),
            "fees": _text(p.fees),
            "voucher": vouchers.get(f"Shopify Payments utbetalning {p.payout_id}"),
        }
        for p in payouts or []
    ]
