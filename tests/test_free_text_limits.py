"""Every free-text field of the admin API has a limit: an oversized value is refused, naming it.

Issue 12: the failed-job discard reason took 1 MB. Each case below sends one oversized value to
the running service that owns the route and expects 400 (query string) or 422 (JSON body) with
the field's name in the answer, and that nothing was stored. The limits: libs/common/limits.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from libs.common.access import ApiTokenStore
from libs.common.limits import MAX_NAME, MAX_NOTE, MAX_QUERY_VALUE, MAX_REASON
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack

OPERATOR = "operator-token-for-limits"
FORTNOX = "/admin/api/integrations/fortnox"


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(admin_api_token=OPERATOR)


async def send(
    stack: Stack, method: str, service: str, path: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {OPERATOR}"}
    params = {"shop": stack.shop, **kwargs.pop("params", {})}
    async with stack.http.request(
        method, stack.url(service, path), params=params, headers=headers, **kwargs
    ) as response:
        return response.status, dict(await response.json(content_type=None))


async def test_oversized_free_text_is_refused_naming_the_field(stack: Stack) -> None:
    failing = order_payload(lines=[LineSpec("Bier", "10.00", 1, "0.19", "BEER-DE")])
    await stack.send_order(failing)

    async def has_job() -> bool:
        return bool(await stack.failed_jobs())

    await stack.wait_for(has_job, timeout=30)
    [job] = await stack.failed_jobs()
    synced = order_payload()
    await stack.send_order(synced)
    await stack.wait_for(lambda: bool(stack.invoices_for(synced["id"])), timeout=30)
    long_name, long_query = "x" * (MAX_NAME + 1), "x" * (MAX_QUERY_VALUE + 1)

    cases: list[tuple[str, str, str, str, dict[str, Any], int]] = [
        # (field, method, service, path, request, expected status)
        (
            "reason",
            "POST",
            "replayer",
            f"{FORTNOX}/failed_jobs/{job['id']}/discard.json",
            {"json": {"reason": "r" * (MAX_REASON + 1)}},
            422,
        ),
        ("cause", "POST", "replayer", f"{FORTNOX}/retry.json", {"json": {"cause": long_name}}, 400),
        (
            "error_code",
            "GET",
            "replayer",
            f"{FORTNOX}/failed_jobs.json",
            {"params": {"error_code": long_name}},
            400,
        ),
        (
            "actor",
            "GET",
            "replayer",
            f"{FORTNOX}/failed_jobs/audit_log.json",
            {"params": {"actor": long_query}},
            400,
        ),
        (
            "timeline_event.message",
            "POST",
            "timeline",
            f"/admin/api/orders/{synced['id']}/timeline_events.json",
            {"json": {"timeline_event": {"message": "n" * (MAX_NOTE + 1)}}},
            422,
        ),
        (
            "mapping_rule.name",
            "POST",
            "mapper",
            f"{FORTNOX}/mapping_rules.json",
            {"json": {"mapping_rule": {"name": long_name, "actions": {"bookkeep": False}}}},
            422,
        ),
        (
            "order_id",
            "POST",
            "mapper",
            f"{FORTNOX}/mapping_rules/preview.json",
            {"json": {"order_id": "9" * 25}},
            422,
        ),
        (
            "ids",
            "POST",
            "ingest",
            "/admin/api/products/fortnox_sync.json",
            {"json": {"ids": ["1" * 25]}},
            422,
        ),
        (
            "features",
            "POST",
            "fortnox_writer",
            "/auth/fortnox/start.json",
            {"json": {"features": [long_name]}},
            422,
        ),
        (
            "command_ids",
            "POST",
            "fortnox_writer",
            f"{FORTNOX}/connection/release.json",
            {"json": {"action": "release", "command_ids": [long_name]}},
            422,
        ),
        (
            "note",
            "GET",
            "ingest",
            f"/admin/api/orders/{synced['id']}/fortnox_invoice_status.json",
            {"params": {"note": long_query}},
            400,
        ),
        (
            "job_id",
            "GET",
            "ingest",
            "/admin/api/customers/fortnox_sync_status.json",
            {"params": {"job_id": long_query}},
            400,
        ),
    ]
    for field, method, service, path, request, expected in cases:
        status, body = await send(stack, method, service, path, **request)
        assert status == expected, (field, status, body)
        assert field in body.get("error", "") or body.get("field") == field, (field, body)

    # Nothing was stored: the job is still open, no note, no rule, no sync job, no ticket.
    assert [j["status"] for j in await stack.failed_jobs()] == ["open"]
    # (The run's tests share a database: count this stack's shop only.)
    async with stack.pool.acquire() as conn:
        assert not await conn.fetchval(
            "SELECT count(*) FROM timeline.events WHERE shop = $1 AND kind = 'note'", stack.shop
        )
        assert not await conn.fetchval(
            "SELECT count(*) FROM ingest.sync_jobs WHERE shop = $1", stack.shop
        )
        assert not await conn.fetchval(
            "SELECT count(*) FROM fortnox_writer.connect_tickets"
            " WHERE shop = $1 AND principal = 'operator'",
            stack.shop,
        )
    _, rules = await send(stack, "GET", "mapper", f"{FORTNOX}/mapping_rules.json")
    assert rules["mapping_rules"] == []

    # Within the limits, the same calls work.
    status, _ = await send(
        stack,
        "POST",
        "replayer",
        f"{FORTNOX}/failed_jobs/{job['id']}/discard.json",
        json={"reason": "r" * MAX_REASON},
    )
    assert status == 200


async def test_an_api_token_label_has_a_limit(stack: Stack) -> None:
    store = ApiTokenStore(stack.pool)
    with pytest.raises(ValueError, match="label: at most"):
        await store.create(stack.shop, "read_orders", label="l" * (MAX_NAME + 1))
    assert (await store.create(stack.shop, "read_orders", label="l" * MAX_NAME)).token
