"""Summary mode (pure): a day's orders as one Fortnox document per day, currency and VAT profile.

For a shop (or the orders a rule matches) with ``booking = daily_summary``, the planner still
plans each order as usual (VAT, markets, accounts, rounding: accounting/*), but its document is
not sent: its rows become an *entry* of the day's summary (``entry_of``), and a refund's credit
an entry of the refunds summary of the day the refund happened. When the day closes
(``summary_close_time`` in ``summary_timezone``), the entries of each (day, currency, VAT
profile, sales or refunds) become one invoice (``summary_command``) with a row per VAT rate and
account: the sum of the orders' rows. Its total is the sum of the orders' totals (the writer
checks it against Fortnox and corrects an öre of VAT rounding with a rounding row).

The VAT profile keeps apart what one document cannot mix: prices with or without VAT, and the
customer's VAT type (SEVAT, EUVAT, EUREVERSEDVAT, EXPORT); each profile has its own summary
customer (``summary_customer_name``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from libs.common.messages import (
    CustomerDraft,
    DocumentDraft,
    FortnoxCommand,
    InvoiceRowDraft,
    PaymentDraft,
    SourceRef,
)
from services.mapper.accounting.settings import ShopSettings

CENT = Decimal("0.01")
SummaryKind = Literal["sales", "refunds"]
LABELS = {"sales": "Försäljning", "refunds": "Återbetalningar"}


@dataclass(frozen=True)
class Entry:
    """One order's (or refund's) part of a summary."""

    kind: SummaryKind
    day: date
    closes_at: datetime
    currency: str
    vat_included: bool
    vat_type: str
    rows: dict[str, Decimal]  # "<vat>|<account or ->" -> amount (the document's price basis)
    total: Decimal  # the order's (refund's) document total
    currency_rate: Decimal | None
    payments: dict[str, Decimal] = field(default_factory=dict)  # mode of payment -> amount

    @property
    def profile(self) -> str:
        return f"{'incl' if self.vat_included else 'excl'}-{self.vat_type}"


def business_day(moment: datetime, settings: ShopSettings) -> tuple[date, datetime]:
    """The summary day of ``moment`` and when that day closes: a day runs from the close time
    to the next one in the shop's time zone, named by the date it starts on."""
    zone = ZoneInfo(settings.summary_timezone)
    hours, minutes = (int(part) for part in settings.summary_close_time.split(":"))
    close = timedelta(hours=hours, minutes=minutes)
    local = moment.astimezone(zone)
    day = (local - close).date()
    return day, day_closes_at(day, settings)


def day_closes_at(day: date, settings: ShopSettings) -> datetime:
    """When the summary day ``day`` closes: the next date's close time in the shop's zone."""
    hours, minutes = (int(part) for part in settings.summary_close_time.split(":"))
    zone = ZoneInfo(settings.summary_timezone)
    return datetime.combine(day + timedelta(days=1), time(hours, minutes), tzinfo=zone)


def row_amount(row: InvoiceRowDraft) -> Decimal:
    """The row's total as Fortnox computes it (rounded per row)."""
    gross = row.quantity * row.price
    discount = row.discount if row.discount_type == "AMOUNT" else gross * row.discount / 100
    return (gross - discount).quantize(CENT, rounding=ROUND_HALF_UP)


def row_key(row: InvoiceRowDraft) -> str:
    account = "-" if row.account_number is None else str(row.account_number)
    return f"{row.vat.normalize():f}|{account}"


def entry_of(
    command: FortnoxCommand, kind: SummaryKind, moment: datetime, settings: ShopSettings
) -> Entry:
    """A planned document (an order's invoice, a refund's negative invoice) as an entry."""
    draft = command.document
    assert draft is not None and command.customer is not None
    rows: dict[str, Decimal] = {}
    for row in draft.rows:
        rows[row_key(row)] = rows.get(row_key(row), Decimal("0")) + row_amount(row)
    freight = draft.fields.get("Freight")
    if freight:  # Freight carries 25 % VAT in Fortnox (accounting.md)
        key = f"25|{settings.accounts.shipping or '-'}"
        rows[key] = rows.get(key, Decimal("0")) + Decimal(str(freight))
    day, closes_at = business_day(moment, settings)
    rate = draft.fields.get("CurrencyRate")
    return Entry(
        kind=kind,
        day=day,
        closes_at=closes_at,
        currency=draft.currency,
        vat_included=draft.vat_included,
        vat_type=str(command.customer.fields.get("VATType") or "SEVAT"),
        rows=rows,
        total=(
            command.expected_total
            if command.expected_total is not None
            else sum(rows.values(), Decimal("0"))
        ),
        currency_rate=None if rate is None else Decimal(str(rate)),
    )


def reversal_of(original: Entry, moment: datetime, settings: ShopSettings) -> Entry:
    """A whole order refunded (or cancelled) at once: its entry negated, on the day it happened."""
    day, closes_at = business_day(moment, settings)
    return Entry(
        kind="refunds",
        day=day,
        closes_at=closes_at,
        currency=original.currency,
        vat_included=original.vat_included,
        vat_type=original.vat_type,
        rows={key: -amount for key, amount in original.rows.items()},
        total=-original.total,
        currency_rate=original.currency_rate,
    )


def summary_key(shop: str, group: tuple[date, str, str, str], batch: int) -> str:
    day, currency, profile, kind = group
    suffix = "" if batch == 1 else f":{batch}"
    return f"{shop}:summary:{day.isoformat()}:{currency}:{profile}:{kind}{suffix}"


def summary_reference(group: tuple[date, str, str, str], batch: int) -> str:
    """The summary document's ``ExternalInvoiceReference1``:
    ``fb-summary-<day>-<currency>-<profile>-<sales|refunds>[-<batch>]`` (batch 1 has none)."""
    day, currency, profile, kind = group
    reference = f"fb-summary-{day.isoformat()}-{currency}-{profile}-{kind}"
    return reference if batch == 1 else f"{reference}-{batch}"


_REFERENCE = re.compile(
    r"^fb-summary-(\d{4}-\d{2}-\d{2})-([A-Z]{3})-((?:incl|excl)-[A-Z]+)-(sales|refunds)(?:-(\d+))?$"
)


def parse_summary_reference(text: str) -> tuple[tuple[date, str, str, str], int] | None:
    """``summary_reference`` read back: ((day, currency, profile, kind), batch), else None."""
    found = _REFERENCE.match(text or "")
    if found is None:
        return None
    day, currency, profile, kind, batch = found.groups()
    return (date.fromisoformat(day), currency, profile, kind), int(batch or 1)


def summary_command(
    shop: str,
    group: tuple[date, str, str, str],
    batch: int,
    entries: list[Entry],
    settings: ShopSettings,
) -> FortnoxCommand:
    """The day's document: a row per VAT rate and account, the sum of the entries."""
    day, currency, profile, kind = group
    first = entries[0]
    source = SourceRef(
        type="summary",
        id=summary_key(shop, group, batch).split(":summary:", 1)[1],
        name=f"Dag {day}",
    )
    sums: dict[str, Decimal] = {}
    for entry in entries:
        for key, amount in entry.rows.items():
            sums[key] = sums.get(key, Decimal("0")) + amount
    rows = []
    for key in sorted(sums, key=lambda k: (-Decimal(k.split("|")[0]), k)):
        vat, account = key.split("|")
        if not sums[key]:
            continue
        rows.append(
            InvoiceRowDraft(
                article_number=None,
                description=f"{LABELS[kind]} {day.isoformat()}, moms {vat} %",
                quantity=Decimal("1"),
                price=sums[key],
                vat=Decimal(vat),
                account_number=None if account == "-" else int(account),
            )
        )
    total = sum((entry.total for entry in entries), Decimal("0"))
    key = summary_key(shop, group, batch)
    name = settings.summary_customer_name
    match = name if first.vat_type == "SEVAT" else f"{name} ({first.vat_type})"
    fields: dict[str, Any] = {
        "Remarks": f"Shopify {LABELS[kind].lower()} {day.isoformat()}: {len(entries)} st"
        f" (Fortbridge dagssammanställning {profile})",
    }
    rated = [e for e in entries if e.currency_rate is not None]
    if rated and len(rated) == len(entries):
        weight = sum((abs(e.total) for e in rated), Decimal("0"))
        if weight:
            rate = sum((abs(e.total) * (e.currency_rate or 0) for e in rated), Decimal(0)) / weight
            fields["CurrencyRate"] = rate.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    reference = summary_reference(group, batch)
    return FortnoxCommand(
        shop=shop,
        command_id=f"{key}:v1",
        action="create_document",
        document_key=key,
        source=source,
        customer=CustomerDraft(
            match_key="default",
            match_value=match,
            fields={"Name": match, "Type": "PRIVATE", "VATType": first.vat_type},
        ),
        document=DocumentDraft(
            kind="invoice",
            external_reference=reference,
            your_order_number=f"Dag {day.isoformat()}",
            currency=currency,
            vat_included=first.vat_included,
            document_date=day.isoformat(),
            rows=rows,
            fields=fields,
            bookkeep=settings.bookkeep_invoices,
            rounding_account=settings.accounts.rounding,
        ),
        expected_total=total,
    )


def summary_payments(
    shop: str,
    group: tuple[date, str, str, str],
    batch: int,
    entries: list[Entry],
    settings: ShopSettings,
) -> list[FortnoxCommand]:
    """The payments of the summarized orders (and money paid back on refunds), one per mode of
    payment, registered on the summary document once it exists."""
    day, currency, _, _ = group
    key = summary_key(shop, group, batch)
    by_mode: dict[str, Decimal] = {}
    for entry in entries:
        for mode, amount in entry.payments.items():
            by_mode[mode] = by_mode.get(mode, Decimal("0")) + amount
    source = SourceRef(type="summary", id=key.split(":summary:", 1)[1], name=f"Dag {day}")
    commands = []
    for mode, amount in sorted(by_mode.items()):
        if not amount:
            continue
        payment_key = f"{key}:payment:{mode}"
        commands.append(
            FortnoxCommand(
                shop=shop,
                command_id=f"{payment_key}:v1",
                action="register_payment",
                document_key=payment_key,
                source=source,
                target_document_key=key,
                payment=PaymentDraft(
                    amount=amount,
                    currency=currency,
                    payment_date=day.isoformat(),
                    mode_of_payment=mode,
                    bookkeep=settings.bookkeep_payments,
                    reference=f"fb-summary-{day.isoformat()}-{mode}"[:100],
                ),
            )
        )
    return commands
