"""Fortnox's automatic currency rates: the rate of the document's date, never one fixed rate."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import aiohttp

from simulators.fortnox import FortnoxSimulator
from tests.simulators._fortnox_client import TENANT, Api, seed, simple_invoice

D = Decimal


async def invoice_rate(api: Api, **fields: Any) -> Decimal:
    body = simple_invoice()
    body["Invoice"].update({"Currency": "EUR", **fields})
    status, answer = await api.call("POST", "/3/invoices", body)
    assert status == 201, answer
    return D(str(answer["Invoice"]["CurrencyRate"]))


async def test_documents_of_different_days_get_each_day_rate(
    api: Api, sim: FortnoxSimulator
) -> None:
    await seed(api)
    monday = date(2026, 11, 2)
    rates = [
        await invoice_rate(api, InvoiceDate=(monday + timedelta(days=n)).isoformat())
        for n in range(3)
    ]
    assert len(set(rates)) == 3  # a fixed rate would give one
    tenant = sim.tenant(TENANT)
    assert rates == [tenant.rate_on("EUR", monday + timedelta(days=n)) for n in range(3)]
    base = tenant.currency_rates["EUR"]
    assert all(abs(rate - base) <= base * D("0.005") for rate in rates)
    # The same day always has the same rate.
    assert await invoice_rate(api, InvoiceDate=monday.isoformat()) == rates[0]


async def test_a_day_rate_set_by_control_and_an_explicit_rate(
    api: Api, sim: FortnoxSimulator
) -> None:
    await seed(api)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{api.base}/_sim/tenants/{TENANT}/currency_rates",
            json={"currency": "eur", "date": "2026-11-30", "rate": "11.2345"},
        ) as response:
            assert response.status == 200
        async with session.post(
            f"{api.base}/_sim/tenants/{TENANT}/currency_rates",
            json={"currency": "XYZ", "date": "2026-11-30", "rate": "1"},
        ) as response:
            assert response.status == 400
    assert await invoice_rate(api, InvoiceDate="2026-11-30") == D("11.2345")
    # An explicit rate overrides the automatic one.
    assert await invoice_rate(api, InvoiceDate="2026-11-30", CurrencyRate=10) == D("10")
    # SEK is always 1.
    body = simple_invoice()
    status, answer = await api.call("POST", "/3/invoices", body)
    assert status == 201 and D(str(answer["Invoice"]["CurrencyRate"])) == 1
    assert sim.tenant(TENANT).rate_on("SEK", date(2026, 11, 30)) == 1
