"""The Fortnox side of a period: the documents and payments Fortnox holds for the shop's orders.

Listed from Fortnox itself within the tenant's rate limit, through the writer's own client and
limiter (the same budget as the documents it makes), and only while the tenant has no live
command waiting (a report is read work behind live work: ``LiveFirst``):

- ``GET /3/invoices?fromdate=<start>`` in pages of 500: every invoice dated from the period's
  first day (credits of the period's orders may be dated later). Those whose
  ``ExternalInvoiceReference1`` is Fortbridge's (``shopify-<order id>`` for an order's invoice
  and Fortnox's own credit invoice of it, ``shopify-refund-<refund id>`` for a refund's
  negative invoice, which names its order in ``ExternalInvoiceReference2``) are read whole
  (``GET /3/invoices/<n>``: rows, ``TotalVAT``, ``Credit``), one call each.
- Summary mode's documents (``ExternalInvoiceReference1`` ``fb-summary-<day>-<currency>-
  <profile>-<sales|refunds>[-<batch>]``, services/mapper/accounting/summaries.py) of the days
  from the day before the period (an order made before the close time on its first day is in
  that day's summary) to its last, read whole the same way.
- ``GET /3/orders?fromdate=<start>`` the same way, for a shop whose rules make Fortnox orders.
- ``GET /3/invoicepayments?fromdate=<start>`` in pages of 500: the payments, by invoice number.

An order's invoice cancelled in Fortnox (``Cancelled``: voided, never booked) instead of credited
is the order's invoice and its reversal: a ``cancellation`` document of the same number and the
negated amounts beside it, so it meets a Shopify cancellation as a credit would (not
``missing``). Other cancelled documents (a refund's negative invoice, a summary) are void and
left out.

VAT per rate is computed from the rows as Fortnox computes it (per rate on the sum of the row
totals, VAT included or not; freight at 25 %), any öre left by per-row rounding put on the
largest rate, so the rates sum to Fortnox's own ``TotalVAT``.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from libs.common.errors import NeedsReconnection
from services.fortnox_writer.client import FortnoxClient, path_segment
from services.fortnox_writer.deferred import DeferredStore
from services.mapper.accounting.summaries import parse_summary_reference

LIST_LIMIT = "500"
# Fortnox's "scope missing" and "no licence" codes: an optional register is left out.
NOT_PERMITTED = frozenset({"2000663", "2001101"})
# (collection, list envelope, single envelope, date field): invoices, then Fortnox orders (a
# shop whose rules make orders; an order Fortnox turned into an invoice counts once: the invoice,
# which carries the same reference).
RESOURCES = (
    ("/3/invoices", "Invoices", "Invoice", "InvoiceDate"),
    ("/3/orders", "Orders", "Order", "OrderDate"),
)
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
# How long a read waits for the tenant's live commands before it goes anyway (never starved).
LIVE_WAIT_SECONDS = 30.0


def _money(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


@dataclass
class FortnoxDocument:
    number: str
    kind: str  # invoice | credit | cancellation (the reversal of a cancelled invoice)
    order_id: str
    refund_id: str | None
    day: date
    currency: str
    total: Decimal  # as Fortnox shows it: negative for a credit
    vat: Decimal
    vat_by_rate: dict[str, Decimal]
    paid: Decimal = ZERO  # payments registered on it, in its currency
    resource: str = "Invoice"  # or "Order": a shop whose rules make Fortnox orders
    # kind "summary": ((day, currency, profile, sales|refunds), batch) from its reference
    summary: tuple[tuple[date, str, str, str], int] | None = None

    @property
    def sales(self) -> bool:
        """An invoice of an order, or a sales summary (else a credit or a refunds summary)."""
        if self.summary is not None:
            return self.summary[0][3] == "sales"
        return self.kind == "invoice"


@dataclass
class FortnoxPeriod:
    documents: list[FortnoxDocument] = field(default_factory=list)
    calls: int = 0
    notes: list[str] = field(default_factory=list)  # what could not be read, and why

    def of_order(self, order_id: str) -> list[FortnoxDocument]:
        return [d for d in self.documents if d.order_id == order_id]


class LiveFirst:
    """Waits while the shop's tenant has live commands set aside (a report goes behind them)."""

    def __init__(self, store: DeferredStore, shop: str) -> None:
        self._store = store
        self._shop = shop

    async def wait(self) -> None:
        deadline = time.monotonic() + LIVE_WAIT_SECONDS
        while time.monotonic() < deadline:
            facts = await self._store.facts(self._shop)
            if not facts.backlog:
                return
            await asyncio.sleep(0.2)


def vat_by_rate(document: dict[str, Any]) -> dict[str, Decimal]:
    included = bool(document.get("VATIncluded"))
    bases: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for row in document.get("InvoiceRows") or document.get("OrderRows") or []:
        bases[_money(row.get("VAT"))] += _money(row.get("Total"))
    out: dict[str, Decimal] = {}
    for rate, base in bases.items():
        divisor = 100 + rate if included else Decimal(100)
        vat = (base * rate / divisor).quantize(CENT, rounding=ROUND_HALF_UP)
        if vat:
            key = format(rate.normalize(), "f")
            out[key] = out.get(key, ZERO) + vat
    freight = _money(document.get("FreightVAT")) + _money(document.get("AdministrationFeeVAT"))
    if freight:
        out["25"] = out.get("25", ZERO) + freight
    total = _money(document.get("TotalVAT"))
    rest = total - sum(out.values(), ZERO)
    if rest and out:
        largest = max(out, key=lambda k: abs(out[k]))
        out[largest] += rest
    elif rest:
        out["0"] = rest
    return out


# ExternalInvoiceReference1 of the negative invoice crediting what a cancellation left.
CANCEL_PREFIX = "shopify-cancel-"


def _classify(document: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(kind, order id, refund id) of a Fortbridge document, else None."""
    first = str(document.get("ExternalInvoiceReference1") or "")
    second = str(document.get("ExternalInvoiceReference2") or "")
    credit = str(document.get("Credit") or "").lower() == "true"
    if first.startswith(CANCEL_PREFIX):
        # What was left of an order cancelled after a partial refund, credited (planner.py).
        return "credit", first.removeprefix(CANCEL_PREFIX), None
    if first.startswith("shopify-refund-"):
        refund_id = first.removeprefix("shopify-refund-")
        order_id = second.removeprefix("shopify-") if second.startswith("shopify-") else ""
        return "credit", order_id, refund_id
    if first.startswith("shopify-"):
        order_id = first.removeprefix("shopify-")
        total = _money(document.get("Total"))
        return ("credit" if credit or total < 0 else "invoice"), order_id, None
    return None


async def _pages(
    client: FortnoxClient, live: LiveFirst, path: str, plural: str, start: date
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        await live.wait()
        answer = await client.request(
            "GET",
            path,
            params={"fromdate": start.isoformat(), "limit": LIST_LIMIT, "page": str(page)},
        )
        rows.extend(answer.get(plural) or [])
        meta = answer.get("MetaInformation") or {}
        if page >= int(meta.get("@TotalPages") or 0):
            return rows
        page += 1


async def period_documents(
    client: FortnoxClient,
    live: LiveFirst,
    start: date,
    end: date,
    order_ids: set[str],
    late_ids: frozenset[str] = frozenset(),
    earliest: date | None = None,
) -> FortnoxPeriod:
    """The Fortbridge documents of the orders (and any other Fortbridge invoice dated in the
    period: an extra) with their payments. ``late_ids``: earlier orders refunded or cancelled in
    the period, whose credits only are read (and an invoice of theirs voided in Fortnox, as its
    reversal) (a refund's negative invoice made before 2026-12-07, or in another currency
    without an explicit rate, carries its order's date, so the listing starts at ``earliest``,
    the first of their days)."""
    period = FortnoxPeriod()
    first_summary_day = start - timedelta(days=1)
    since = min(first_summary_day, earliest) if earliest else first_summary_day
    for path, plural, single, dated in RESOURCES:
        try:
            listed = await _pages(client, live, path, plural, since)
        except NeedsReconnection as exc:
            if single == "Invoice" or exc.code not in NOT_PERMITTED:
                raise
            # A company connected without the order scope or licence makes no Fortnox orders.
            period.notes.append(f"Fortnox orders were not read: {exc.explanation or exc}")
            continue
        for row in listed:
            cancelled = row.get("Cancelled") in (True, "true")
            summary = parse_summary_reference(str(row.get("ExternalInvoiceReference1") or ""))
            if cancelled and (summary is not None or (_classify(row) or ("",))[0] != "invoice"):
                continue  # void: a cancelled refund, credit or summary books nothing
            if summary is not None and single == "Invoice":
                if first_summary_day <= summary[0][0] <= end:
                    await live.wait()
                    whole = (await client.request("GET", f"{path}/{row['DocumentNumber']}"))[single]
                    period.documents.append(_summary_document(whole, summary))
                continue
            found = _classify(row)
            if found is None:
                continue
            kind, order_id, _ = found
            day = date.fromisoformat(str(row.get(dated))[:10])
            if order_id in late_ids and kind == "invoice" and not cancelled:
                continue  # an earlier period's invoice: only its credits count here
            if order_id not in order_ids and not (kind == "invoice" and start <= day <= end):
                continue  # another period's order
            await live.wait()
            whole = (await client.request("GET", f"{path}/{row['DocumentNumber']}"))[single]
            classified = _classify(whole)
            if classified is None:
                continue
            kind, order_id, refund_id = classified
            read = FortnoxDocument(
                number=str(whole["DocumentNumber"]),
                kind=kind,
                order_id=order_id,
                refund_id=refund_id,
                day=day,
                currency=str(whole.get("Currency") or ""),
                total=_money(whole.get("Total")),
                vat=_money(whole.get("TotalVAT")),
                vat_by_rate=vat_by_rate(whole),
                resource=single,
            )
            if order_id in late_ids and kind == "invoice":
                # An earlier period's invoice voided in Fortnox: only its reversal counts here.
                period.documents.append(reversal(read))
                continue
            period.documents.append(read)
            if cancelled and kind == "invoice":
                period.documents.append(reversal(read))
    # A Fortnox order that became an invoice carries the same reference: the invoice counts.
    invoiced = {d.order_id for d in period.documents if d.resource == "Invoice"}
    period.documents = [
        d for d in period.documents if d.resource == "Invoice" or d.order_id not in invoiced
    ]
    by_number = {
        d.number: d
        for d in period.documents
        if d.resource == "Invoice" and d.kind != "cancellation"
    }
    for payment in await _pages(client, live, "/3/invoicepayments", "InvoicePayments", since):
        document = by_number.get(str(payment.get("InvoiceNumber")))
        if document is None:
            continue
        amount = _money(payment.get("Amount"))
        rate = _money(payment.get("CurrencyRate")) or Decimal(1)
        unit = _money(payment.get("CurrencyUnit")) or Decimal(1)
        if document.currency and document.currency != "SEK":
            amount = (amount / rate * unit).quantize(CENT, rounding=ROUND_HALF_UP)
        document.paid += amount
    period.calls = client.calls
    return period


def reversal(document: FortnoxDocument) -> FortnoxDocument:
    """What cancelling an order's invoice in Fortnox undoes: the invoice, negated (a credit of
    its whole amount, dated as the invoice: Fortnox records no date of the cancellation)."""
    return FortnoxDocument(
        number=document.number,
        kind="cancellation",
        order_id=document.order_id,
        refund_id=None,
        day=document.day,
        currency=document.currency,
        total=-document.total,
        vat=-document.vat,
        vat_by_rate={rate: -amount for rate, amount in document.vat_by_rate.items()},
        resource=document.resource,
    )


def _summary_document(
    whole: dict[str, Any], summary: tuple[tuple[date, str, str, str], int]
) -> FortnoxDocument:
    return FortnoxDocument(
        number=str(whole["DocumentNumber"]),
        kind="summary",
        order_id="",
        refund_id=None,
        day=date.fromisoformat(str(whole.get("InvoiceDate"))[:10]),
        currency=str(whole.get("Currency") or ""),
        total=_money(whole.get("Total")),
        vat=_money(whole.get("TotalVAT")),
        vat_by_rate=vat_by_rate(whole),
        summary=summary,
    )


@dataclass
class FortnoxVoucher:
    number: str  # series and number, e.g. "A12"
    series: str
    serial: str
    year: str
    rows: list[dict[str, Any]] | None = None  # read whole only for a payout's voucher
    description: str = ""  # in another currency: ``<key> (EUR 1213.73 kurs 11.4321)``


async def period_vouchers(
    client: FortnoxClient, live: LiveFirst, start: date
) -> dict[str, FortnoxVoucher]:
    """The vouchers dated from ``start`` by Description (a payout's voucher is found by its
    Description, Fortbridge's key: ``Shopify Payments utbetalning <id>``, which a payout in
    another currency follows with `` (<currency> <amount> kurs <rate>)``)."""
    rows = await _pages(client, live, "/3/vouchers", "Vouchers", start)
    return {
        str(row.get("Description") or "").split(" (", 1)[0]: FortnoxVoucher(
            number=f"{row.get('VoucherSeries')}{row.get('VoucherNumber')}",
            series=str(row.get("VoucherSeries") or ""),
            serial=str(row.get("VoucherNumber") or ""),
            year=str(row.get("Year") or ""),
            description=str(row.get("Description") or ""),
        )
        for row in rows
    }


async def read_voucher(client: FortnoxClient, live: LiveFirst, voucher: FortnoxVoucher) -> None:
    """The voucher's rows (``GET /3/vouchers/<series>/<number>?financialyear=``), removed
    rows left out."""
    await live.wait()
    params = {"financialyear": voucher.year} if voucher.year else None
    answer = await client.request(
        "GET", f"/3/vouchers/{path_segment(voucher.series)}/{voucher.serial}", params=params
    )
    voucher.rows = [
        row for row in answer["Voucher"].get("VoucherRows") or [] if not row.get("Removed")
    ]
