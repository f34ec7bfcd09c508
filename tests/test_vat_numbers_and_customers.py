"""Issue 18 through the running stack and its simulators (Shopify, Fortnox, VIES): an EU VAT
number VIES confirms is reverse charge, an invalid one is booked with VAT and the timeline says
why, VIES down follows VIES_UNAVAILABLE (wait, then VAT); a customer's new address reaches
Fortnox, and an unchanged customer costs no update call."""

from __future__ import annotations

import copy
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StackFactory
from tests.support.stack import Stack

pytestmark = pytest.mark.slow

ORDER = Path(__file__).parent / "fixtures" / "orders" / "16_eu_business_reverse_charge.json"


def order(vat_number: str | None, email: str, **address: str) -> dict[str, Any]:
    payload = json.loads(ORDER.read_text())
    payload["id"] = 5_000_000_000_000 + uuid.uuid4().int % 10**9
    payload["email"] = email
    payload["customer"] = {**(payload.get("customer") or {}), "email": email}
    payload["note_attributes"] = [{"name": "vat_number", "value": vat_number}] if vat_number else []
    for field in ("billing_address", "shipping_address"):
        payload[field] = {**payload[field], **address}
    return payload


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    # Test retries add up to 1.7 s: a 1 s wait for VIES ends inside them.
    stack = await stack_factory(
        services=("ingest", "mapper", "fortnox_writer", "timeline"), vies_wait_seconds=1.0
    )
    # A company selling reverse charge books those rows at 0 %: it has set 0 % up.
    stack.fortnox.set_vat_rates(stack.tenant_id, ["25", "12", "6", "0"])
    return stack


def rows_vat(stack: Stack, order_id: int) -> set[Decimal]:
    (invoice,) = stack.invoices_for(order_id)
    return {Decimal(str(row.get("VAT"))) for row in invoice.rows}


def customer(stack: Stack, email: str) -> dict[str, Any]:
    (found,) = [
        c.fields
        for c in stack.fortnox.tenant(stack.tenant_id).customers.values()
        if c.fields.get("Email") == email
    ]
    return found


def status(stack: Stack, order_id: int) -> dict[str, Any] | None:
    key = (f"gid://shopify/Order/{order_id}", "fortbridge", "sync_status")
    value = stack.shopify.shop(stack.shop).metafields.get(key)
    return None if value is None else dict(json.loads(value["value"]))


async def messages(stack: Stack, order_id: int) -> list[str]:
    events = (await stack.timeline(order_id)).get("timeline_events", [])
    return [event["message"] for event in events]


async def test_vat_numbers_decide_reverse_charge(stack: Stack) -> None:
    stack.vies.mark("DE123456789", name="Becher GmbH")
    valid = order("DE 123 456 789", "becher@example.com")
    invalid = order("DE 999 999 999", "falsk@example.com")
    stack.vies.set_unavailable("FR")
    down = order("FR12345678901", "paris@example.com", country_code="FR", country="France")
    for payload in (valid, invalid, down):
        await stack.send_order(payload)
    await stack.wait_for(
        lambda: all(len(stack.invoices_for(o["id"])) == 1 for o in (valid, invalid, down)),
        timeout=40,
    )
    assert rows_vat(stack, valid["id"]) == {Decimal(0)}
    (reverse,) = stack.invoices_for(valid["id"])
    assert reverse.fields["EUQuarterlyReport"] is True
    becher = customer(stack, "becher@example.com")
    assert becher["VATNumber"] == "DE123456789" and becher["VATType"] == "EUREVERSEDVAT"
    assert str(becher["Comments"]).startswith("VIES: DE123456789 valid, checked ")

    assert Decimal(25) in rows_vat(stack, invalid["id"])
    assert not customer(stack, "falsk@example.com").get("VATNumber")  # not saved unverified

    async def warned(order_id: int, text: str) -> bool:
        return any(text in message for message in await messages(stack, order_id))

    await stack.wait_for(lambda: warned(invalid["id"], "Warning: VAT number DE999999999 not"))
    assert await warned(invalid["id"], "not a valid VAT number")
    # The order's status in Shopify (metafield fortbridge.sync_status) says so too.
    await stack.wait_for(lambda: status(stack, invalid["id"]) is not None)
    mirrored = status(stack, invalid["id"])
    assert mirrored is not None and mirrored["status"] == "synced"
    assert "not verified" in str(mirrored["message"])
    assert "not a valid VAT number" in mirrored["notices"][0]
    assert (status(stack, valid["id"]) or {}).get("notices") in (None, [])
    # VIES down for France: retried for the configured wait, then booked with VAT, and said so.
    assert Decimal(25) in rows_vat(stack, down["id"])
    await stack.wait_for(lambda: warned(down["id"], "VIES could not be reached: MS_UNAVAILABLE"))
    assert ("FR", "12345678901") in stack.vies.requests


async def test_a_customers_new_address_reaches_fortnox_once(stack: Stack) -> None:
    email = "flyttar@example.com"
    first = order(None, email, country_code="SE", country="Sweden", city="Lund", zip="22100")
    await stack.send_order(first)
    await stack.wait_for(lambda: len(stack.invoices_for(first["id"])) == 1)
    puts_before = [r for r in stack.fortnox.requests_for(stack.tenant_id) if r.method == "PUT"]
    moved = copy.deepcopy(
        order(None, email, country_code="SE", country="Sweden", city="Malmö", zip="21100")
    )
    moved["billing_address"]["address1"] = "Nygatan 5"
    await stack.send_order(moved)
    await stack.wait_for(lambda: len(stack.invoices_for(moved["id"])) == 1)
    fields = customer(stack, email)
    assert (fields["City"], fields["ZipCode"], fields["Address1"]) == (
        "Malmö",
        "21100",
        "Nygatan 5",
    )
    puts = [
        r
        for r in stack.fortnox.requests_for(stack.tenant_id)
        if r.method == "PUT" and r.path.startswith("/3/customers/")
    ]
    assert len(puts) == 1 + len([r for r in puts_before if r.path.startswith("/3/customers/")])
    # The customer's own customers/update with the same address: no call to Fortnox at all.
    before = len(stack.fortnox.requests_for(stack.tenant_id))
    update = {
        "id": 9_100_000_000_000 + uuid.uuid4().int % 10**6,
        "email": email,
        "first_name": "Anna",
        "last_name": "Andersson",
        "updated_at": "2026-12-01T10:00:00+01:00",
        "default_address": {
            "address1": "Nygatan 5",
            "city": "Malmö",
            "zip": "21100",
            "country_code": "SE",
            "company": "Becher GmbH",
        },
    }
    await stack.send_webhook("customers/update", update)

    async def handled() -> bool:
        query = "SELECT count(*) FROM mapper.processed_events WHERE topic = 'customers/update'"
        query += " AND shop = $1"
        return bool(await stack.pool.fetchval(query, stack.shop))

    await stack.wait_for(handled)
    synced = "SELECT count(*) FROM fortnox_writer.documents WHERE document_key LIKE $1"
    synced += " AND status <> 'pending'"

    async def written() -> bool:
        return bool(await stack.pool.fetchval(synced, f"{stack.shop}:customer:%"))

    await stack.wait_for(written)
    assert customer(stack, email)["City"] == "Malmö"
    assert len(stack.fortnox.requests_for(stack.tenant_id)) == before
