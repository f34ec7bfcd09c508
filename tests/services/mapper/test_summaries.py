"""Summary mode's rules (pure): which day an order belongs to with a close time in the shop's
time zone, and a summary's rows per VAT rate and account from the orders' planned documents."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.mapper.accounting import ShopSettings
from services.mapper.accounting.invoices import create_invoice
from services.mapper.accounting.summaries import business_day, entry_of, summary_command
from simulators.shopify.payloads import LineSpec, ShippingSpec, order_payload

D = Decimal


def test_a_day_runs_from_close_time_to_close_time_in_the_shops_zone() -> None:
    late = ShopSettings(summary_close_time="02:00")
    # 01:30 in Stockholm on 1 December (00:30 UTC) still belongs to 30 November.
    day, closes = business_day(datetime(2026, 12, 1, 0, 30, tzinfo=UTC), late)
    assert day == date(2026, 11, 30)
    assert closes == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 02:00 CET
    day, _ = business_day(datetime(2026, 12, 1, 1, 30, tzinfo=UTC), late)
    assert day == date(2026, 12, 1)
    # Midnight close in summer time (CEST, UTC+2).
    day, closes = business_day(datetime(2026, 6, 30, 22, 30, tzinfo=UTC), ShopSettings())
    assert day == date(2026, 7, 1) and closes == datetime(2026, 7, 1, 22, 0, tzinfo=UTC)
    with pytest.raises(ValidationError):
        ShopSettings(summary_close_time="24:00")
    with pytest.raises(ValidationError):
        ShopSettings(summary_timezone="Mars/Olympus")


def test_rows_per_vat_rate_and_account_add_up_to_the_orders() -> None:
    settings = ShopSettings(booking="daily_summary")
    orders = [
        order_payload(
            5_400_000_000_000 + n,
            lines=[
                LineSpec("Sockor", "199.00", 1 + n, "0.25", "S1"),
                LineSpec("Bok", "249.00", 1, "0.06", "B1"),
            ],
            shipping=ShippingSpec(price="49.00"),
        )
        for n in range(3)
    ]
    moment = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    entries = []
    for order in orders:
        command, _ = create_invoice("s.myshopify.com", order, settings, None)
        entries.append(entry_of(command, "sales", moment, settings))
    assert {e.profile for e in entries} == {"incl-SEVAT"}
    group = (date(2026, 11, 30), "SEK", "incl-SEVAT", "sales")
    command = summary_command("s.myshopify.com", group, 1, entries, settings)
    assert command.document is not None
    rows = {(r.vat, r.account_number): r.price for r in command.document.rows}
    assert rows == {
        (D(25), 3001): D("199.00") * 6 + D("49.00") * 3,
        (D(6), 3003): D("249.00") * 3,
    }
    assert command.expected_total == sum(D(o["total_price"]) for o in orders)
    later = summary_command("s.myshopify.com", group, 2, entries[:1], settings)
    assert later.document_key.endswith(":sales:2")
    assert later.document is not None
    assert later.document.external_reference.endswith("-2")


def test_a_rule_action_puts_the_orders_it_matches_in_summary_mode() -> None:
    from services.mapper.rules.actions import resolve
    from services.mapper.rules.model import RuleSet

    rules = RuleSet.model_validate(
        {
            "version": 3,
            "rules": [
                {
                    "id": 1,
                    "name": "B2C i dagssammanställning",
                    "conditions": {"field": "tags", "op": "contains", "value": "b2c"},
                    "actions": {"booking": "daily_summary"},
                }
            ],
        }
    )
    b2c = order_payload(5_400_000_000_101, tags="b2c")
    b2b = order_payload(5_400_000_000_102, tags="b2b")
    assert resolve(rules, b2c, ShopSettings()).settings.booking == "daily_summary"
    assert resolve(rules, b2b, ShopSettings()).settings.booking == "per_order"
