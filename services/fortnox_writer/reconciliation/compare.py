"""Shopify beside Fortnox: per order, per day and per VAT rate, with every difference listed.

Per order created in the period (and per earlier order refunded in it: its credits only):
- the invoice: Shopify's total and VAT (``totalPriceSet``, ``totalTaxSet``, ``taxLines`` per
  rate) against the Fortnox invoice's ``Total``, ``TotalVAT`` and VAT per rate, and currency;
- credits: what Shopify refunded (``totalRefundedSet`` of its refunds), or the whole order when it
  was cancelled (its refunds, then the rest: ``shopify-cancel-<id>``), against the Fortnox credit
  documents (negated), an invoice
  cancelled in Fortnox counting as a credit of its whole amount (``cancellation``);
- payments: Shopify's successful sales and captures less refunds against the payments Fortnox
  has registered on the order's invoice and credits.

Summary mode (summaries.py): an order with no invoice of its own, held by a daily summary
document of its day, is ``summarized`` with that document's number (and a refund likewise), not
missing; each summary is compared as a whole (``summary`` differences).

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
from services.fortnox_writer.reconciliation.shopify_side import ShopifyOrder
from services.fortnox_writer.reconciliation.summaries import DayOf, Tie, tie
from services.fortnox_writer.reconciliation.summaries import compare as compare_summaries

ZERO = Decimal("0.00")
# What reverses an order's invoice: a credit (invoice) or the invoice cancelled in Fortnox.
CREDITS = frozenset({"credit", "cancellation"})


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
        if d.kind in CREDITS
        and (
            d.refund_id in refunds
            or (d.refund_id is None and d.day >= start)
            # cancelled in the period without a refund: its invoice voided (the reversal
            # carries the invoice's earlier day) is what the cancellation did
            or (order.cancel_only and d.kind == "cancellation")
        )
    ]


def compare_order(
    order: ShopifyOrder,
    documents: list[FortnoxDocument],
    summarized: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``documents``: the order's documents this period counts (``relevant``); ``summarized``:
    the summary documents holding its sale and refunds (``Tie.of_order``)."""
    in_summary = bool(summarized and summarized["documents"])
    summarized_refunds = set(summarized["refunds"]) if summarized else set()
    cancelled_in_summary = bool(summarized and summarized.get("cancelled"))
    invoices = [d for d in documents if d.kind == "invoice"]
    credits = [d for d in documents if d.kind in CREDITS]
    differences: list[dict[str, Any]] = []
    invoice = invoices[0] if invoices else None
    if not order.in_period:
        pass  # an earlier order, here for its refunds: only the credits are compared
    elif invoice is None and in_summary:
        pass  # booked in a daily summary: compared as a whole (summaries.py)
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
    # A cancelled order of the period is credited whole: its refunds, then what was left
    # (``shopify-cancel-<id>``). An earlier order's period refunds only (its earlier ones unknown).
    cancelled_whole = order.cancelled and (order.in_period or not order.refunds)
    expected_credit = order.total if cancelled_whole else order.refunded
    if cancelled_in_summary or order.cancel_later:
        expected_credit = ZERO  # in its refunds summary: compared as a whole (summaries.py)
    expected_credit -= sum(
        (r.amount for r in order.refunds if r.refund_id in summarized_refunds), ZERO
    )
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
    if paid != order.paid and order.in_period and not in_summary:
        differences.append(_difference(order, "payment", "paid (net)", order.paid, paid))
    return {
        "order_id": order.order_id,
        "order_name": order.name,
        "date": order.created.isoformat(),
        "in_period": order.in_period,
        "currency": order.currency,
        "summarized": summarized,
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
                    "later": r.later,
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


def _within(order: ShopifyOrder, held: Tie, summary_mode: bool) -> ShopifyOrder | None:
    """The order as the period lists it, None when it is here only for a summary: made after
    the period (its sale is in the last day's summary), or an earlier order whose refunds after
    the period but before the last day's close time, or (summary mode) whose cancellation
    without a refund no refunds summary of the period holds. Without summaries an earlier order
    cancelled in the period without a refund is listed: its credit (or its voided invoice) is
    compared with the cancellation."""
    if order.edge:
        return None
    if any(r.edge for r in order.refunds):
        order.refunds = [r for r in order.refunds if not r.edge or r.refund_id in held.refunds]
        if not order.refunds and not order.in_period:
            return None
    if order.cancel_only and summary_mode and order.order_id not in held.cancellations:
        return None
    return order


def build_report(
    shop: str,
    start: date,
    end: date,
    orders: list[ShopifyOrder],
    fortnox: FortnoxPeriod,
    day_of: DayOf | None = None,
) -> dict[str, Any]:
    """``day_of``: an order's (refund's) summary day (summary mode), None: no summaries."""
    held = tie(orders, fortnox.documents, start, end, day_of)
    summary_rows, summary_differences = compare_summaries(held, start, end)
    orders = [o for o in (_within(o, held, day_of is not None) for o in orders) if o is not None]
    ids = {o.order_id for o in orders}
    counted = {o.order_id: relevant(o, fortnox.of_order(o.order_id), start) for o in orders}
    documents = [
        d
        for d in fortnox.documents
        if d.order_id not in ids and (d.summary is None or start <= d.day <= end)
    ] + [d for docs in counted.values() for d in docs]
    # An earlier period's invoice voided in this one changes that period in Fortnox's own
    # reports, not this one: compared on its order, never counted in this period's sums.
    documents = [d for d in documents if not (d.kind == "cancellation" and d.day < start)]
    fortnox = FortnoxPeriod(documents, fortnox.calls, fortnox.notes)
    compared = [compare_order(o, counted[o.order_id], held.of_order(o)) for o in orders]
    ours = [o for o in orders if o.in_period]  # the period's own orders
    differences = [d for row in compared for d in row["differences"]] + summary_differences
    voided = {d.number for d in fortnox.documents if d.kind == "cancellation"}
    for document in fortnox.documents:
        voided_invoice = document.number in voided  # cancelled in Fortnox: no sale to explain
        if document.order_id not in ids and document.kind == "invoice" and not voided_invoice:
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
        for refund in order.counted_refunds:
            by_day[refund.created.isoformat()]["shopify_refunds"] += refund.amount
    for document in fortnox.documents:
        day = by_day[document.day.isoformat()]
        name = "fortnox_invoices" if document.sales else "fortnox_credits"
        day[name] += document.total
        day["fortnox_vat"] += document.vat
    shopify_rates = _sum([o.vat_by_rate for o in ours])
    refund_rates = _sum([r.vat_by_rate for o in orders for r in o.counted_refunds])
    fortnox_invoice_rates = _sum([d.vat_by_rate for d in fortnox.documents if d.sales])
    fortnox_credit_rates = _sum([d.vat_by_rate for d in fortnox.documents if not d.sales])
    rates = sorted(
        set(shopify_rates)
        | set(refund_rates)
        | set(fortnox_invoice_rates)
        | set(fortnox_credit_rates),
        key=lambda r: -Decimal(r),
    )
    summaries = [d for d in fortnox.documents if d.summary is not None]
    invoices = [d for d in fortnox.documents if d.sales]  # an order's or a sales summary
    credits = [d for d in fortnox.documents if not d.sales]
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
                "invoices": len([d for d in invoices if d.summary is None]),
                "credits": len([d for d in credits if d.summary is None]),
                "summaries": len(summaries),
                "summarized_orders": len([o for o in ours if o.order_id in held.sales]),
                "total": _text(sum((d.total for d in invoices), ZERO)),
                "vat": _text(sum((d.vat for d in invoices), ZERO)),
                "credited": _text(-sum((d.total for d in credits), ZERO)),
                "credit_vat": _text(-sum((d.vat for d in credits), ZERO)),
                "paid": _text(
                    sum((d.paid for o in ours for d in counted[o.order_id]), ZERO)
                    + sum((d.paid for d in summaries), ZERO)
                ),
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
        "summaries": summary_rows,
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


# A spreadsheet reads a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: object) -> str:
    """A text cell of the CSV that a spreadsheet shows as text, never runs as a formula.

    Order names, references and document numbers come from Shopify and Fortnox, where the
    merchant or anyone with access to the Fortnox company can type ``=HYPERLINK(...)``; such a
    cell gets a leading apostrophe (OWASP's advice for CSV injection), which spreadsheets hide.
    Amount columns are numbers Fortbridge formats itself (a minus sign there is a negative
    amount) and are written as they are.
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def to_csv(report: dict[str, Any]) -> str:
    """One line per order (its differences in the last column), then one per extra document.

    Text columns go through :func:`text_cell`; amounts are Fortbridge's own Decimal strings."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in report["orders"]:
        shopify, fortnox = row["shopify"], row["fortnox"]
        writer.writerow(
            [
                row["date"],
                text_cell(row["order_id"]),
                text_cell(row["order_name"]),
                text_cell(row["currency"]),
                text_cell(
                    " ".join(
                        [f"{d['kind']}:{d['number']}" for d in fortnox["documents"]]
                        + [f"summary:{n}" for n in _summary_numbers(row.get("summarized"))]
                    )
                ),
                shopify["total"],
                fortnox["total"] or "",
                shopify["vat"],
                fortnox["vat"] or "",
                shopify["refunded"],
                fortnox["credited"],
                shopify["paid"],
                fortnox["paid"],
                text_cell("; ".join(_described(d) for d in row["differences"])),
            ]
        )
    for extra in report["differences"]:
        if extra["order_name"] is None:  # an extra invoice, a summary, a payout
            writer.writerow(
                [
                    "",
                    text_cell(extra["order_id"]),
                    "",
                    "",
                    text_cell(_document_label(extra)),
                    "",
                    extra["fortnox"],
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    text_cell(_described(extra)),
                ]
            )
    return out.getvalue()


def _summary_numbers(summarized: dict[str, Any] | None) -> list[str]:
    if not summarized:
        return []
    numbers = list(summarized["documents"])
    for held in [*summarized["refunds"].values(), summarized.get("cancelled") or []]:
        numbers += [n for n in held if n not in numbers]
    return numbers


def _document_label(difference: dict[str, Any]) -> str:
    if not difference.get("document"):
        return ""
    kind = {"summary": "summary", "extra": "invoice"}.get(difference["kind"], "voucher")
    return f"{kind}:{difference['document']}"


def _described(difference: dict[str, Any]) -> str:
    text = f"{difference['kind']} {difference['what']}"
    if difference.get("difference") is not None:
        text += f" ({difference['shopify']} vs {difference['fortnox']})"
    return text
