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
- ``GET /3/orders?fromdate=<start>`` the same way, for a shop whose rules make Fortnox orders.
- ``GET /3/invoicepayments?fromdate=<start>`` in pages of 500: the payments, by invoice number.

VAT per rate is computed from the rows as Fortnox computes it (per rate on the sum of the row
totals, VAT included or not; freight at 25 %), any öre left by per-row rounding put on the
largest rate, so the rates sum to Fortnox's own ``TotalVAT``.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from libs.common.errors import NeedsReconnection
from services.fortnox_writer.client import FortnoxClient
from services.fortnox_writer.deferred import DeferredStore

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
    kind: str  # invoice | credit
    order_id: str
    refund_id: str | None
    day: date
    currency: str
    total: Decimal  # as Fortnox shows it: negative for a credit
    vat: Decimal
    vat_by_rate: dict[str, Decimal]
    paid: Decimal = ZERO  # payments registered on it, in its currency
    resource: str = "Invoice"  # or "Order": a shop whose rules make Fortnox orders


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


def _classify(document: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(kind, order id, refund id) of a Fortbridge document, else None."""
    first = str(document.get("ExternalInvoiceReference1") or "")
    second = str(document.get("ExternalInvoiceReference2") or "")
    credit = str(document.get("Credit") or "").lower() == "true"
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
    period: an extra) with their payments. ``late_ids``: earlier orders refunded in the period,
    whose credits only are read (a refund's negative invoice carries its order's date, so the
    listing starts at ``earliest``, the first of their days)."""
    period = FortnoxPeriod()
    since = min(start, earliest) if earliest else start
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
            if row.get("Cancelled") in (True, "true"):
                continue
            found = _classify(row)
            if found is None:
                continue
            kind, order_id, _ = found
            day = date.fromisoformat(str(row.get(dated))[:10])
            if order_id in late_ids and kind == "invoice":
                continue  # an earlier period's invoice: only its credits count here
            if order_id not in order_ids and not (kind == "invoice" and start <= day <= end):
                continue  # another period's order
            await live.wait()
            whole = (await client.request("GET", f"{path}/{row['DocumentNumber']}"))[single]
            classified = _classify(whole)
            if classified is None:
                continue
            kind, order_id, refund_id = classified
            period.documents.append(
                FortnoxDocument(
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
            )
    # A Fortnox order that became an invoice carries the same reference: the invoice counts.
    invoiced = {d.order_id for d in period.documents if d.resource == "Invoice"}
    period.documents = [
        d for d in period.documents if d.resource == "Invoice" or d.order_id not in invoiced
    ]
    by_number = {d.number: d for d in period.documents if d.resource == "Invoice"}
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


async def period_vouchers(client: FortnoxClient, live: LiveFirst, start: date) -> dict[str, str]:
    """``{Description: "A12"}`` of the vouchers dated from ``start`` (a payout's voucher is
    found by its Description, Fortbridge's key: ``Shopify Payments utbetalning <id>``)."""
    rows = await _pages(client, live, "/3/vouchers", "Vouchers", start)
    return {
        str(row.get("Description") or ""): f"{row.get('VoucherSeries')}{row.get('VoucherNumber')}"
        for row in rows
    }
