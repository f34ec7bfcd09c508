"""Helpers of the writer action tests: a stack with the writer, commands, waits and look-ups."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aio_pika
import aio_pika.abc
import asyncpg
import pytest

from fortbridge.localstack import REDIRECT_URI
from libs.common.crypto import TokenCipher
from libs.common.messages import (
    CustomerDraft,
    DocumentDraft,
    FortnoxCommand,
    InvoiceRowDraft,
    PaymentDraft,
    SourceRef,
)
from libs.common.messaging import Topology
from libs.common.service import STATE
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.switching import connect_with_code
from simulators.fortnox._state import Invoice, Payment
from tests.support.stack import Stack, running_stack

# The faults every action is tried under: Fortnox commits and the connection drops before the
# answer, or it answers after the writer's timeout (3 s in tests) and commits late (4 s).
FAULTS = [
    pytest.param({"kind": "drop_after_commit"}, id="drop_after_commit"),
    pytest.param({"kind": "timeout", "delay": 4.0}, id="timeout"),
]


async def writer_failures(stack: Stack) -> list[dict[str, object]]:
    return [job for job in await stack.failed_jobs() if job["service"] == "fortnox_writer"]


SERVICES = ("fortnox_writer", "timeline", "replayer")
EMAIL = "kund@example.com"
Row = tuple[str, str, str, str]  # description, quantity, unit price, VAT %
SOCKS: Sequence[Row] = (("Sockor", "2", "100.00", "25"),)
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@contextlib.asynccontextmanager
async def writer_stack(amqp_url: str, database_url: str, namespace: str) -> AsyncIterator[Stack]:
    async with running_stack(
        amqp_url=amqp_url, database_url=database_url, namespace=namespace, services=SERVICES
    ) as stack:
        await connect_all_scopes(stack)
        yield stack


async def connect_all_scopes(
    stack: Stack, scope: str = "invoice order payment customer article companyinformation"
) -> None:
    """Reconnect the shop with the order and payment scopes too (the stack asks for fewer)."""
    fortnox_url = stack.settings.fortnox_api_url
    params = {
        "client_id": stack.settings.fortnox_client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": uuid.uuid4().hex,
        "access_type": "offline",
        "response_type": "code",
        "tenant_id": stack.tenant_id,
    }
    async with stack.http.get(
        f"{fortnox_url}/oauth-v1/auth", params=params, allow_redirects=False
    ) as response:
        location = response.headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    cipher = TokenCipher(stack.settings.token_encryption_keys.get_secret_value())
    store = ConnectionStore(stack.pool, cipher, stack.http, stack.settings)
    await connect_with_code(
        store, stack.http, stack.settings, shop=stack.shop, code=code, redirect_uri=REDIRECT_URI
    )


def rows(spec: Sequence[Row]) -> list[InvoiceRowDraft]:
    return [
        InvoiceRowDraft(
            article_number=None,
            description=description,
            quantity=Decimal(quantity),
            price=Decimal(price),
            vat=Decimal(vat),
        )
        for description, quantity, price, vat in spec
    ]


@dataclass
class Order:
    """Commands about one Shopify order, as the mapper would send them."""

    stack: Stack
    id: str = field(default_factory=lambda: str(5_000_000_000_000 + uuid.uuid4().int % 10**12))
    currency: str = "SEK"
    kind: str = "invoice"

    @property
    def key(self) -> str:
        return f"{self.stack.shop}:order:{self.id}:{self.kind}"

    @property
    def reference(self) -> str:
        return f"shopify-{self.id}"

    def draft(self, spec: Sequence[Row] = SOCKS, **changes: Any) -> DocumentDraft:
        values: dict[str, Any] = {
            "kind": self.kind,
            "external_reference": self.reference,
            "your_order_number": f"#{self.id[-4:]}",
            "currency": self.currency,
            "vat_included": False,
            "document_date": "2026-03-01",
            "rows": rows(spec),
            **changes,
        }
        return DocumentDraft(**values)

    def command(self, action: str, key: str, **values: Any) -> FortnoxCommand:
        source = values.pop("source", None) or SourceRef(type="order", id=self.id, updated_at=T0)
        return FortnoxCommand(
            shop=self.stack.shop,
            command_id=uuid.uuid4().hex,
            action=action,  # type: ignore[arg-type]
            document_key=key,
            source=source,
            **values,
        )

    def create(self, spec: Sequence[Row] = SOCKS, **draft: Any) -> FortnoxCommand:
        customer = CustomerDraft(
            match_key="email", match_value=EMAIL, fields={"Name": "Kund AB", "Email": EMAIL}
        )
        return self.command(
            "create_document", self.key, customer=customer, document=self.draft(spec, **draft)
        )

    def refund_invoice(self, refund_id: str, spec: Sequence[Row]) -> FortnoxCommand:
        """A later partial refund booked as a negative invoice referencing the original."""
        customer = CustomerDraft(
            match_key="email", match_value=EMAIL, fields={"Name": "Kund AB", "Email": EMAIL}
        )
        document = self.draft(spec, external_reference=f"shopify-refund-{refund_id}")
        return self.command(
            "create_document",
            f"{self.stack.shop}:refund:{refund_id}:invoice",
            source=SourceRef(type="refund", id=refund_id),
            customer=customer,
            document=document,
            target_document_key=self.key,
        )

    def reverse(
        self, name: str = "cancel", *, allow_cancel: bool = True, credit_date: str | None = None
    ) -> FortnoxCommand:
        return self.command(
            "reverse_document",
            f"{self.key}:{name}",
            target_document_key=self.key,
            allow_cancel=allow_cancel,
            credit_date=credit_date,
        )

    def update(self, spec: Sequence[Row], *, minutes: int = 1, **draft: Any) -> FortnoxCommand:
        updated_at = T0 + timedelta(minutes=minutes)
        customer = CustomerDraft(
            match_key="email", match_value=EMAIL, fields={"Name": "Kund AB", "Email": EMAIL}
        )
        return self.command(
            "update_document",
            f"{self.key}:update:{updated_at.isoformat()}",
            source=SourceRef(type="order", id=self.id, updated_at=updated_at),
            customer=customer,
            document=self.draft(spec, **draft),
            target_document_key=self.key,
        )

    def pay(
        self,
        transaction: str,
        amount: str,
        *,
        rate: str | None = None,
        bookkeep: bool = False,
    ) -> FortnoxCommand:
        payment = PaymentDraft(
            amount=Decimal(amount),
            currency=self.currency,
            currency_rate=None if rate is None else Decimal(rate),
            payment_date="2026-03-02",
            mode_of_payment="KORT",
            mode_of_payment_account=1580,
            bookkeep=bookkeep,
            reference=transaction,
        )
        return self.command(
            "register_payment",
            f"{self.key}:payment:{transaction}",
            target_document_key=self.key,
            payment=payment,
        )

    def pay_back(
        self, refund_id: str, credit_key: str, transaction: str, amount: str, **changes: Any
    ) -> FortnoxCommand:
        """A refund's money paid back: a NEGATIVE payment on its credit document's key."""
        payment = PaymentDraft(
            amount=-Decimal(amount),
            currency=self.currency,
            payment_date="2026-03-05",
            mode_of_payment="KORT",
            reference=transaction,
            **changes,
        )
        return self.command(
            "register_payment",
            f"{self.stack.shop}:refund:{refund_id}:payment:{transaction}",
            source=SourceRef(type="refund", id=refund_id),
            target_document_key=credit_key,
            payment=payment,
        )


async def send(stack: Stack, command: FortnoxCommand) -> None:
    """Publish the command to the writer, as the mapper does."""
    runtime = stack.apps["fortnox_writer"][STATE].require_runtime()
    await runtime.publisher.publish(
        command, f"fortnox.command.{command.action}", message_id=command.command_id
    )


async def ledger_row(pool: asyncpg.Pool, key: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT * FROM fortnox_writer.documents WHERE document_key = $1", key
    )


async def done(stack: Stack, command: FortnoxCommand, timeout: float = 20.0) -> asyncpg.Record:
    """Send the command and wait until its ledger row is finished and its result is shown."""
    before = await results(stack, command)
    await send(stack, command)

    async def finished() -> bool:
        row = await ledger_row(stack.pool, command.document_key)
        if row is None or row["finished_at"] is None:
            return False
        return len(await results(stack, command)) > len(before)

    await stack.wait_for(finished, timeout=timeout)
    row = await ledger_row(stack.pool, command.document_key)
    assert row is not None
    return row


async def results(stack: Stack, command: FortnoxCommand) -> list[asyncpg.Record]:
    """The timeline events of the command's source (what the writer's results became)."""
    return list(
        await stack.pool.fetch(
            "SELECT * FROM timeline.events WHERE shop = $1 AND order_id = $2"
            " ORDER BY occurred_at, id",
            stack.shop,
            command.source.id,
        )
    )


async def last_result(stack: Stack, command: FortnoxCommand) -> asyncpg.Record:
    return (await results(stack, command))[-1]


def invoices(stack: Stack) -> list[Invoice]:
    return list(stack.fortnox.tenant(stack.tenant_id).invoices.values())


def invoice(stack: Stack, number: str | int) -> Invoice:
    return stack.fortnox.tenant(stack.tenant_id).invoices[int(number)]


def payments(stack: Stack) -> list[Payment]:
    return list(stack.fortnox.tenant(stack.tenant_id).payments.values())


def calls(stack: Stack, method: str, path_regex: str) -> int:
    import re

    pattern = re.compile(path_regex)
    return sum(
        1
        for record in stack.fortnox.requests
        if record.method == method and pattern.search(record.path) and record.status < 300
    )


@contextlib.asynccontextmanager
async def published_results(
    amqp_url: str, topology: Topology
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every writer result published while inside (a queue of the test's own)."""
    seen: list[dict[str, Any]] = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(topology.events_exchange)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, "fortnox.result.#")

        async def collect(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                seen.append(json.loads(message.body))

        await queue.consume(collect)
        yield seen
