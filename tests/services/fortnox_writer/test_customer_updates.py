"""A matched customer is kept current from Shopify at the fewest calls: a changed address is
written (only the changed fields), an unchanged one costs nothing, the merchant's own fields
and Comments lines are never touched, and the VIES consultation goes in Fortbridge's line."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import aiohttp
import asyncpg

from libs.common.messages import CustomerDraft
from services.fortnox_writer.customer_register import CustomerRegister, with_vies_note
from services.fortnox_writer.leases import Leases
from simulators.fortnox import FortnoxSimulator
from simulators.fortnox.customers import create_customer
from tests.services.fortnox_writer.test_registers import _client, fortnox  # noqa: F401

ADDRESS = {"Address1": "Storgatan 1", "ZipCode": "111 22", "City": "Stockholm", "CountryCode": "SE"}


def draft(email: str, vies_note: str | None = None, **address: str) -> CustomerDraft:
    fields = {"Name": "Kund AB", "Email": email, "Type": "COMPANY", **ADDRESS, **address}
    kept = sorted(name for name in fields if name in ADDRESS or name == "VATNumber")
    return CustomerDraft(
        match_key="email",
        match_value=email,
        fields=fields,
        current_fields=kept,
        vies_note=vies_note,
    )


def calls(sim: FortnoxSimulator, tenant: str) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sim.requests_for(tenant)]


async def test_a_new_address_reaches_fortnox_and_an_unchanged_one_costs_nothing(
    pool: asyncpg.Pool,
    fortnox: tuple[FortnoxSimulator, str, str],  # noqa: F811
) -> None:
    sim, tenant, url = fortnox
    shop = f"keep-{uuid.uuid4().hex[:6]}.myshopify.com"
    register = CustomerRegister(pool, Leases(pool))
    received = datetime.now(UTC)
    async with aiohttp.ClientSession() as http:
        client = _client(http, pool, sim, tenant, url)
        number = await register.customer_number(shop, client, draft("a@example.com"), received)
        # The merchant renames the customer and sets terms by hand in Fortnox.
        sim.tenant(tenant).customers[number].fields.update(
            {"Name": "Kund AB (Stockholm)", "TermsOfPayment": "60"}
        )
        before = len(calls(sim, tenant))
        assert await register.customer_number(shop, client, draft("a@example.com"), received) == (
            number
        )
        assert len(calls(sim, tenant)) == before  # unchanged: no call at all
        moved = draft("a@example.com", Address1="Kungsgatan 9", ZipCode="411 19", City="Göteborg")
        assert await register.customer_number(shop, client, moved, received) == number
        assert calls(sim, tenant)[before:] == [("PUT", f"/3/customers/{number}")]
        # The same new address again: nothing to write.
        await register.customer_number(shop, client, moved, received)
        assert len(calls(sim, tenant)) == before + 1
    fields = sim.tenant(tenant).customers[number].fields
    assert (fields["Address1"], fields["City"]) == ("Kungsgatan 9", "Göteborg")
    assert fields["Name"] == "Kund AB (Stockholm)" and fields["TermsOfPayment"] == "60"


async def test_vies_line_joins_the_merchants_comments_of_a_customer_made_by_hand(
    pool: asyncpg.Pool,
    fortnox: tuple[FortnoxSimulator, str, str],  # noqa: F811
) -> None:
    sim, tenant, url = fortnox
    shop = f"vies-{uuid.uuid4().hex[:6]}.myshopify.com"
    made = create_customer(
        sim.tenant(tenant),
        {
            "Name": "Becher GmbH",
            "Email": "b@example.com",
            "Comments": "Ring före leverans",
            **ADDRESS,
        },
    )
    register = CustomerRegister(pool, Leases(pool))
    note = "VIES: DE123456789 valid, checked 2026-12-07, consultation WAPI1"
    verified = draft("b@example.com", note, VATNumber="DE123456789")
    async with aiohttp.ClientSession() as http:
        client = _client(http, pool, sim, tenant, url)
        number = await register.customer_number(shop, client, verified, datetime.now(UTC))
        assert number == made.customer_number
        customer_calls = [c for c in calls(sim, tenant) if c[1] != "/3/customers"]
        # Comments are not in the list: read once, then one PUT of what changed.
        assert customer_calls == [
            ("GET", f"/3/customers/{number}"),
            ("PUT", f"/3/customers/{number}"),
        ]
        before = len(calls(sim, tenant))
        await register.customer_number(shop, client, verified, datetime.now(UTC))
        assert len(calls(sim, tenant)) == before
    fields = sim.tenant(tenant).customers[number].fields
    assert fields["Comments"] == f"Ring före leverans\n{note}"
    assert fields["VATNumber"] == "DE123456789"


def test_the_vies_line_is_replaced_not_repeated() -> None:
    first = with_vies_note("Egen rad", "VIES: DE1 valid, checked 2026-01-01")
    assert with_vies_note(first, "VIES: DE1 valid, checked 2026-02-01") == (
        "Egen rad\nVIES: DE1 valid, checked 2026-02-01"
    )
    assert with_vies_note(None, "VIES: x") == "VIES: x"
