"""The period reconciliation report through the stack: a month of orders, payments, partial and
full refunds ties out to the öre between Shopify and Fortnox; a document edited by hand in
Fortnox, and an invoice nobody ordered, show as differences (ingest, mapper, writer; both
simulators)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fortbridge import accounting
from fortbridge.cli import _parser as cli_parser
from libs.common.access import ApiTokenStore
from libs.common.service import STATE
from services.fortnox_writer.reconciliation.shopify_side import rate_key
from services.ingest.reconcile.runner import FINISHED, Reconciler
from simulators.fortnox._state import Tenant
from simulators.fortnox.customers import create_customer
from simulators.fortnox.invoices import create_invoice, update_invoice
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.services.fortnox_writer.actions_support import connect_all_scopes
from tests.services.fortnox_writer.writer_support import settled
from tests.services.mapper.builders import refund_payload
from tests.support.stack import Stack

LINES = [
    LineSpec("Mugg", "129.00", 2, "0.25", "MUG-BLUE"),
    LineSpec("Kokbok", "249.00", 1, "0.06", "BOOK-COOK-1"),
    LineSpec("Biobiljett", "119.00", 1, "0.12", "CINEMA-1"),
]
PAYOUT_SCOPES = "invoice payment customer article companyinformation bookkeeping currency"
DAYS = ("2026-11-03", "2026-11-03", "2026-11-14", "2026-11-21", "2026-11-28")


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(
        services=("ingest", "mapper", "fortnox_writer"), reconcile_interval_seconds=0
    )


def paid_order(day: str, n: int) -> dict[str, Any]:
    moment = f"{day}T1{n}:15:00+01:00"
    return with_payment(order_payload(lines=LINES, created_at=moment, updated_at=moment))


def with_payment(order: dict[str, Any]) -> dict[str, Any]:
    """The order paid in full by card (Shopify Payments) when it was made."""
    order["transactions"] = [
        {
            "id": order["id"] * 10 + 1,
            "kind": "sale",
            "status": "success",
            "amount": order["total_price"],
            "currency": order["currency"],
            "gateway": "shopify_payments",
            "processed_at": order["created_at"],
            "created_at": order["created_at"],
        }
    ]
    return order


def with_money_back(refund: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    lines = sum((Decimal(r["subtotal"]) for r in refund["refund_line_items"]), Decimal(0))
    # Prices include VAT: a shipping refund's amount includes its tax.
    shipping = -sum((Decimal(a["amount"]) for a in refund["order_adjustments"]), Decimal(0))
    refund["transactions"] = [
        {
            "id": refund["id"] * 10 + 1,
            "kind": "refund",
            "status": "success",
            "amount": str(lines + shipping),
            "currency": order["currency"],
            "gateway": "shopify_payments",
            "processed_at": refund["created_at"],
            "created_at": refund["created_at"],
        }
    ]
    return refund


async def month_of_orders(stack: Stack) -> list[dict[str, Any]]:
    orders = [paid_order(day, n) for n, day in enumerate(DAYS)]
    for order in orders:
        stack.shopify.add_order(stack.shop, order)
        assert await stack.send_order(order) == [200]
        assert await stack.send_webhook("orders/paid", order) == [200]
    partial = with_money_back(
        refund_payload(
            orders[1], 7_800_000_000_001, lines=[(0, 1)], created_at="2026-11-10T09:00:00+01:00"
        ),
        orders[1],
    )
    shipping = orders[3]["shipping_lines"][0]
    full = with_money_back(
        refund_payload(
            orders[3],
            7_800_000_000_002,
            lines=[(0, 2), (1, 1), (2, 1)],
            shipping=[(shipping["price"], shipping["tax_lines"][0]["price"])],
            created_at="2026-11-29T09:00:00+01:00",
        ),
        orders[3],
    )
    for order, refund in ((orders[1], partial), (orders[3], full)):
        stack.shopify.add_refund(stack.shop, order["id"], refund)
        assert await stack.send_webhook("refunds/create", refund) == [200]

    async def done() -> bool:
        credits = [i for i in stack.invoices() if Decimal(i.total) < 0]
        return (
            len(stack.invoices()) >= len(orders) + 2
            and len(credits) == 2
            and await settled(stack.pool, stack.shop)
        )

    await stack.wait_for(done, timeout=90)
    return orders


async def report_of(stack: Stack, start: str, end: str) -> dict[str, Any]:
    async with stack.http.post(
        stack.url("fortnox_writer", "/admin/api/reconciliation_reports.json"),
        params={"shop": stack.shop},
        json={"from": start, "to": end},
    ) as response:
        body = await response.json()
    assert response.status == 202, body
    report_id = body["reconciliation_report"]["id"]
    url = stack.url("fortnox_writer", f"/admin/api/reconciliation_reports/{report_id}.json")
    answer: dict[str, Any] = {}

    async def finished() -> bool:
        async with stack.http.get(url, params={"shop": stack.shop}) as response:
            answer.update((await response.json())["reconciliation_report"])
        return answer["status"] != "running"

    await stack.wait_for(finished, timeout=60)
    assert answer["status"] == "finished", answer["error"]
    return dict(answer["report"]) | {"id": report_id}


async def stack_with_payouts(stack_factory: StackFactory, *, first_order: int) -> Stack:
    """A stack whose company has the payout scopes and whose shop books payouts, with three
    orders of two days ago for a payout to pay out."""
    stack = await stack_factory(reconcile_interval_seconds=0)
    await connect_all_scopes(stack, PAYOUT_SCOPES)
    async with stack.http.put(
        stack.url("mapper", "/admin/api/integrations/fortnox/settings.json"),
        json={"settings": {"payouts": {"enabled": True}}, "version": 0},
        params={"shop": stack.shop},
    ) as response:
        assert response.status == 200, await response.text()
    earlier = datetime.now(UTC) - timedelta(days=2)
    for n in range(3):
        stack.shopify.add_order(stack.shop, order_payload(first_order + n, created_at=earlier))
    return stack


async def payout_booked(stack: Stack) -> Tenant:
    """Reconcile the shop (which reads its paid payouts) and wait for the one voucher."""
    runtime = stack.apps["ingest"][STATE].require_runtime()
    assert await Reconciler(runtime).reconcile_shop(stack.shop) == FINISHED
    tenant = stack.fortnox.tenant(stack.tenant_id)
    await stack.wait_for(lambda: len(tenant.vouchers) == 1, timeout=30)
    return tenant


def money(value: str) -> Decimal:
    return Decimal(value)


async def test_a_month_ties_out_to_the_ore(stack: Stack) -> None:
    orders = await month_of_orders(stack)
    report = await report_of(stack, "2026-11-01", "2026-11-30")
    assert report["differences"] == [], json.dumps(report["differences"], indent=1)
    shopify, fortnox = report["totals"]["shopify"], report["totals"]["fortnox"]
    assert shopify["orders"] == fortnox["invoices"] == len(orders)
    expected_total = sum((Decimal(o["total_price"]) for o in orders), Decimal(0))
    expected_vat = sum((Decimal(o["total_tax"]) for o in orders), Decimal(0))
    assert money(shopify["total"]) == money(fortnox["total"]) == expected_total
    assert money(shopify["vat"]) == money(fortnox["vat"]) == expected_vat
    assert money(shopify["refunded"]) == money(fortnox["credited"]) > 0
    assert money(shopify["paid"]) == money(fortnox["paid"])
    assert money(fortnox["paid"]) == expected_total - money(shopify["refunded"])
    # Per VAT rate, both sides equal, and they sum to the VAT totals.
    rates = {row["rate"]: row for row in report["by_vat_rate"]}
    assert set(rates) == {"25", "12", "6"}
    for row in rates.values():
        assert row["shopify_orders_vat"] == row["fortnox_invoices_vat"], row
        assert row["shopify_refunds_vat"] == row["fortnox_credits_vat"], row
    expected_by_rate: dict[str, Decimal] = {}
    for order in orders:
        for line in order["tax_lines"]:
            key = rate_key(line["rate"])
            expected_by_rate[key] = expected_by_rate.get(key, Decimal(0)) + Decimal(line["price"])
    assert {r: money(v["shopify_orders_vat"]) for r, v in rates.items()} == expected_by_rate
    assert sum(money(r["fortnox_invoices_vat"]) for r in rates.values()) == expected_vat
    # Per day: the days of the orders and refunds; the sums add up to the totals.
    days = {row["date"]: row for row in report["by_day"]}
    assert {*DAYS, "2026-11-10", "2026-11-29"} <= set(days)
    assert sum(money(d["fortnox_invoices"]) for d in days.values()) == expected_total
    assert sum(money(d["shopify_orders"]) for d in days.values()) == expected_total
    assert -sum(money(d["fortnox_credits"]) for d in days.values()) == money(shopify["refunded"])
    assert report["payouts"] == []
    assert report["fortnox_calls"] >= 1 + len(orders) + 2 + 1  # lists, each document, payments
    assert stack.fortnox.count_429 == 0
    # The CSV: a header and a line per order.
    async with stack.http.get(
        stack.url("fortnox_writer", f"/admin/api/reconciliation_reports/{report['id']}.csv"),
        params={"shop": stack.shop},
    ) as response:
        text = await response.text()
    assert response.status == 200 and response.content_type == "text/csv"
    lines = text.strip().splitlines()
    assert lines[0].startswith("date,order_id") and len(lines) == 1 + len(orders)


async def test_a_report_reads_on_through_a_429_and_a_5xx(stack: Stack) -> None:
    """Fortnox may answer 429 or 5xx to any read; the report (read in process, with nothing
    to redeliver it) tries the read again instead of failing."""
    orders = await month_of_orders(stack)
    stack.fortnox.faults.add(method="GET", path_regex="^/3/invoices", status=429, times=1)
    stack.fortnox.faults.add(method="GET", path_regex="^/3/", status=503, times=1)
    report = await report_of(stack, "2026-11-01", "2026-11-30")  # asserts it finished
    assert report["differences"] == []
    assert report["totals"]["fortnox"]["invoices"] == len(orders)
    statuses = [r.status for r in stack.fortnox.requests_for(stack.tenant_id) if r.fault]
    assert statuses == [429, 503]


async def test_a_document_edited_by_hand_and_an_extra_invoice_show(stack: Stack) -> None:
    orders = await month_of_orders(stack)
    tenant = stack.fortnox.tenant(stack.tenant_id)
    [edited] = [i for i in stack.invoices_for(orders[2]["id"]) if Decimal(i.total) > 0]
    rows = [dict(row) for row in edited.rows]
    rows[0]["Price"] = Decimal(rows[0]["Price"]) + 10  # the accountant typed another price
    update_invoice(tenant, edited, {"InvoiceRows": rows})
    customer = create_customer(tenant, {"Name": "Okänd"})
    extra = create_invoice(
        tenant,
        {
            "CustomerNumber": customer.customer_number,
            "ExternalInvoiceReference1": "shopify-5999999999999",
            "InvoiceDate": "2026-11-15",
            "VATIncluded": True,
            "InvoiceRows": [{"Description": "Mugg", "DeliveredQuantity": 1, "Price": 100}],
        },
    )
    report = await report_of(stack, "2026-11-01", "2026-11-30")
    found = {(d["order_id"], d["kind"], d["what"]): d for d in report["differences"]}
    amount = found[(str(orders[2]["id"]), "amount", "invoice total")]
    assert money(amount["difference"]) == Decimal(20)  # 2 mugs at 10 more each
    assert money(amount["fortnox"]) == Decimal(orders[2]["total_price"]) + 20
    assert (str(orders[2]["id"]), "vat", "invoice VAT") in found
    extra_row = found[("5999999999999", "extra", "invoice without a Shopify order in the period")]
    assert extra_row["document"] == str(extra.document_number)
    assert money(report["totals"]["fortnox"]["total"]) - money(
        report["totals"]["shopify"]["total"]
    ) == Decimal(20 + 100)  # the edit and the extra invoice
    assert len(report["differences"]) == 3, report["differences"]


async def test_the_cli_starts_a_report_and_writes_its_csv(
    stack: Stack, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    orders = await month_of_orders(stack)
    target = tmp_path / "november.csv"
    args = cli_parser().parse_args(
        [
            "report", "start", "--shop", stack.shop, "--from", "2026-11-01", "--to", "2026-11-30",
            "--url", stack.url("fortnox_writer", ""), "--wait", "60", "--csv", str(target),
        ]
    )  # fmt: skip
    assert await accounting.run(args) == 0
    printed = capsys.readouterr().out
    assert f"Shopify: {len(orders)} orders" in printed and "0 differences" in printed
    assert len(target.read_text().strip().splitlines()) == 1 + len(orders)


async def test_fortnox_orders_are_reported_like_invoices(stack: Stack) -> None:
    async with stack.http.put(
        stack.url("mapper", "/admin/api/integrations/fortnox/settings.json"),
        params={"shop": stack.shop},
        json={"settings": {"document_kind": "order"}, "version": 0},
    ) as response:
        assert response.status == 200, await response.text()
    order = paid_order("2026-11-12", 1)
    stack.shopify.add_order(stack.shop, order)
    assert await stack.send_order(order) == [200]
    tenant = stack.fortnox.tenant(stack.tenant_id)
    await stack.wait_for(lambda: len(tenant.orders) == 1, timeout=30)
    await stack.wait_for(lambda: settled(stack.pool, stack.shop), timeout=30)
    report = await report_of(stack, "2026-11-01", "2026-11-30")
    [row] = report["orders"]
    assert row["fortnox"]["total"] == row["shopify"]["total"] == order["total_price"]
    kinds = {d["kind"] for d in report["differences"]}
    assert not kinds & {"missing", "extra", "amount", "vat"}, report["differences"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"from": "2026-11-01"}, 422),
        ({"from": "2026-11-30", "to": "2026-11-01"}, 422),
        ({"from": "2026-01-01", "to": "2026-12-31"}, 422),  # more than 93 days
        ({"from": "1 nov", "to": "30 nov"}, 422),
        ([], 422),
    ],
)
async def test_a_report_request_is_checked(
    stack_factory: StackFactory, body: Any, status: int
) -> None:
    stack = await stack_factory(services=("fortnox_writer",))
    async with stack.http.post(
        stack.url("fortnox_writer", "/admin/api/reconciliation_reports.json"),
        params={"shop": stack.shop},
        json=body,
    ) as response:
        assert response.status == status, await response.text()


async def test_a_shop_without_fortnox_cannot_start_one_and_ids_stay_in_their_shop(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(services=("fortnox_writer",), fortnox_connected=False)
    url = stack.url("fortnox_writer", "/admin/api/reconciliation_reports.json")
    period = {"from": "2026-11-01", "to": "2026-11-30"}
    async with stack.http.post(url, params={"shop": stack.shop}, json=period) as response:
        assert response.status == 409
    async with stack.http.get(
        stack.url("fortnox_writer", "/admin/api/reconciliation_reports/not-a-uuid.json"),
        params={"shop": stack.shop},
    ) as response:
        assert response.status == 404


async def test_another_shops_credentials_cannot_read_a_report(stack: Stack) -> None:
    report = await report_of(stack, "2026-11-01", "2026-11-30")  # an empty month ties out
    assert report["differences"] == [] and report["totals"]["shopify"]["orders"] == 0
    other = await ApiTokenStore(stack.pool).create(
        "someone-else.myshopify.com", "read_integrations,write_integrations"
    )
    headers = {"Authorization": f"Bearer {other.token}"}
    path = f"/admin/api/reconciliation_reports/{report['id']}"
    for suffix, shop, status in (
        (".json", None, 404),
        (".csv", None, 404),
        (".json", stack.shop, 403),
    ):
        params = {"shop": shop} if shop else {}
        async with stack.http.get(
            stack.url("fortnox_writer", path + suffix), params=params, headers=headers
        ) as response:
            assert response.status == status, (suffix, shop, await response.text())


async def test_an_earlier_orders_refund_in_the_period_is_reported_with_its_credit(
    stack: Stack,
) -> None:
    october = paid_order("2026-10-20", 1)
    november = paid_order("2026-11-05", 2)
    for order in (october, november):
        stack.shopify.add_order(stack.shop, order)
        assert await stack.send_order(order) == [200]
        assert await stack.send_webhook("orders/paid", order) == [200]
    for refund_id, when in (
        (7_800_000_000_011, "2026-10-25T09:00:00+01:00"),  # October's: not in November
        (7_800_000_000_012, "2026-11-12T09:00:00+01:00"),
    ):
        refund = with_money_back(
            refund_payload(october, refund_id, lines=[(1, 1)] if refund_id % 2 else [(2, 1)],
                           created_at=when),
            october,
        )  # fmt: skip
        stack.shopify.add_refund(stack.shop, october["id"], refund)
        assert await stack.send_webhook("refunds/create", refund) == [200]
        await stack.wait_for(
            lambda r=refund_id: any(
                i.fields.get("ExternalInvoiceReference1") == f"shopify-refund-{r}"
                for i in stack.invoices()
            ),
            timeout=30,
        )
    await stack.wait_for(lambda: settled(stack.pool, stack.shop), timeout=30)
    report = await report_of(stack, "2026-11-01", "2026-11-30")
    assert report["differences"] == [], report["differences"]
    totals = report["totals"]
    assert totals["shopify"]["orders"] == 1  # November's order; October's is here for its refund
    assert money(totals["shopify"]["total"]) == Decimal(november["total_price"])
    cinema = Decimal(october["line_items"][2]["price"])  # November's refund: the cinema ticket
    assert money(totals["shopify"]["refunded"]) == money(totals["fortnox"]["credited"]) == cinema
    [late] = [row for row in report["orders"] if not row["in_period"]]
    assert late["order_id"] == str(october["id"])
    assert [r["id"] for r in late["shopify"]["refunds"]] == ["7800000000012"]


async def test_payouts_of_the_period_show_with_their_vouchers(stack_factory: StackFactory) -> None:
    stack = await stack_with_payouts(stack_factory, first_order=5_300_000_000_000)
    booked = stack.shopify.make_payout(stack.shop)
    tenant = await payout_booked(stack)
    earlier = datetime.now(UTC) - timedelta(days=2)
    stack.shopify.add_order(stack.shop, order_payload(5_300_000_000_009, created_at=earlier))
    unbooked = stack.shopify.make_payout(stack.shop)  # not polled yet: no voucher
    today = datetime.now(UTC).date().isoformat()
    report = await report_of(stack, today, today)
    rows = {row["payout_id"]: row for row in report["payouts"]}
    assert set(rows) == {str(booked["id"]), str(unbooked["id"])}
    [voucher] = tenant.vouchers.values()
    assert rows[str(booked["id"])]["voucher"] == f"{voucher.series}{voucher.number}"
    assert money(rows[str(booked["id"])]["net"]) == Decimal(booked["amount"])
    assert money(rows[str(booked["id"])]["fees"]) == Decimal(
        booked["summary"]["charges_fee_amount"]
    )
    assert rows[str(unbooked["id"])]["voucher"] is None
    [missing] = [d for d in report["differences"] if "payout" in d["what"]]
    assert missing["what"] == f"payout {unbooked['id']} voucher"
    # This company was connected without the order scope: its orders register is left out,
    # and the report says so rather than failing.
    assert any(note.startswith("Fortnox orders were not read") for note in report["notes"])
