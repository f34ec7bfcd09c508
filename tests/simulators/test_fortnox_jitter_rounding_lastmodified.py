"""The simulator's network jitter, its two VAT roundings and ``lastmodified``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from simulators.fortnox import FortnoxSimulator
from simulators.fortnox.totals import RowInput, compute_totals
from tests.simulators._fortnox_client import TENANT, Api

D = Decimal
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def test_vat_rounded_per_row_or_per_rate() -> None:
    rows = [RowInput(D("0.33"), D(1), D(25)) for _ in range(60)]
    per_rate = compute_totals(rows)
    per_row = compute_totals(rows, vat_rounding="per_row")
    assert per_rate.total_vat == D("4.95")  # 19.80 x 25 % on the sum
    assert per_row.total_vat == D("4.80")  # 0.0825 -> 0.08, sixty times
    assert (per_rate.total, per_row.total) == (D("24.75"), D("24.60"))


async def test_a_tenant_rounding_per_row_answers_its_own_totals(
    api: Api, sim: FortnoxSimulator
) -> None:
    sim.tenant(TENANT).vat_rounding = "per_row"
    status, created = await api.call("POST", "/3/customers", {"Customer": {"Name": "Kund"}})
    assert status == 201
    rows = [{"Description": "Te", "DeliveredQuantity": 1, "Price": 0.33, "VAT": 25}] * 60
    body = {"CustomerNumber": created["Customer"]["CustomerNumber"], "InvoiceRows": rows}
    status, answer = await api.call("POST", "/3/invoices", {"Invoice": body})
    assert status == 201
    assert (D(str(answer["Invoice"]["TotalVAT"])), D(str(answer["Invoice"]["Total"]))) == (
        D("4.80"),
        D("24.60"),
    )


async def test_jitter_delays_every_request_before_it_arrives(
    api: Api, sim: FortnoxSimulator
) -> None:
    sim.jitter = 0.15
    sent = []
    for _ in range(12):
        sent.append(sim.clock())
        await api.call("GET", "/3/customers")
    arrived = [r.time for r in sim.requests_for(TENANT)]
    delays = [a - s for a, s in zip(arrived, sent, strict=True)]
    assert all(0 <= d <= 0.15 + 0.05 for d in delays)
    assert max(delays) - min(delays) > 0.02  # random, not a fixed delay


async def test_lastmodified_lists_what_changed_since_in_swedish_time(
    api: Api, sim: FortnoxSimulator
) -> None:
    for name in ("Gammal", "Ny"):
        await api.call(
            "POST", "/3/customers", {"Customer": {"Name": name, "Email": f"{name}@x.se"}}
        )
    old, _new = sim.tenant(TENANT).customers.values()
    old.updated_at = datetime.now(UTC) - timedelta(hours=3)
    since = (datetime.now(UTC) - timedelta(minutes=5)).astimezone(STOCKHOLM)
    status, listing = await api.call(
        "GET", f"/3/customers?lastmodified={since:%Y-%m-%d %H:%M}&limit=500"
    )
    assert status == 200
    assert [row["Name"] for row in listing["Customers"]] == ["Ny"]
    assert (
        "Address1" in listing["Customers"][0]
        and "ShowPriceVATIncluded" not in listing["Customers"][0]
    )  # list rows: a subset of the fields
    # The same instant written in UTC is an hour or two earlier in Sweden: both come back.
    utc = datetime.now(UTC) - timedelta(minutes=5)
    status, listing = await api.call(
        "GET", f"/3/customers?lastmodified={utc - timedelta(hours=3):%Y-%m-%d %H:%M}"
    )
    assert len(listing["Customers"]) == 2


async def test_fromdate_and_todate_keep_invoices_and_payments_dated_within(
    api: Api, sim: FortnoxSimulator
) -> None:
    _, customer = await api.call("POST", "/3/customers", {"Customer": {"Name": "Datum AB"}})
    number = customer["Customer"]["CustomerNumber"]
    for day in ("2026-10-31", "2026-11-01", "2026-11-30", "2026-12-01"):
        body = {
            "Invoice": {
                "CustomerNumber": number,
                "InvoiceDate": day,
                "InvoiceRows": [{"Description": "x", "DeliveredQuantity": 1, "Price": 10}],
            }
        }
        assert (await api.call("POST", "/3/invoices", body))[0] == 201
    status, listing = await api.call("GET", "/3/invoices?fromdate=2026-11-01&todate=2026-11-30")
    assert status == 200
    assert [row["InvoiceDate"] for row in listing["Invoices"]] == ["2026-11-01", "2026-11-30"]
    status, listing = await api.call("GET", "/3/invoices?fromdate=2026-11-30")
    assert [row["InvoiceDate"] for row in listing["Invoices"]] == ["2026-11-30", "2026-12-01"]
    status, _ = await api.call("GET", "/3/invoices?fromdate=30-11-2026")
    assert status == 400
