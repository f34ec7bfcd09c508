"""EU VAT numbers checked before reverse charge: the format per member state, then VIES (the
simulator), cached; valid -> reverse charge, invalid or unreachable -> the shop's VAT and a
notice that says why, per VIES_UNAVAILABLE."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import asyncpg
import pytest

from libs.common.errors import TransientError
from libs.common.messages import FortnoxCommand, ShopifyEvent
from libs.common.messaging import Delivery
from services.mapper.accounting import ShopSettings, plan_event
from services.mapper.accounting.vat_numbers import VatCheck, format_problem, parse
from services.mapper.handler import EventHandler
from services.mapper.rules.model import RuleSet
from services.mapper.rules.preview import preview
from services.mapper.vies import known_check
from simulators.vies import ViesSimulator
from tests.services.mapper.builders import refund_payload
from tests.services.mapper.test_handler import Recorder

ORDER = Path(__file__).parents[2] / "fixtures" / "orders" / "16_eu_business_reverse_charge.json"


@pytest.mark.parametrize(
    ("raw", "destination", "problem"),
    [
        ("DE123456789", "DE", None),
        ("123456789", "DE", None),  # no prefix: the destination's
        ("DE12345678", "DE", "format of a DE"),
        ("ATU12345678", "AT", None),
        ("AT12345678", "AT", "format of a AT"),
        ("NL123456789B01", "NL", None),
        ("EL123456789", "GR", None),
        ("GR123456789", "GR", None),
        ("FRXX123456789", "FR", None),
        ("SE556677889901", "DE", "shop's own country"),
        ("NO123456789", "NO", "not a VAT number of an EU member state"),
    ],
)
def test_format_per_member_state(raw: str, destination: str, problem: str | None) -> None:
    found = format_problem(parse(raw, destination), "SE")
    assert (found is None) if problem is None else (found is not None and problem in found)


def business_order(vat_number: str = "DE 123 456 789") -> dict[str, Any]:
    order = json.loads(ORDER.read_text())
    order["id"] = uuid.uuid4().int % 10**12
    order["note_attributes"] = [{"name": "vat_number", "value": vat_number}]
    return order


def delivery(shop: str, payload: dict[str, Any], topic: str = "orders/create") -> Delivery:
    event = ShopifyEvent(
        shop=shop,
        event_uid=uuid.uuid4().hex,
        topic=topic,
        webhook_id=uuid.uuid4().hex,
        received_at=datetime.now(UTC),
        payload=payload,
    )
    return Delivery(body=event.model_dump_json().encode(), headers={}, routing_key="r", queue="q")


@pytest.fixture
async def vies() -> AsyncIterator[tuple[ViesSimulator, str]]:
    sim = ViesSimulator()
    async with sim.serve() as url:
        yield sim, f"{url}/rest-api"


async def handler(
    pool: asyncpg.Pool, recorder: Recorder, url: str, http: aiohttp.ClientSession, **settings: Any
) -> EventHandler:
    values = {
        "default_guest_customer_name": "Webbkund",
        "vies_url": url,
        "vies_timeout_seconds": 0.5,
        "vies_cache_days": 7.0,
        "vies_unavailable": "wait_then_vat",
        "vies_wait_seconds": 600.0,
        **settings,
    }
    runtime = SimpleNamespace(
        pool=pool, publisher=recorder, http=http, settings=SimpleNamespace(**values)
    )
    return EventHandler(runtime)  # type: ignore[arg-type]


def the_command(recorder: Recorder) -> FortnoxCommand:
    (command,) = recorder.commands()
    assert command.document is not None and command.customer is not None
    return command


async def test_valid_number_is_reverse_charge_and_saved_with_its_consultation(
    mapper_pool: asyncpg.Pool, shop: str, vies: tuple[ViesSimulator, str]
) -> None:
    sim, url = vies
    sim.mark("DE123456789", name="Becher GmbH")
    recorder = Recorder()
    async with aiohttp.ClientSession() as http:
        handle = await handler(mapper_pool, recorder, url, http)
        await handle(delivery(shop, business_order()))
        command = the_command(recorder)
        assert command.document is not None and command.customer is not None
        assert {row.vat for row in command.document.rows} == {Decimal(0)}
        assert {row.account_number for row in command.document.rows} == {3108}
        assert command.document.fields["EUQuarterlyReport"] is True
        assert command.customer.fields["VATType"] == "EUREVERSEDVAT"
        assert command.customer.fields["VATNumber"] == "DE123456789"
        assert "VATNumber" in command.customer.current_fields
        today = datetime.now(UTC).date().isoformat()
        assert command.customer.vies_note is not None
        assert command.customer.vies_note.startswith(f"VIES: DE123456789 valid, checked {today}")
        assert command.notices == []
        # A second order of the same business: the cached answer, no second VIES call.
        await handle(delivery(shop, business_order("DE123456789")))
        assert len(recorder.commands()) == 2
        assert recorder.commands()[1].document.fields["EUQuarterlyReport"] is True  # type: ignore[union-attr]
    assert sim.requests == [("DE", "123456789")]
    cached = await mapper_pool.fetchrow(
        "SELECT valid, checked_at, consultation FROM mapper.vat_checks WHERE shop = $1", shop
    )
    assert cached["valid"] is True and cached["consultation"].startswith("WAPI")


async def test_invalid_number_is_booked_with_vat_and_says_why(
    mapper_pool: asyncpg.Pool, shop: str, vies: tuple[ViesSimulator, str]
) -> None:
    _sim, url = vies  # nothing marked valid
    recorder = Recorder()
    async with aiohttp.ClientSession() as http:
        await (await handler(mapper_pool, recorder, url, http))(delivery(shop, business_order()))
    command = the_command(recorder)
    assert command.document is not None and command.customer is not None
    goods = [row for row in command.document.rows if row.article_number == "MUG-BLUE"]
    assert goods[0].vat == Decimal(25) and goods[0].account_number == 3001
    assert command.document.vat_included is True  # the amount paid includes the VAT now
    assert command.expected_total == Decimal("1339.00")  # what the customer paid, unchanged
    assert "EUQuarterlyReport" not in command.document.fields
    assert command.customer.fields["VATType"] == "SEVAT"
    assert "VATNumber" not in command.customer.fields  # an unverified number is not saved
    (notice,) = command.notices
    assert "DE123456789 not verified" in notice and "not a valid VAT number" in notice
    assert "booked with the shop's VAT (25 %)" in notice


async def test_bad_format_costs_no_vies_call(
    mapper_pool: asyncpg.Pool, shop: str, vies: tuple[ViesSimulator, str]
) -> None:
    sim, url = vies
    recorder = Recorder()
    async with aiohttp.ClientSession() as http:
        handle = await handler(mapper_pool, recorder, url, http)
        await handle(delivery(shop, business_order("DE 12345")))
    assert sim.requests == []
    (notice,) = the_command(recorder).notices
    assert "does not have the format of a DE VAT number" in notice


async def test_vies_down_waits_then_books_with_vat(
    mapper_pool: asyncpg.Pool, shop: str, vies: tuple[ViesSimulator, str]
) -> None:
    sim, url = vies
    sim.mark("DE123456789")
    sim.set_unavailable("DE")
    recorder = Recorder()
    order = business_order()
    async with aiohttp.ClientSession() as http:
        handle = await handler(mapper_pool, recorder, url, http, vies_wait_seconds=1.0)
        with pytest.raises(TransientError) as raised:
            await handle(delivery(shop, order))
        assert raised.value.code == "vies_unavailable"
        assert recorder.commands() == []  # nothing booked while waiting, certainly not 0 %
        await asyncio.sleep(1.1)
        await handle(delivery(shop, order))  # the retry, once the wait is over
    command = the_command(recorder)
    assert command.document is not None
    assert max(row.vat for row in command.document.rows) == Decimal(25)
    (notice,) = command.notices
    assert "VIES could not be reached: MS_UNAVAILABLE" in notice


async def test_vies_down_with_choice_vat_books_with_vat_at_once(
    mapper_pool: asyncpg.Pool, shop: str, vies: tuple[ViesSimulator, str]
) -> None:
    sim, url = vies
    sim.mark("DE123456789")
    sim.set_unavailable("*")
    recorder = Recorder()
    async with aiohttp.ClientSession() as http:
        handle = await handler(mapper_pool, recorder, url, http, vies_unavailable="vat")
        await handle(delivery(shop, business_order()))
    (notice,) = the_command(recorder).notices
    assert "SERVICE_UNAVAILABLE" in notice


async def test_slow_vies_counts_as_unavailable_and_an_earlier_answer_is_used(
    mapper_pool: asyncpg.Pool, shop: str, vies: tuple[ViesSimulator, str]
) -> None:
    sim, url = vies
    sim.mark("DE123456789")
    recorder = Recorder()
    async with aiohttp.ClientSession() as http:
        # No cache (0 days): every order asks VIES; the first answer is stored with its date.
        handle = await handler(
            mapper_pool, recorder, url, http, vies_cache_days=0.0, vies_unavailable="vat"
        )
        await handle(delivery(shop, business_order()))
        sim.delay = 2.0  # slower than the 0.5 s timeout
        slow = copy.deepcopy(business_order())
        await handle(delivery(shop, slow))
        sim.delay = 0.0
    _first, second = recorder.commands()
    assert second.notices == []  # VIES's earlier confirmation (with its date) still stands
    assert second.document is not None and second.document.fields["EUQuarterlyReport"] is True
    assert len(sim.requests) == 2


def test_a_refund_of_an_order_booked_with_vat_credits_with_vat() -> None:
    """The order keeps what it was booked as: its refund credits the same VAT and accounts."""
    order = business_order()
    invalid = VatCheck("DE123456789", "invalid", "VIES says it is not a valid VAT number")
    settings = ShopSettings()
    created = plan_event("s.myshopify.com", "orders/create", order, settings, None, vat=invalid)
    assert created.state is not None and created.state.market == "sweden"
    refund = refund_payload(order, 77, lines=[(0, 2)])
    credit = plan_event("s.myshopify.com", "refunds/create", refund, settings, created.state)
    (command,) = credit.commands
    assert command.document is not None and command.document.vat_included is True
    (row,) = [r for r in command.document.rows if r.article_number == "MUG-BLUE"]
    assert (row.vat, row.account_number, row.quantity) == (Decimal(25), 3001, Decimal(-2))
    assert command.expected_total == Decimal("-258.00")  # what was paid back, VAT included


def test_the_same_order_created_again_after_a_new_vies_check_is_the_same_create() -> None:
    """A later consultation of the same valid number (a new date) does not make the order's
    create a different one: the same create command is planned again, as for any copy."""
    order = business_order()
    first = VatCheck("DE123456789", "valid", "ok", checked_at=datetime(2026, 12, 1, tzinfo=UTC))
    later = VatCheck("DE123456789", "valid", "ok", checked_at=datetime(2026, 12, 9, tzinfo=UTC))
    settings = ShopSettings()
    created = plan_event("s.myshopify.com", "orders/create", order, settings, None, vat=first)
    again = plan_event(
        "s.myshopify.com", "orders/create", order, settings, created.state, vat=later
    )
    assert [c.command_id for c in again.commands] == [c.command_id for c in created.commands]
    assert again.state == created.state


async def test_the_preview_shows_what_is_known_of_the_number_without_asking_vies(
    mapper_pool: asyncpg.Pool, shop: str
) -> None:
    order = business_order()
    settings = ShopSettings()
    assert await known_check(mapper_pool, shop, order, settings) is None  # nothing known yet
    await mapper_pool.execute(
        "INSERT INTO mapper.vat_checks (shop, vat_number, valid, checked_at)"
        " VALUES ($1, 'DE123456789', false, now())",
        shop,
    )
    vat = await known_check(mapper_pool, shop, order, settings)
    assert vat is not None and vat.status == "invalid"
    (document,) = preview(shop, order, settings, RuleSet(), vat)["documents"]
    assert "not verified" in document["notices"][0]
    assert Decimal(25) in {Decimal(row["vat"]) for row in document["document"]["rows"]}
    malformed = await known_check(mapper_pool, shop, business_order("DE1"), settings)
    assert malformed is not None and malformed.status == "bad_format"
