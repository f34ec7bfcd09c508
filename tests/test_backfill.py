"""Backfill of past orders through the stack (ingest, mapper, writer; both simulators): a dry
run counts, the run creates what Fortnox lacks, matches what it has by reference, duplicates
nothing, is marked ``origin: backfill``, and resumes after its runner stops midway."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fortbridge import accounting
from fortbridge.cli import _parser as cli_parser
from fortbridge.gateway import free_socket, serve_gateway
from libs.common.service import STATE
from services.ingest.backfill.routes import RUNNER
from services.ingest.backfill.runner import BackfillRunner
from simulators.fortnox import FortnoxSimulator
from simulators.fortnox.customers import create_customer
from simulators.fortnox.invoices import create_invoice
from simulators.shopify import ShopifySimulator
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack

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
    assert plan["counts"]["would_create"] == total
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


async def test_orders_older_than_60_days_need_read_all_orders(
    stack_factory: StackFactory,
) -> None:
    stack = await open_stack(stack_factory)
    shop = stack.shopify.shop(stack.shop)
    old = order_payload(lines=LINES, created_at=datetime.now(UTC) - timedelta(days=90))
    new = order_payload(lines=LINES, created_at=datetime.now(UTC) - timedelta(days=5))
    stack.shopify.add_order(stack.shop, old)
    stack.shopify.add_order(stack.shop, new)
    window = {
        "from": (datetime.now(UTC) - timedelta(days=120)).isoformat(),
        "to": datetime.now(UTC).isoformat(),
    }
    shop.read_all_orders = False
    _, body = await call(stack, "POST", "/admin/api/backfills.json", window)
    assert (await finished(stack, body["backfill"]["id"]))["total"] == 1
    shop.read_all_orders = True
    _, body = await call(stack, "POST", "/admin/api/backfills.json", window)
    assert (await finished(stack, body["backfill"]["id"]))["total"] == 2


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
    the report of the same days in the writer, which reads Fortnox."""
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
    assert printed["backfill"]["counts"]["would_create"] == 6
    assert printed["in_fortnox"] == sorted(str(o["id"]) for o in orders[:2])
    assert references(stack) == Counter({f"shopify-{o['id']}": 1 for o in orders[:2]})
