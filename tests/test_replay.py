"""Failed jobs end to end: every kind of failure is one explained job, and replays fix them.

The whole stack runs against the simulators; failures are caused the way they happen in
production (a VAT rate missing in Fortnox, Fortnox answering 503, an order that cannot be
mapped, a message that crashes its consumer, a payment in a mode of payment the company lacks)
and fixed in the simulator before the replay.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aio_pika
import pytest

from libs.common import messaging
from libs.common.messaging import MAPPER_EVENTS, Consumer, Delivery, Publisher, Topology
from libs.common.messaging.publisher import SHOP_HEADER
from libs.common.service import STATE
from services.ingest.reconcile.runner import FINISHED, Reconciler
from services.mapper.store import save_shop_settings
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.services.fortnox_writer.actions_support import connect_all_scopes
from tests.support.settle import settled
from tests.support.stack import Stack, running_stack
from tests.test_reconciliation_report import PAYOUT_SCOPES

pytestmark = pytest.mark.slow

API = "/admin/api/integrations/fortnox"
SWEDISH_RATES = {Decimal(rate) for rate in ("25", "12", "6", "0")}


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(
        replay_rate=20.0,
        # The writer's own back-off between transient Fortnox failures, short for tests.
        fortnox_retry_base_seconds=0.1,
        fortnox_retry_max_seconds=0.5,
    )


def german_beer_order() -> dict[str, Any]:
    """An order with 19 % VAT, which the simulated Fortnox company has not set up."""
    return order_payload(lines=[LineSpec("Bier", "10.00", 3, "0.19", "BEER-DE")])


def unmappable_order() -> dict[str, Any]:
    order = order_payload()
    order["line_items"][0]["price"] = 199.0  # a float: money must be a decimal string
    return order


async def call(
    stack: Stack, method: str, path: str, *, json: Any = None, params: Any = None
) -> tuple[int, dict[str, Any]]:
    async with stack.http.request(
        method, stack.url("replayer", API + path), json=json, params=params
    ) as response:
        return response.status, dict(await response.json())


async def jobs_of(stack: Stack, **params: str) -> list[dict[str, Any]]:
    status, body = await call(
        stack, "GET", "/failed_jobs.json", params={"shop": stack.shop, **params}
    )
    assert status == 200, body
    return list(body["failed_jobs"])


async def wait_for_jobs(stack: Stack, count: int, timeout: float = 30.0, **params: str) -> None:
    async def enough() -> bool:
        return len(await jobs_of(stack, **params)) >= count

    await stack.wait_for(enough, timeout=timeout)


def job_for(jobs: list[dict[str, Any]], order: dict[str, Any]) -> dict[str, Any]:
    [job] = [job for job in jobs if job["object"]["id"] == str(order["id"])]
    return job


async def test_each_kind_of_failure_is_one_failed_job_with_its_class_and_explanation(
    stack: Stack,
) -> None:
    beer = german_beer_order()
    await stack.send_order(beer)
    await wait_for_jobs(stack, 1)

    fault = stack.fortnox.faults.add(
        method="POST", path_regex=r"^/3/invoices$", kind="status", status=503, times=None
    )
    flaky = order_payload()
    await stack.send_order(flaky)
    await wait_for_jobs(stack, 2)
    stack.fortnox.faults.remove(fault.id)

    broken = unmappable_order()
    assert await stack.send_order(broken) == [200]
    await wait_for_jobs(stack, 3)
    await settled(stack)  # every retry is over: a second job per message would be there now
    jobs = await jobs_of(stack)
    assert len(jobs) == 3  # one job per failed message, no more
    assert all(job["failures"] == 1 and job["status"] == "open" for job in jobs)

    vat = job_for(jobs, beer)
    assert vat["error_class"] == "permanent"
    assert vat["service"] == "fortnox_writer"
    assert vat["queue"] == f"{stack.settings.amqp_namespace}.fortnox_writer.commands"
    assert vat["routing_key"] == "fortnox.command.create_document"
    assert vat["fortnox_code"] == "2000728" and "moms" in vat["fortnox_message"].lower()
    assert vat["cause"]["title"] == "VAT rate 19 % missing in Fortnox"
    assert "VAT rate" in vat["explanation"] and "19 %" in vat["fix"]
    assert vat["object"]["name"] == beer["name"] and vat["shop"] == stack.shop
    assert vat["trace_id"] and vat["message"]["document_key"]

    transient = job_for(jobs, flaky)
    assert transient["error_class"] == "transient_exhausted"
    assert transient["attempts"] == stack.settings.amqp_max_attempts
    assert transient["cause"]["key"].startswith("transient_exhausted:fortnox_writer:")
    assert "stopped retrying" in transient["explanation"]

    mapper = job_for(jobs, broken)
    assert mapper["error_class"] == "permanent" and mapper["service"] == "mapper"
    assert mapper["error_code"] == "bad_money" and mapper["fortnox_code"] is None
    assert "decimal string" in mapper["explanation"]
    assert mapper["queue"] == f"{stack.settings.amqp_namespace}.mapper.events"

    # Fortnox answers again: the exhausted job replays into an invoice.
    status, _ = await call(stack, "PUT", f"/failed_jobs/{transient['id']}/retry.json")
    assert status == 200
    await stack.wait_for(lambda: len(stack.invoices_for(flaky["id"])) == 1)


async def test_bulk_retry_by_cause_requeues_exactly_the_matching_jobs_after_the_fix(
    stack: Stack,
) -> None:
    beers = [german_beer_order() for _ in range(3)]
    broken = unmappable_order()
    for order in [*beers, broken]:
        await stack.send_order(order)
    await wait_for_jobs(stack, 4)
    status, body = await call(stack, "GET", "/failed_jobs/causes.json", params={"shop": stack.shop})
    assert status == 200
    causes = {cause["title"]: cause for cause in body["causes"]}
    vat = causes["VAT rate 19 % missing in Fortnox"]
    assert (vat["jobs"], vat["shops"], vat["open"]) == (3, 1, 3)

    # A replay before the fix fails again and updates the same job.
    first = job_for(await jobs_of(stack), beers[0])
    assert (await call(stack, "PUT", f"/failed_jobs/{first['id']}/retry.json"))[0] == 200

    async def failed_twice() -> bool:
        job = job_for(await jobs_of(stack), beers[0])
        return bool(job["failures"] == 2 and job["status"] == "open")

    await stack.wait_for(failed_twice)
    assert len(await jobs_of(stack)) == 4

    stack.fortnox.set_vat_rates(stack.tenant_id, SWEDISH_RATES | {Decimal("19")})
    status, bulk = await call(
        stack, "POST", "/retry.json", json={"shop": stack.shop, "cause": vat["cause"]}
    )
    assert status == 202, bulk
    assert bulk["queued"] == 3 and bulk["batch_id"]
    await stack.wait_for(lambda: all(len(stack.invoices_for(o["id"])) == 1 for o in beers))
    assert stack.invoices_for(broken["id"]) == []
    batch = await jobs_of(stack, batch_id=bulk["batch_id"])
    assert sorted(job["object"]["id"] for job in batch) == sorted(str(o["id"]) for o in beers)
    assert {job["status"] for job in batch} == {"retrying"}
    assert job_for(await jobs_of(stack), broken)["status"] == "open"
    status, log = await call(stack, "GET", "/failed_jobs/audit_log.json", params={"limit": 100})
    [entry] = [e for e in log["audit_log"] if e["batch_id"] == bulk["batch_id"]]
    assert entry["action"] == "bulk_retry" and entry["job_count"] == 3
    assert entry["actor"] == "operator" and entry["filter"]["cause"] == vat["cause"]


async def test_replaying_one_job_twice_at_once_makes_one_document(stack: Stack) -> None:
    beer = german_beer_order()
    await stack.send_order(beer)
    await wait_for_jobs(stack, 1)
    [job] = await jobs_of(stack)
    stack.fortnox.set_vat_rates(stack.tenant_id, SWEDISH_RATES | {Decimal("19")})
    path = f"/failed_jobs/{job['id']}/retry.json"
    outcomes = await asyncio.gather(call(stack, "PUT", path), call(stack, "PUT", path))
    assert sorted(status for status, _ in outcomes) == [200, 409]
    await stack.wait_for(lambda: len(stack.invoices_for(beer["id"])) == 1)
    await settled(stack)  # both replays are handled: a second invoice would be there now
    assert len(stack.invoices_for(beer["id"])) == 1
    [job] = await jobs_of(stack)
    assert job["retries"] == 1 and job["status"] == "retrying"


async def test_discard_needs_a_reason_and_the_audit_log_says_who_did_what(stack: Stack) -> None:
    orders = [german_beer_order() for _ in range(3)]
    for order in orders:
        await stack.send_order(order)
    await wait_for_jobs(stack, 3)
    jobs = await jobs_of(stack)
    target = jobs[0]["id"]

    assert (await call(stack, "POST", f"/failed_jobs/{target}/discard.json", json={}))[0] == 400
    status, body = await call(
        stack, "POST", f"/failed_jobs/{target}/discard.json", json={"reason": "booked by hand"}
    )
    assert status == 200
    assert body["failed_job"]["status"] == "discarded"
    assert body["failed_job"]["status_reason"] == "booked by hand"
    assert (await call(stack, "PUT", f"/failed_jobs/{target}/retry.json"))[0] == 409
    missing = f"/failed_jobs/{uuid.uuid4()}/discard.json"
    assert (await call(stack, "POST", missing, json={"reason": "x"}))[0] == 404
    # A bulk retry needs a filter; the discarded job is not re-queued by one.
    assert (await call(stack, "POST", "/retry.json", json={}))[0] == 400
    status, bulk = await call(
        stack, "POST", "/retry.json", json={"shop": stack.shop, "dry_run": True}
    )
    assert (status, bulk["matching"], bulk["queued"]) == (200, 2, 0)

    status, log = await call(stack, "GET", "/failed_jobs/audit_log.json", params={"job_id": target})
    assert status == 200
    [entry] = log["audit_log"]
    assert (entry["action"], entry["actor"], entry["reason"]) == (
        "discard",
        "operator",
        "booked by hand",
    )
    status, one = await call(stack, "GET", f"/failed_jobs/{target}.json")
    assert status == 200 and one["failed_job"]["status_changed_by"] == "operator"

    # Cursor pages over the API: every job once, in a stable order.
    seen: list[str] = []
    params = {"shop": stack.shop, "limit": "1"}
    while True:
        status, page = await call(stack, "GET", "/failed_jobs.json", params=params)
        assert status == 200
        seen.extend(job["id"] for job in page["failed_jobs"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert sorted(seen) == sorted(job["id"] for job in jobs)
    bad = {"cursor": "garbage"}
    assert (await call(stack, "GET", "/failed_jobs.json", params=bad))[0] == 400
    status, only = await call(
        stack, "GET", "/failed_jobs.json", params={"shop": stack.shop, "status": "discarded"}
    )
    assert [job["id"] for job in only["failed_jobs"]] == [target]


async def test_admin_token_guards_the_replay_endpoints(
    amqp_url: str, database_url: str, broker_cleanup: Topology
) -> None:
    async with running_stack(
        amqp_url=amqp_url,
        database_url=database_url,
        namespace=broker_cleanup.namespace,
        services=("replayer",),
        admin_api_token="op-token",
    ) as stack:
        assert (await call(stack, "GET", "/failed_jobs.json"))[0] == 401
        assert (await call(stack, "POST", "/retry.json", json={"all": True}))[0] == 401
        async with stack.http.get(
            stack.url("replayer", f"{API}/failed_jobs.json"),
            headers={"Authorization": "Bearer op-token"},
        ) as response:
            assert response.status == 200


@pytest.fixture
async def replayer_only(
    amqp_url: str, database_url: str, broker_cleanup: Topology
) -> AsyncIterator[Stack]:
    """Only the replayer runs: the tests below play the crashing consumers themselves."""
    async with running_stack(
        amqp_url=amqp_url,
        database_url=database_url,
        namespace=broker_cleanup.namespace,
        services=("replayer",),
    ) as stack:
        yield stack


async def publish(stack: Stack, routing_key: str, body: bytes, **properties: Any) -> str:
    message_id = uuid.uuid4().hex
    connection = await aio_pika.connect(stack.settings.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.get_exchange(f"{stack.settings.amqp_namespace}.events")
        await exchange.publish(
            aio_pika.Message(
                body,
                message_id=message_id,
                headers={SHOP_HEADER: stack.shop},
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                **properties,
            ),
            routing_key=routing_key,
        )
    return message_id


async def test_poison_message_stops_at_the_delivery_limit_and_becomes_a_failed_job(
    replayer_only: Stack,
) -> None:
    stack = replayer_only
    queue_name = f"{stack.settings.amqp_namespace}.fortnox_writer.commands"
    message_id = await publish(stack, "fortnox.command.create_document", b'{"poison": true}')
    deliveries = 0
    connection = await aio_pika.connect(stack.settings.amqp_url)
    async with connection:
        for _ in range(100):
            if await jobs_of(stack):
                break
            # A consumer that dies holding the message: it never acks, its channel goes away.
            channel = await connection.channel()
            queue = await channel.get_queue(queue_name)
            message = await queue.get(no_ack=False, fail=False)
            deliveries += message is not None
            await channel.close()
            await asyncio.sleep(0.05)
        [job] = await jobs_of(stack)
        check = await connection.channel()
        assert (await check.get_queue(queue_name)).declaration_result.message_count == 0
    limit = stack.settings.amqp_delivery_limit
    assert limit <= deliveries <= limit + 1  # stopped at the limit instead of looping
    assert job["error_class"] == "delivery_limit"
    assert job["queue"] == queue_name and job["service"] == "fortnox_writer"
    assert job["message_id"] == message_id and job["message"] == {"poison": True}
    assert job["cause"]["key"] == "delivery_limit:fortnox_writer"
    assert job["routing_key"] == "fortnox.command.create_document"
    assert "delivered too many times" in job["explanation"] and job["fix"]


async def test_handler_crashing_every_time_ends_as_one_failed_job(replayer_only: Stack) -> None:
    stack = replayer_only
    settings = stack.settings
    calls = 0

    async def crash(_delivery: Delivery) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("bug: cannot handle this message")

    connection = await messaging.connect(settings.amqp_url, name=f"{settings.amqp_namespace}.t")
    topology = Topology(
        namespace=settings.amqp_namespace,
        delivery_limit=settings.amqp_delivery_limit,
        retry_delays=settings.amqp_retry_delays,
    )
    publisher = Publisher(connection, topology.events_exchange)
    await publisher.start()
    consumer = Consumer(
        connection=connection,
        topology=topology,
        queue=MAPPER_EVENTS,
        handler=crash,
        publisher=publisher,
        service="mapper",
        prefetch=1,
        max_attempts=settings.amqp_max_attempts,
    )
    await consumer.start()
    try:
        await publish(stack, "shopify.orders.create", b'{"shop": "x"}')
        await wait_for_jobs(stack, 1, timeout=20)
        # The message is nowhere but in its failed job (the test's own mapper consumer's
        # queues included): no more attempts can come.
        await settled(stack, services=("mapper",))
    finally:
        await consumer.stop()
        await publisher.close()
        await connection.close()
    assert calls == settings.amqp_max_attempts  # then it stopped: no loop
    [job] = await jobs_of(stack)
    assert job["error_class"] == "unexpected" and job["error_code"] == "RuntimeError"
    assert job["attempts"] == settings.amqp_max_attempts
    assert job["routing_key"] == "shopify.orders.create"
    assert job["cause"]["key"] == "unexpected:mapper:RuntimeError"


async def test_expired_message_becomes_a_failed_job(replayer_only: Stack) -> None:
    stack = replayer_only
    await publish(stack, "fortnox.result.synced", b"{}", expiration=0.05)
    await wait_for_jobs(stack, 1, service="timeline")
    await settled(stack)  # every copy of the message has expired and become its job
    jobs = await jobs_of(stack)
    # One job per queue the message was routed to (each copy expired on its own).
    assert len({job["queue"] for job in jobs}) == len(jobs)
    [job] = [job for job in jobs if job["service"] == "timeline"]
    assert job["error_class"] == "expired" and job["cause"]["key"] == "expired:timeline"


async def test_a_payment_in_a_mode_fortnox_lacks_is_a_failed_job_until_the_mode_exists(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(replay_rate=20.0)
    tenant = stack.fortnox.tenant(stack.tenant_id)
    paypal = tenant.modes_of_payment.pop("PAYPAL")  # the company never set up PAYPAL
    order = order_payload(gateway="paypal")
    await stack.send_order(order)
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1, 30)
    await stack.send_webhook("orders/paid", order)  # the payment is registered on orders/paid
    await wait_for_jobs(stack, 1)
    [job] = await jobs_of(stack)
    assert job["object"]["id"] == str(order["id"])
    assert "mode of payment" in job["explanation"], job
    assert "mode-of-payment-*" in job["explanation"]
    assert not tenant.payments

    tenant.modes_of_payment["PAYPAL"] = paypal  # the merchant adds it in Fortnox
    status, body = await call(stack, "PUT", f"/failed_jobs/{job['id']}/retry.json")
    assert status in (200, 202), body
    await stack.wait_for(lambda: len(tenant.payments) == 1, 30)
    [payment] = tenant.payments.values()
    assert payment.fields["ModeOfPayment"] == "PAYPAL"


async def test_a_payout_to_an_account_fortnox_lacks_is_a_failed_job_until_the_account_exists(
    stack_factory: StackFactory,
) -> None:
    """The payout voucher path, as the payment's above: Fortnox refuses a voucher row on an
    account the chart lacks (2000423); the failed job names the account and its pre-flight
    finding, and a replay after the merchant adds the account books the voucher once."""
    stack = await stack_factory(replay_rate=20.0, reconcile_interval_seconds=0)
    await connect_all_scopes(stack, PAYOUT_SCOPES)
    async with stack.http.put(
        stack.url("mapper", f"{API}/settings.json"),
        json={"settings": {"payouts": {"enabled": True}}, "version": 0},
        params={"shop": stack.shop},
    ) as response:
        assert response.status == 200, await response.text()
    tenant = stack.fortnox.tenant(stack.tenant_id)
    fees = tenant.accounts.pop(6064)  # the company has no account for Shopify's fees
    earlier = datetime.now(UTC) - timedelta(days=2)
    stack.shopify.add_order(stack.shop, order_payload(5_330_000_000_000, created_at=earlier))
    stack.shopify.make_payout(stack.shop)
    runtime = stack.apps["ingest"][STATE].require_runtime()
    assert await Reconciler(runtime).reconcile_shop(stack.shop) == FINISHED
    await wait_for_jobs(stack, 1)
    [job] = await jobs_of(stack)
    assert job["cause"]["title"] == "Account 6064 missing in Fortnox", job
    assert "finding account-6064 " in job["explanation"]
    assert "refused the voucher" in job["explanation"]
    assert not tenant.vouchers

    tenant.accounts[6064] = fees  # the merchant adds the account in Fortnox
    status, body = await call(stack, "PUT", f"/failed_jobs/{job['id']}/retry.json")
    assert status in (200, 202), body
    await stack.wait_for(lambda: len(tenant.vouchers) == 1, 30)
    [voucher] = tenant.vouchers.values()
    assert any(row["Account"] == 6064 and row["Debit"] > 0 for row in voucher.rows)


async def test_terms_of_payment_fortnox_lacks_are_a_failed_job_until_they_exist(
    stack_factory: StackFactory,
) -> None:
    """The shop's documents carry TermsOfPayment 45, which the company has not set up: the
    invoice is refused (nothing made), the failed job names the terms and the pre-flight
    finding, and a replay after the merchant adds them makes the invoice once."""
    stack = await stack_factory(replay_rate=20.0)
    async with stack.pool.acquire() as conn:
        await save_shop_settings(conn, stack.shop, {"document_fields": {"TermsOfPayment": "45"}})
    tenant = stack.fortnox.tenant(stack.tenant_id)
    assert "45" not in tenant.terms_of_payment
    order = order_payload()
    await stack.send_order(order)
    await wait_for_jobs(stack, 1)
    [job] = await jobs_of(stack)
    assert job["object"]["id"] == str(order["id"])
    assert job["cause"]["title"] == "Terms of payment 45 missing in Fortnox", job
    assert "finding terms-of-payment-45 " in job["explanation"]
    assert stack.invoices_for(order["id"]) == []

    tenant.terms_of_payment["45"] = "45 dagar netto"  # the merchant adds them in Fortnox
    status, body = await call(stack, "PUT", f"/failed_jobs/{job['id']}/retry.json")
    assert status in (200, 202), body
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1, 30)
    [invoice] = stack.invoices_for(order["id"])
    assert invoice.get("TermsOfPayment") == "45"
