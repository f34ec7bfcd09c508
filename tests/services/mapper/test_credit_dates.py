"""A credit is dated the day its refund or cancellation happened, not the order's day: it
reduces the VAT of the period it is issued in, and the order's month may be reported and locked.
"""

from __future__ import annotations

from typing import Any

from libs.common.messages import FortnoxCommand
from services.mapper.accounting import ShopSettings, plan_event
from services.mapper.accounting.state import OrderState
from tests.services.mapper.corpus import SHOP, load

SETTINGS = ShopSettings()
ORDER = "orders/05_three_swedish_rates.json"  # created 2026-11-15T12:00:00+01:00
REFUND = "refunds/01_partial_one_mug.json"


def created(order_file: str = ORDER, settings: ShopSettings = SETTINGS) -> OrderState:
    plan = plan_event(SHOP, "orders/create", load(order_file), settings, None)
    [invoice] = plan.commands
    assert invoice.document is not None and invoice.document.document_date == "2026-11-15"
    assert plan.state is not None
    return plan.state


def credit_of(plan_commands: list[FortnoxCommand]) -> FortnoxCommand:
    [credit] = [c for c in plan_commands if c.action == "create_document"]
    assert credit.document is not None and credit.expected_total < 0
    return credit


def refund_at(moment: Any, refund_file: str = REFUND) -> dict[str, Any]:
    refund = load(refund_file)
    refund["created_at"] = moment
    return refund


def test_a_refund_in_the_next_month_is_credited_in_that_month() -> None:
    plan = plan_event(
        SHOP, "refunds/create", refund_at("2026-12-05T10:00:00+01:00"), SETTINGS, created()
    )
    credit = credit_of(plan.commands)
    assert credit.document is not None and credit.document.document_date == "2026-12-05"


def test_the_credits_day_is_the_shops_day_named_by_the_timestamp() -> None:
    # 00:30 in Stockholm on 1 December is still 30 November in UTC: the shop's day counts.
    plan = plan_event(
        SHOP, "refunds/create", refund_at("2026-12-01T00:30:00+01:00"), SETTINGS, created()
    )
    credit = credit_of(plan.commands)
    assert credit.document is not None and credit.document.document_date == "2026-12-01"


def test_without_a_usable_refund_time_the_credit_keeps_the_orders_day() -> None:
    for moment in (None, "", "2026-11-01T09:00:00+01:00"):  # the last: before the order
        plan = plan_event(SHOP, "refunds/create", refund_at(moment), SETTINGS, created())
        credit = credit_of(plan.commands)
        assert credit.document is not None and credit.document.document_date == "2026-11-15", moment


def test_what_a_cancellation_leaves_is_credited_on_the_day_of_the_cancellation() -> None:
    state = plan_event(
        SHOP, "refunds/create", refund_at("2026-11-20T10:00:00+01:00"), SETTINGS, created()
    ).state
    cancelled = load("edits/07_cancelled_after_partial_refund.json")
    cancelled["cancelled_at"] = "2026-12-02T08:00:00+01:00"
    plan = plan_event(SHOP, "orders/cancelled", cancelled, SETTINGS, state)
    credit = credit_of(plan.commands)
    assert credit.document is not None
    assert credit.document.external_reference == "shopify-cancel-9100000000005"
    assert credit.document.document_date == "2026-12-02"


def test_another_currency_keeps_the_invoices_day_unless_its_rate_is_explicit() -> None:
    """Fortnox gives a document without a CurrencyRate the rate of its own date; a credit dated
    later would reverse the invoice at another rate. With the rate written on the documents
    (the default) the credit is dated the refund's day."""
    refund = "refunds/10_partial_in_eur.json"
    eur = "orders/19_presentment_eur_explicit_rate.json"
    explicit = plan_event(
        SHOP, "refunds/create", refund_at("2026-12-05T10:00:00+01:00", refund), SETTINGS,
        created(eur),
    )  # fmt: skip
    credit = credit_of(explicit.commands)
    assert credit.document is not None and credit.document.currency == "EUR"
    assert "CurrencyRate" in credit.document.fields
    assert credit.document.document_date == "2026-12-05"
    fortnox_rate = ShopSettings(currency_rate="fortnox")
    automatic = plan_event(
        SHOP, "refunds/create", refund_at("2026-12-05T10:00:00+01:00", refund), fortnox_rate,
        created(eur, fortnox_rate),
    )  # fmt: skip
    credit = credit_of(automatic.commands)
    assert credit.document is not None and "CurrencyRate" not in credit.document.fields
    assert credit.document.document_date == "2026-11-15"


def reversal_of(plan_commands: list[FortnoxCommand]) -> FortnoxCommand:
    [reversal] = [c for c in plan_commands if c.action == "reverse_document"]
    return reversal


def test_a_full_refund_names_the_day_its_credit_invoice_belongs_to() -> None:
    """Fortnox's own credit invoice (``/credit``) is dated by Fortnox; the command names the
    refund's day, so the writer re-dates a credit made later (a backfill, after midnight)."""
    order = "orders/01_two_rates_vat_included.json"
    refund = refund_at("2026-12-05T23:30:00+01:00", "refunds/04_full_refund_reverses_invoice.json")
    plan = plan_event(SHOP, "refunds/create", refund, SETTINGS, created(order))
    assert reversal_of(plan.commands).credit_date == "2026-12-05"


def test_a_cancellation_names_the_day_it_happened() -> None:
    cancelled = load("edits/06_cancelled_unpaid_reverses.json")
    cancelled["cancelled_at"] = "2026-12-02T08:00:00+01:00"
    state = created("orders/02_two_rates_vat_excluded.json")
    plan = plan_event(SHOP, "orders/cancelled", cancelled, SETTINGS, state)
    assert reversal_of(plan.commands).credit_date == "2026-12-02"
    cancelled["cancelled_at"] = None  # no usable time: the order's day
    plan = plan_event(SHOP, "orders/cancelled", cancelled, SETTINGS, state)
    assert reversal_of(plan.commands).credit_date == "2026-11-15"


def test_another_currency_without_an_explicit_rate_leaves_fortnoxs_date_to_its_credit() -> None:
    eur = "orders/19_presentment_eur_explicit_rate.json"
    cancelled = load(eur)
    cancelled["cancelled_at"] = "2026-12-02T08:00:00+01:00"
    explicit = plan_event(SHOP, "orders/cancelled", cancelled, SETTINGS, created(eur))
    assert reversal_of(explicit.commands).credit_date == "2026-12-02"
    fortnox_rate = ShopSettings(currency_rate="fortnox")
    automatic = plan_event(
        SHOP, "orders/cancelled", cancelled, fortnox_rate, created(eur, fortnox_rate)
    )
    assert reversal_of(automatic.commands).credit_date is None
