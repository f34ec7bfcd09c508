"""The customer and article registers (mirrors) never make the writer create a duplicate, and
cost no look-up call: a new customer costs its create and the document, a returning one only
the document."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest

from fortbridge.localstack import migrate_all
from libs.common.messages import ArticleDraft, CustomerDraft
from libs.common.messaging import Topology
from services.fortnox_writer.article_register import ArticleRegister
from services.fortnox_writer.client import FortnoxClient
from services.fortnox_writer.customer_register import CustomerRegister
from services.fortnox_writer.leases import Leases
from services.fortnox_writer.ratelimit import RateLimiter
from simulators.fortnox import FortnoxSimulator
from simulators.fortnox.customers import create_customer
from tests.services.fortnox_writer.actions_support import (
    Order,
    done,
    invoice,
    writer_failures,
    writer_stack,
)
from tests.support.stack import Stack

pytestmark = pytest.mark.slow

SHOP = "registers.myshopify.com"


def customer(email: str) -> CustomerDraft:
    return CustomerDraft(
        match_key="email", match_value=email, fields={"Name": "Kund AB", "Email": email}
    )


# --- two replicas, one new customer -------------------------------------------------------------
@pytest.fixture
async def fortnox(
    database_url: str, pool: asyncpg.Pool
) -> AsyncIterator[tuple[FortnoxSimulator, str, str]]:
    await migrate_all(database_url)
    sim = FortnoxSimulator(rate_limit=None)
    sim.add_client("cid", "secret")
    tenant = str(3_000_000 + uuid.uuid4().int % 1_000_000)
    sim.add_tenant(tenant)
    async with sim.serve() as url:
        yield sim, tenant, url


def _client(
    http: aiohttp.ClientSession, pool: asyncpg.Pool, sim: FortnoxSimulator, tenant: str, url: str
) -> FortnoxClient:
    token = sim.issue_tokens("cid", tenant)["access_token"]

    async def bearer(refused: str | None) -> str:
        return str(token)

    return FortnoxClient(
        http=http,
        base_url=url,
        tenant_id=tenant,
        token=bearer,
        limiter=RateLimiter(pool, limit=1000, window=1.0, margin=0.0),
    )


async def test_two_replicas_creating_the_same_new_customer_make_one(
    pool: asyncpg.Pool, fortnox: tuple[FortnoxSimulator, str, str]
) -> None:
    sim, tenant, url = fortnox
    shop = f"two-{uuid.uuid4().hex[:6]}.myshopify.com"
    received = datetime.now(UTC)
    # Two replicas: their own registers and leases over the same tables.
    replicas = [CustomerRegister(pool, Leases(pool)) for _ in range(2)]
    async with aiohttp.ClientSession() as http:
        clients = [_client(http, pool, sim, tenant, url) for _ in range(2)]
        numbers = await asyncio.gather(
            *(
                replicas[i % 2].customer_number(
                    shop, clients[i % 2], customer("ny@example.com"), received
                )
                for i in range(6)
            )
        )
    assert len(set(numbers)) == 1
    made = [
        c
        for c in sim.tenant(tenant).customers.values()
        if c.fields.get("Email") == "ny@example.com"
    ]
    assert [c.customer_number for c in made] == [numbers[0]]
    posts = [r for r in sim.requests_for(tenant) if r.method == "POST" and r.path == "/3/customers"]
    assert len(posts) == 1


async def test_an_article_is_created_once_without_a_probe(
    pool: asyncpg.Pool, fortnox: tuple[FortnoxSimulator, str, str]
) -> None:
    sim, tenant, url = fortnox
    shop = f"art-{uuid.uuid4().hex[:6]}.myshopify.com"
    replicas = [ArticleRegister(pool, Leases(pool)) for _ in range(2)]
    draft = ArticleDraft(
        article_number="SKU-1", fields={"ArticleNumber": "SKU-1", "Description": "Sko"}
    )
    async with aiohttp.ClientSession() as http:
        clients = [_client(http, pool, sim, tenant, url) for _ in range(2)]
        await asyncio.gather(
            *(replicas[i % 2].ensure(shop, clients[i % 2], draft) for i in range(4))
        )
        await replicas[0].ensure(shop, clients[0], draft)  # known now: no call
    paths = [(r.method, r.path) for r in sim.requests_for(tenant)]
    assert paths == [("GET", "/3/articles"), ("POST", "/3/articles")]  # the list once, one create
    assert list(sim.tenant(tenant).articles) == ["SKU-1"]


async def test_a_customer_changed_before_the_last_read_is_not_read_again(
    pool: asyncpg.Pool, fortnox: tuple[FortnoxSimulator, str, str]
) -> None:
    """One read of changes serves every order received before it began."""
    sim, tenant, url = fortnox
    shop = f"share-{uuid.uuid4().hex[:6]}.myshopify.com"
    register = CustomerRegister(pool, Leases(pool))
    received = datetime.now(UTC) - timedelta(seconds=5)
    async with aiohttp.ClientSession() as http:
        client = _client(http, pool, sim, tenant, url)
        for n in range(4):
            await register.customer_number(shop, client, customer(f"k{n}@example.com"), received)
    reads = [r for r in sim.requests_for(tenant) if r.method == "GET" and r.path == "/3/customers"]
    posts = [r for r in sim.requests_for(tenant) if r.method == "POST" and r.path == "/3/customers"]
    assert (len(reads), len(posts)) == (1, 4)  # the register read once, then one create each


async def test_one_company_never_matches_another_companys_customer_or_article(
    pool: asyncpg.Pool, fortnox: tuple[FortnoxSimulator, str, str]
) -> None:
    """After a company switch, a number of the previous company is never used in the new one,
    even one a command still running in the previous company writes into the mirror late."""
    sim, old, url = fortnox
    new = str(3_000_000 + uuid.uuid4().int % 1_000_000)
    sim.add_tenant(new)
    shop = f"switch-{uuid.uuid4().hex[:6]}.myshopify.com"
    customers = CustomerRegister(pool, Leases(pool))
    articles = ArticleRegister(pool, Leases(pool))
    late = customer("sen@example.com")
    sku = ArticleDraft(
        article_number="SKU-OLD", fields={"ArticleNumber": "SKU-OLD", "Description": "Sko"}
    )
    async with aiohttp.ClientSession() as http:
        old_client, new_client = (_client(http, pool, sim, t, url) for t in (old, new))
        # The shop works in the new company: its mirrors are read (and one customer made).
        first = await customers.customer_number(
            shop, new_client, customer("forst@example.com"), datetime.now(UTC)
        )
        await articles.ensure_loaded(shop, new_client)
        # A command still running in the old company makes a customer and an article there
        # and writes them into the mirror afterwards.
        await customers._create(shop, old_client, late)
        await articles.ensure(shop, old_client, sku)
        # The next order of that customer and SKU in the new company: made there, not reused.
        number = await customers.customer_number(shop, new_client, late, datetime.now(UTC))
        await articles.ensure(shop, new_client, sku)
    made = sim.tenant(new).customers[number]
    assert made.fields.get("Email") == "sen@example.com" and number != first
    assert "SKU-OLD" in sim.tenant(new).articles


# --- through the writer ----------------------------------------------------------------------
@pytest.fixture
async def stack(amqp_url: str, database_url: str, broker_cleanup: Topology) -> AsyncIterator[Stack]:
    async with writer_stack(amqp_url, database_url, broker_cleanup.namespace) as stack:
        yield stack


def _calls(stack: Stack, since: int) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in stack.fortnox.requests_for(stack.tenant_id)[since:]]


async def test_customers_made_by_hand_or_deleted_in_fortnox_between_orders(stack: Stack) -> None:
    tenant = stack.fortnox.tenant(stack.tenant_id)
    first = Order(stack)
    await done(stack, first.create())  # reads the register, creates kund@example.com

    # Returning customer, known SKU-less rows: the invoice only.
    before = len(stack.fortnox.requests_for(stack.tenant_id))
    await done(stack, Order(stack).create())
    assert _calls(stack, before) == [("POST", "/3/invoices")]

    # A bookkeeper adds a customer in Fortnox by hand; then that customer's first order comes.
    by_hand = create_customer(tenant, {"Name": "Handgjord AB", "Email": "HAND@example.com"})
    order = Order(stack)
    command = order.create()
    command = command.model_copy(update={"customer": customer("hand@example.com")})
    before = len(stack.fortnox.requests_for(stack.tenant_id))
    row = await done(stack, command)
    assert invoice(stack, row["document_number"]).customer_number == by_hand.customer_number
    assert _calls(stack, before) == [("GET", "/3/customers"), ("POST", "/3/invoices")]
    emails = [str(c.fields.get("Email")).lower() for c in tenant.customers.values()]
    assert emails.count("hand@example.com") == 1

    # The customer is deleted in Fortnox: the next order re-creates it once.
    del tenant.customers[by_hand.customer_number]
    again = Order(stack).create().model_copy(update={"customer": customer("hand@example.com")})
    row = await done(stack, again, timeout=30)
    emails = [str(c.fields.get("Email")).lower() for c in tenant.customers.values()]
    assert emails.count("hand@example.com") == 1
    remade = tenant.customers[invoice(stack, row["document_number"]).customer_number]
    assert remade is not by_hand and remade.fields["Email"] == "hand@example.com"
    assert await writer_failures(stack) == []


async def test_a_new_customer_costs_its_create_and_the_document(stack: Stack) -> None:
    await done(stack, Order(stack).create())  # the register is read once, for the first order
    before = len(stack.fortnox.requests_for(stack.tenant_id))
    command = Order(stack).create().model_copy(update={"customer": customer("ny@example.com")})
    await done(stack, command)
    calls = _calls(stack, before)
    # The order reached the writer after the last read, so one read of changes, then the create.
    assert calls == [("GET", "/3/customers"), ("POST", "/3/customers"), ("POST", "/3/invoices")]
    [read] = [r for r in stack.fortnox.requests_for(stack.tenant_id)[before:] if r.method == "GET"]
    assert "lastmodified=" in read.query and "limit=500" in read.query
