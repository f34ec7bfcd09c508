"""Backfill of past orders through the stack (ingest, mapper, writer; both simulators): a dry
run counts, the run creates what Fortnox lacks, matches what it has by reference, duplicates
nothing, is marked ``origin: backfill``, and resumes after its runner stops midway."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fortbridge import accounting
from fortbridge.cli import _parser as cli_parser
from fortbridge.gateway import free_socket, serve_gateway
from libs.common.service import STATE
from services.ingest.backfill.routes import RUNNER
from services.ingest.backfill.runner import BackfillRunner
from services.mapper.summary import close_due
from simulators.fortnox import FortnoxSimulator
from simulators.fortnox.customers import create_customer
from simulators.fortnox.invoices import create_invoice
from simulators.fortnox.orders import create_order
from simulators.shopify import ShopifySimulator
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack
from tests.test_reconciliation_report import report_of
from tests.test_reconciliation_summary_report import summary_mode

LINES = [LineSpec("Mugg", "129.00", 1, "0.25", "MUG-BLUE")]
PAST = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


async def open_stack(stack_factory: StackFactory) -> Stack:
    # A quick Fortnox (the real limit is 25 per 5 s; pacing is the writer's, tested elsewhere).
    # And a Shopify Plus-sized cost bucket: each past order is read whole (the standard bucket
    # restores 50 points a second, about one order a second).
    return await stack_factory(
        services=("ingest", "mapper", "fortnox_writer"),
        fortnox=FortnoxSimulator(rate_limit=2500),
        shopify=ShopifySimulator(bucket_size=20_000, restore_rate=1_000),
        fortnox_rate_limit=2500,
        reconcile_interval_seconds=0,
    )


def past_orders(stack: Stack, count: int) -> list[dict[str, Any]]:
    orders = []
    for n in range(count):
        moment = PAST + timedelta(minutes=10 * n)
        order = order_payload(
            lines=LINES,
            created_at=moment,
            updated_at=moment,
            financial_status="pending",
            shipping=None,
        )
        stack.shopify.add_order(stack.shop, order)
        orders.append(order)
    return orders


def book_by_hand(stack: Stack, orders: list[dict[str, Any]]) -> None:
    """Invoices an earlier integration made with the orders' references."""
    tenant = stack.fortnox.tenant(stack.tenant_id)
    customer = create_customer(tenant, {"Name": "Tidigare kund"})
    for order in orders:
        create_invoice(
            tenant,
            {
                "CustomerNumber": customer.customer_number,
                "ExternalInvoiceReference1": f"shopify-{order['id']}",
                "VATIncluded": True,
                "InvoiceRows": [{"Description": "Mugg", "DeliveredQuantity": 1, "Price": 129}],
            },
        )


async def call(stack: Stack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with stack.http.request(
        method, stack.url("ingest", path), params={"shop": stack.shop}, json=body
    ) as response:
        return response.status, await response.json()


async def finished(stack: Stack, job_id: str, timeout: float = 90) -> dict[str, Any]:
    result: dict[str, Any] = {}

    async def done() -> bool:
        async with stack.http.get(
            stack.url("ingest", "/admin/api/backfills.json"),
            params={"shop": stack.shop, "job_id": job_id},
        ) as response:
            body = await response.json()
        assert response.status == 200, body
        result.update(body["backfill"])
        return bool(result["status"] != "running")

    await stack.wait_for(done, timeout=timeout)
    return result


def period(orders: list[dict[str, Any]]) -> dict[str, str]:
    return {
        "from": PAST.isoformat(),
        "to": (PAST + timedelta(minutes=10 * len(orders))).isoformat(),
    }


def references(stack: Stack) -> Counter[str]:
    tenant = stack.fortnox.tenant(stack.tenant_id)
    return Counter(
        str(i.fields.get("ExternalInvoiceReference1"))
        for i in tenant.invoices.values()
        if not i.credit
    )


async def backfill(stack: Stack, total: int, existing: int, *, restart: bool) -> None:
    orders = past_orders(stack, total)
    book_by_hand(stack, orders[:existing])
    before = len(stack.fortnox.tenant(stack.tenant_id).invoices)

    status, body = await call(stack, "POST", "/admin/api/backfills.json", period(orders))
    assert status == 202, body
    plan = await finished(stack, body["backfill"]["id"])
    assert plan["dry_run"] and plan["status"] == "finished"
    assert plan["counts"]["would_create"] == total - existing
    assert plan["counts"]["would_match"] == existing  # looked up in Fortnox by reference
    assert len(stack.fortnox.tenant(stack.tenant_id).invoices) == before  # a dry run writes none

    status, body = await call(
        stack, "POST", "/admin/api/backfills.json", {**period(orders), "dry_run": False}
    )
    assert status == 202, body
    job_id = body["backfill"]["id"]
    again, conflict = await call(
        stack, "POST", "/admin/api/backfills.json", {**period(orders), "dry_run": False}
    )
    assert again == 409 and conflict["backfill"]["id"] == job_id
    if restart:
        runtime = stack.apps["ingest"][STATE].require_runtime()
        [runner] = stack.apps["ingest"][RUNNER]

        async def some_paged() -> bool:
            done = await stack.pool.fetchval(
                "SELECT count(*) FROM ingest.backfill_orders WHERE job_id = $1::uuid", job_id
            )
            return bool(done)

        await stack.wait_for(some_paged, timeout=60)
        await runner.stop()  # the replica stops midway
        paged = await stack.pool.fetchval(
            "SELECT count(*) FROM ingest.backfill_orders WHERE job_id = $1::uuid", job_id
        )
        assert 0 < paged < total
        restarted = BackfillRunner(runtime)
        await restarted.resume()  # what a replica's start does
        job = await finished(stack, job_id, timeout=170)
        await restarted.stop()
    else:
        job = await finished(stack, job_id, timeout=170)

    assert job["status"] == "finished", job
    assert job["counts"]["created"] == total - existing, job
    assert job["counts"]["matched"] == existing, job
    assert job["counts"]["failed"] == 0
    counted = references(stack)
    assert set(counted) == {f"shopify-{o['id']}" for o in orders}
    assert max(counted.values()) == 1  # nothing duplicated
    commands = await stack.pool.fetchval(
        "SELECT count(*) FROM fortnox_writer.deferred_commands WHERE background"
    )
    assert commands == 0  # every background command ran


async def test_a_backfill_creates_what_fortnox_lacks_and_matches_the_rest(
    stack_factory: StackFactory,
) -> None:
    stack = await open_stack(stack_factory)
    await backfill(stack, 40, 10, restart=True)


@pytest.mark.slow
async def test_a_backfill_of_500_orders_100_in_fortnox_survives_a_restart(
    stack_factory: StackFactory,
) -> None:
    stack = await open_stack(stack_factory)
    await backfill(stack, 500, 100, restart=True)


async def test_a_backfill_of_known_orders_sends_nothing_again(
    stack_factory: StackFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = await open_stack(stack_factory)
    [order] = past_orders(stack, 1)
    assert await stack.send_order(order) == [200]

    async def invoiced() -> bool:
        return bool(stack.invoices_for(order["id"]))

    await stack.wait_for(invoiced, timeout=30)
    status, body = await call(stack, "POST", "/admin/api/backfills.json", {"ids": [order["id"]]})
    assert status == 202, body
    plan = await finished(stack, body["backfill"]["id"])
    assert plan["counts"]["known"] == 1
    status, body = await call(
        stack, "POST", "/admin/api/backfills.json", {"ids": [order["id"]], "dry_run": False}
    )
    job = await finished(stack, body["backfill"]["id"])
    assert (job["counts"]["known"], job["total"]) == (1, 1)
    assert len(stack.invoices_for(order["id"])) == 1
    # The CLI: a dry run of the same id, followed to its end.
    args = cli_parser().parse_args(
        ["backfill", "start", "--shop", stack.shop, "--ids", str(order["id"]), "--wait", "30",
         "--url", stack.url("ingest", ""), "--json"]
    )  # fmt: skip
    assert await accounting.run(args) == 0
    printed = json.loads(capsys.readouterr().out)["backfill"]
    assert (printed["dry_run"], printed["status"], printed["counts"]["known"]) == (
        True,
        "finished",
        1,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"from": "2026-06-01T00:00:00"},
        {"from": "2026-06-02T00:00:00+00:00", "to": "2026-06-01T00:00:00+00:00"},
        {"ids": []},
        {"ids": ["x"]},
        {"ids": [1], "from": "2026-06-01T00:00:00+00:00"},
        {"ids": [1], "dry_run": "no"},
        [],
    ],
)
async def test_a_backfill_request_is_checked(stack_factory: StackFactory, body: Any) -> None:
    stack = await stack_factory(services=("ingest",))
    status, answer = await call(stack, "POST", "/admin/api/backfills.json", body)
    assert status == 422, answer


async def test_orders_the_rules_make_nothing_of_are_counted_as_skipped(
    stack_factory: StackFactory,
) -> None:
    stack = await open_stack(stack_factory)
    orders = past_orders(stack, 3)
    url = stack.url("mapper", "/admin/api/integrations/fortnox/settings.json")
    async with stack.http.put(
        url,
        params={"shop": stack.shop},
        json={"settings": {"document_kind": "none"}, "version": 0},
    ) as response:
        assert response.status == 200, await response.text()
    status, body = await call(
        stack, "POST", "/admin/api/backfills.json", {**period(orders), "dry_run": False}
    )
    assert status == 202, body
    job = await finished(stack, body["backfill"]["id"])
    assert (job["status"], job["counts"]["skipped"], job["total"]) == ("finished", 3, 3)
    assert job["failures"][0]["error"]  # why, in the merchant's words
    assert references(stack) == Counter()


async def test_the_cli_dry_run_says_which_orders_fortnox_already_has(
    stack_factory: StackFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through one origin (the gateway, as the Ingress in production): the dry run in ingest,
    which asks the writer to look each order up in Fortnox by its reference."""
    stack = await open_stack(stack_factory)
    orders = past_orders(stack, 6)
    book_by_hand(stack, orders[:2])
    backends = {name: stack.url(name, "") for name in stack.apps}
    async with serve_gateway(free_socket(), backends) as url:
        args = cli_parser().parse_args(
            ["backfill", "start", "--shop", stack.shop, "--from", PAST.isoformat(),
             "--to", (PAST + timedelta(days=1)).isoformat(), "--wait", "60", "--url", url,
             "--json"]
        )  # fmt: skip
        assert await accounting.run(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["backfill"]["counts"]["would_create"] == 4
    assert printed["backfill"]["counts"]["would_match"] == 2
    assert printed["in_fortnox"] == sorted(str(o["id"]) for o in orders[:2])
    assert references(stack) == Counter({f"shopify-{o['id']}": 1 for o in orders[:2]})


async def test_a_dry_run_says_per_order_what_it_would_create_and_match(
    stack_factory: StackFactory,
) -> None:
    """Through the plain admin API: 5 past orders, 2 already in Fortnox (an earlier
    integration's invoices with their references): 3 would be created, 2 matched, each order
    named with its state (a matched one with the invoice's number); nothing is created."""
    stack = await open_stack(stack_factory)
    orders = past_orders(stack, 5)
    book_by_hand(stack, orders[:2])
    before = references(stack)
    status, body = await call(stack, "POST", "/admin/api/backfills.json", period(orders))
    assert status == 202, body
    plan = await finished(stack, body["backfill"]["id"])
    assert plan["status"] == "finished" and plan["total"] == plan["done"] == 5
    counts = {name: n for name, n in plan["counts"].items() if n}
    assert counts == {"would_create": 3, "would_match": 2}
    status, listed = await call(
        stack, "GET", f"/admin/api/backfills/orders.json?job_id={plan['id']}"
    )
    assert status == 200, listed
    states = {row["order_id"]: (row["status"], row["document"]) for row in listed["orders"]}
    tenant = stack.fortnox.tenant(stack.tenant_id)
    numbers = {
        str(i.fields.get("ExternalInvoiceReference1")): str(i.document_number)
        for i in tenant.invoices.values()
    }
    for order in orders[:2]:
        assert states[str(order["id"])] == ("would_match", numbers[f"shopify-{order['id']}"])
    for order in orders[2:]:
        assert states[str(order["id"])] == ("would_create", None)
    assert references(stack) == before  # nothing created
    made = await stack.pool.fetchval(
        "SELECT count(*) FROM fortnox_writer.documents WHERE shop = $1", stack.shop
    )
    assert made == 0


async def test_a_dry_run_looks_among_fortnox_orders_when_a_rule_makes_orders(
    stack_factory: StackFactory,
) -> None:
    """A shop whose rule makes Fortnox orders: the dry run looks each order up among invoices,
    then among Fortnox orders, and names what it found (an order as ``order <number>``)."""
    stack = await open_stack(stack_factory)
    async with stack.http.post(
        stack.url("mapper", "/admin/api/integrations/fortnox/mapping_rules.json"),
        params={"shop": stack.shop},
        json={"mapping_rule": {"name": "Fortnox orders", "actions": {"document_kind": "order"}}},
    ) as response:
        assert response.status == 201, await response.text()
    orders = past_orders(stack, 3)
    book_by_hand(stack, orders[:1])  # an invoice of the first
    tenant = stack.fortnox.tenant(stack.tenant_id)
    customer = create_customer(tenant, {"Name": "Tidigare kund"})
    fortnox_order = create_order(  # a Fortnox order of the second
        tenant,
        {
            "CustomerNumber": customer.customer_number,
            "ExternalInvoiceReference1": f"shopify-{orders[1]['id']}",
            "OrderRows": [{"Description": "Mugg", "OrderedQuantity": 1, "Price": 129}],
        },
    )
    status, body = await call(stack, "POST", "/admin/api/backfills.json", period(orders))
    assert status == 202, body
    plan = await finished(stack, body["backfill"]["id"])
    assert plan["status"] == "finished", plan
    status, listed = await call(
        stack, "GET", f"/admin/api/backfills/orders.json?job_id={plan['id']}"
    )
    assert status == 200, listed
    states = {row["order_id"]: (row["status"], row["document"]) for row in listed["orders"]}
    [invoice] = tenant.invoices.values()
    assert states[str(orders[0]["id"])] == ("would_match", str(invoice.document_number))
    assert states[str(orders[1]["id"])] == (
        "would_match",
        f"order {fortnox_order.document_number}",
    )
    assert states[str(orders[2]["id"])] == ("would_create", None)


async def test_a_summary_mode_shops_past_orders_land_in_their_own_days_summaries(
    stack_factory: StackFactory,
) -> None:
    """A backfill of a shop booking daily summaries: each past order becomes an entry of the
    summary of the day it was made (not of today), counted ``summarized``; closing those days
    makes one summary invoice per day whose total is its orders', and the reconciliation report
    of those days shows every order summarized, tied out."""
    stack = await stack_factory(
        services=("ingest", "mapper", "fortnox_writer"),
        fortnox=FortnoxSimulator(rate_limit=2500),
        shopify=ShopifySimulator(bucket_size=20_000, restore_rate=1_000),
        fortnox_rate_limit=2500,
        reconcile_interval_seconds=0,
        summary_close_interval_seconds=0,  # the days are closed below, once all are entries
    )
    await summary_mode(stack)
    moments = [PAST + timedelta(hours=h) for h in (0, 2, 4, 24, 26)]  # 1 and 2 June
    orders = []
    for moment in moments:
        order = order_payload(
            lines=LINES, created_at=moment, updated_at=moment, financial_status="pending"
        )
        stack.shopify.add_order(stack.shop, order)
        orders.append(order)
    window = {"from": PAST.isoformat(), "to": (PAST + timedelta(days=2)).isoformat()}
    status, body = await call(stack, "POST", "/admin/api/backfills.json", window)
    assert status == 202, body
    plan = await finished(stack, body["backfill"]["id"])
    assert plan["counts"]["would_create"] == 5  # summaries carry no order's reference
    status, body = await call(
        stack, "POST", "/admin/api/backfills.json", {**window, "dry_run": False}
    )
    assert status == 202, body
    job = await finished(stack, body["backfill"]["id"])
    assert (job["status"], job["counts"]["summarized"]) == ("finished", 5), job
    days = await stack.pool.fetch(
        "SELECT day, count(DISTINCT order_id) AS n FROM mapper.summary_entries"
        " WHERE shop = $1 AND kind = 'sales' GROUP BY day ORDER BY day",
        stack.shop,
    )
    assert [(str(r["day"]), r["n"]) for r in days] == [("2026-06-01", 3), ("2026-06-02", 2)]

    runtime = stack.apps["mapper"][STATE].require_runtime()
    closed = await close_due(runtime, {})
    assert [c.document_key.split(":summary:")[1] for c in closed] == [
        "2026-06-01:SEK:incl-SEVAT:sales",
        "2026-06-02:SEK:incl-SEVAT:sales",
    ]
    tenant = stack.fortnox.tenant(stack.tenant_id)

    def summaries() -> dict[str, Any]:
        return {
            str(i.fields.get("ExternalInvoiceReference1")): i
            for i in tenant.invoices.values()
            if str(i.fields.get("ExternalInvoiceReference1")).startswith("fb-summary-")
        }

    await stack.wait_for(lambda: len(summaries()) == 2, timeout=60)
    made = summaries()
    for day, members in (("2026-06-01", orders[:3]), ("2026-06-02", orders[3:])):
        invoice = made[f"fb-summary-{day}-SEK-incl-SEVAT-sales"]
        assert Decimal(invoice.total) == sum(
            (Decimal(o["total_price"]) for o in members), Decimal(0)
        )
    assert references(stack) == Counter({k: 1 for k in made})  # no invoice of a single order
    report = await report_of(stack, "2026-06-01", "2026-06-02")
    assert report["differences"] == [], report["differences"]
    assert all(row["summarized"] for row in report["orders"]) and len(report["orders"]) == 5


async def test_a_dry_run_without_fortnox_finishes_saying_what_it_could_not_look_up(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(
        services=("ingest", "mapper", "fortnox_writer"),
        fortnox_connected=False,
        reconcile_interval_seconds=0,
    )
    orders = past_orders(stack, 2)
    status, body = await call(stack, "POST", "/admin/api/backfills.json", period(orders))
    assert status == 202, body
    plan = await finished(stack, body["backfill"]["id"])
    assert plan["status"] == "finished" and plan["counts"]["would_create"] == 2, plan
    _, listed = await call(stack, "GET", f"/admin/api/backfills/orders.json?job_id={plan['id']}")
    assert all(row["error"].startswith("not looked up in Fortnox") for row in listed["orders"])
