"""FortnoxClient's reads tried again (read_attempts), for the jobs that read Fortnox in process
(the reconciliation report, the preflight check): a 429 or 5xx on a GET is not the end of a
report, while a write is never repeated by the client. Against the Fortnox simulator's faults."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import asyncpg
import pytest

from libs.common.errors import TransientError
from services.fortnox_writer.client import FortnoxClient
from services.fortnox_writer.ratelimit import RateLimiter
from simulators.fortnox import FortnoxSimulator
from tests.services.fortnox_writer.test_registers import fortnox

__all__ = ["fortnox"]  # the fixture, shared with test_registers.py

Factory = Callable[..., FortnoxClient]
WINDOW = 1.0  # the test limiter's window: what a 429 holds the tenant back


@pytest.fixture
async def client_factory(
    fortnox: tuple[FortnoxSimulator, str, str], pool: asyncpg.Pool
) -> AsyncIterator[Factory]:
    sim, tenant, url = fortnox
    token = str(sim.issue_tokens("cid", tenant)["access_token"])

    async def bearer(refused: str | None) -> str:
        return token

    async with aiohttp.ClientSession() as http:

        def make(read_attempts: int = 1) -> FortnoxClient:
            return FortnoxClient(
                http=http,
                base_url=url,
                tenant_id=tenant,
                token=bearer,
                limiter=RateLimiter(pool, limit=1000, window=WINDOW, margin=0.0),
                read_attempts=read_attempts,
            )

        yield make


def seen(sim: FortnoxSimulator, tenant: str, method: str) -> list[int]:
    return [r.status for r in sim.requests_for(tenant) if r.method == method]


async def test_a_read_answered_5xx_is_tried_again(
    fortnox: tuple[FortnoxSimulator, str, str], client_factory: Factory
) -> None:
    sim, tenant, _ = fortnox
    sim.faults.add(method="GET", path_regex="^/3/invoices", status=503, times=2)
    client = client_factory(read_attempts=3)
    answer = await client.request("GET", "/3/invoices")
    assert "Invoices" in answer
    assert seen(sim, tenant, "GET") == [503, 503, 200]


async def test_a_read_answered_429_waits_for_the_limiters_window(
    fortnox: tuple[FortnoxSimulator, str, str], client_factory: Factory
) -> None:
    sim, tenant, _ = fortnox
    sim.faults.add(method="GET", path_regex="^/3/invoices", status=429, times=1)
    client = client_factory(read_attempts=2)
    started = time.monotonic()
    assert "Invoices" in await client.request("GET", "/3/invoices")
    assert time.monotonic() - started >= WINDOW * 0.9
    assert seen(sim, tenant, "GET") == [429, 200]


async def test_by_default_a_read_is_tried_once(
    fortnox: tuple[FortnoxSimulator, str, str], client_factory: Factory
) -> None:
    sim, tenant, _ = fortnox
    sim.faults.add(method="GET", path_regex="^/3/invoices", status=503, times=1)
    with pytest.raises(TransientError):
        await client_factory().request("GET", "/3/invoices")
    assert seen(sim, tenant, "GET") == [503]


async def test_a_write_is_never_repeated_by_the_client(
    fortnox: tuple[FortnoxSimulator, str, str], client_factory: Factory
) -> None:
    sim, tenant, _ = fortnox
    sim.faults.add(method="POST", path_regex="^/3/customers", status=503, times=1)
    client = client_factory(read_attempts=5)
    with pytest.raises(TransientError):
        await client.request("POST", "/3/customers", body={"Customer": {"Name": "Kund AB"}})
    assert seen(sim, tenant, "POST") == [503]
