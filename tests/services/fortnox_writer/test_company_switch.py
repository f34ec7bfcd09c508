"""A Fortnox company switch, against the running writer and the Fortnox simulator: audited,
the old company's work held back (whenever it arrives) and released or discarded on request,
never finished in the new company; the CLI path keeps the same rule.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest

from fortbridge import fortnox_connect
from fortbridge.localstack import (
    CLIENT_ID,
    REDIRECT_URI,
    LocalStack,
    command_publisher,
    order_command,
)
from libs.common.crypto import TokenCipher
from libs.common.messages import FortnoxCommand, SourceRef
from libs.common.messaging import Delivery, Topology
from libs.common.messaging.publisher import PUBLISHED_AT_HEADER, now_ms
from services.fortnox_writer.admission import Arrival, SetAside, SwitchedCompany
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.deferred import HELD_EXPLANATION, PARKED, DeferredStore, ShopFacts
from services.fortnox_writer.switching import ConnectRefused, connect_with_code
from simulators.shopify.payloads import order_payload
from tests.services.fortnox_writer.connect_support import (
    bearer,
    connection,
    new_tenant,
    writer,
    writer_stack,
)
from tests.services.fortnox_writer.writer_support import (
    dead_letters,
    invoices_of,
)

pytestmark = pytest.mark.slow

CONNECTION = "/admin/api/integrations/fortnox/connection.json"
RELEASE = "/admin/api/integrations/fortnox/connection/release.json"


@pytest.fixture
async def stack(
    amqp_url: str, database_url: str, broker_cleanup: Topology
) -> AsyncIterator[LocalStack]:
    async with writer_stack(amqp_url, database_url, broker_cleanup.namespace) as running:
        yield running


async def test_a_switch_is_audited_and_the_old_companys_work_is_held_back(
    stack: LocalStack,
) -> None:
    old = stack.tenant_id
    invoiced = order_payload()
    async with command_publisher(stack.settings) as publish:
        first = order_command(stack.shop, invoiced)
        await publish(first)
        await stack.wait_for(lambda: bool(invoices_of(stack, old, invoiced["id"])))
        assert await stack.pool.fetchval(
            "SELECT count(*) FROM fortnox_writer.customer_register WHERE shop = $1", stack.shop
        )
        # The connection breaks (consent revoked): new orders are parked, waiting for it.
        stack.fortnox.revoke(old)
        waiting = [order_payload() for _ in range(3)]
        for order in waiting:
            await publish(order_command(stack.shop, order))
        await stack.wait_for(lambda: _counts(stack, "parked", 3), timeout=20)

        # The merchant connects another company and asks to switch.
        new = new_tenant(stack, "New Company AB")
        switched = await fortnox_connect.connect(
            stack.http,
            writer(stack),
            await bearer(stack, stack.shop),
            new,
            switch_company=True,
        )
        assert switched["action"] == "switched" and switched["held_commands"] == 3
        audit = await stack.pool.fetchrow(
            "SELECT * FROM fortnox_writer.connection_audit WHERE shop = $1 AND action = 'switched'",
            stack.shop,
        )
        assert (audit["from_tenant"], audit["to_tenant"]) == (old, new)
        assert audit["actor"].startswith("token:") and audit["commands"] == 3
        assert audit["from_company"] == "Demo AB" and audit["to_company"] == "New Company AB"
        # The old company's customer and article numbers are forgotten.
        for mirror in ("customer_register", "articles", "registers"):
            assert not await stack.pool.fetchval(
                f"SELECT count(*) FROM fortnox_writer.{mirror} WHERE shop = $1", stack.shop
            ), mirror

        # A new order goes to the new company; the held ones are not resumed by the sweep.
        fresh = order_payload()
        await publish(order_command(stack.shop, fresh))
        await stack.wait_for(lambda: bool(invoices_of(stack, new, fresh["id"])))
        assert (await DeferredStore(stack.pool, "test").sweep())[1] == 0
        assert all(not invoices_of(stack, t, o["id"]) for o in waiting for t in (old, new))
        status = await _status(stack)
        assert status["held_commands"] == 3 and status["company_name"] == "New Company AB"
        assert status["switched_from_tenant_id"] == old
        assert {h["held_from_tenant"] for h in status["held"]} == {old}

        # A credit of the invoice made in the old company is refused, not applied in the new.
        reverse = FortnoxCommand(
            shop=stack.shop,
            command_id=uuid.uuid4().hex,
            action="reverse_document",
            document_key=f"{first.document_key}:reverse",
            source=SourceRef(type="order", id=str(invoiced["id"])),
            target_document_key=first.document_key,
        )
        await publish(reverse)

        topology = Topology(stack.settings.amqp_namespace)
        failures: list[dict[str, Any]] = []

        async def settled() -> bool:  # refused (a failed job), or (wrongly) applied
            failures.extend(await dead_letters(stack.settings.amqp_url, topology))
            applied = await stack.pool.fetchval(
                "SELECT status = 'created' FROM fortnox_writer.documents WHERE document_key = $1",
                reverse.document_key,
            )
            return bool(failures) or bool(applied)

        await stack.wait_for(settled)
        assert [f["x-fortbridge-error-code"] for f in failures] == ["document_in_other_company"]
        # Nothing in the new company (whose first invoice has the same number as the old
        # one's) is credited or cancelled.
        touched = [
            i
            for i in stack.fortnox.tenant(new).invoices.values()
            if i.credit or i.cancelled or i.credit_invoice_reference
        ]
        assert not touched

    # The merchant releases one held sync to the new company and discards the rest.
    ids = [h["command_id"] for h in status["held"]]
    released = await _release(stack, {"action": "release", "command_ids": ids[:1]})
    assert released["commands"] == 1 and released["held_commands"] == 2
    released_order = next(o for o in waiting if _command_for(o, status, ids[0]))
    await stack.wait_for(lambda: bool(invoices_of(stack, new, released_order["id"])))
    discarded = await _release(stack, {"action": "discard"})
    assert discarded["commands"] == 2 and discarded["held_commands"] == 0
    assert (
        await stack.pool.fetchval(
            "SELECT count(*) FROM fortnox_writer.deferred_commands WHERE shop = $1", stack.shop
        )
        == 0
    )
    actions = await stack.pool.fetch(
        "SELECT action, commands FROM fortnox_writer.connection_audit WHERE shop = $1 ORDER BY id",
        stack.shop,
    )
    assert [(a["action"], a["commands"]) for a in actions][-3:] == [
        ("switched", 3),
        ("released", 1),
        ("discarded", 2),
    ]
    others = [o for o in waiting if o is not released_order]
    assert all(not invoices_of(stack, t, o["id"]) for o in others for t in (old, new))


async def test_release_needs_write_integrations_and_refuses_bad_bodies(stack: LocalStack) -> None:
    async with stack.http.post(
        stack.url("fortnox_writer", RELEASE),
        json={"action": "release"},
        headers=await bearer(stack, stack.shop, "read_integrations"),
    ) as response:
        assert response.status == 403
    for body, field in (
        ({"action": "keep"}, "action"),
        ({"action": "release", "command_ids": ["x" * 201]}, "command_ids"),
        ({"action": "release", "command_ids": "all"}, "command_ids"),
        ({"action": "release", "extra": 1}, "extra"),
    ):
        async with stack.http.post(
            stack.url("fortnox_writer", RELEASE),
            json=body,
            headers=await bearer(stack, stack.shop),
        ) as response:
            assert response.status == 422
            assert (await response.json())["field"] == field


async def test_a_command_published_before_a_switch_and_delivered_after_it_is_held(
    stack: LocalStack,
) -> None:
    """A command made for the old company still in the broker when the shop switches: held back
    when it arrives (by its publish time), and resumed in the old company when that company is
    connected again, never sent to the new one."""
    old = stack.tenant_id
    order = order_payload()
    command = order_command(stack.shop, order)
    published_before = now_ms()
    new = new_tenant(stack, "Later AB")
    headers = await bearer(stack, stack.shop)
    switched = await fortnox_connect.connect(
        stack.http, writer(stack), headers, new, switch_company=True
    )
    assert switched["action"] == "switched"

    await deliver_late(stack, command, published_before)
    await stack.wait_for(lambda: held_row(stack, command.command_id))
    row = await held_row(stack, command.command_id)
    assert row is not None and row["held_from_tenant"] == old and row["reason"] == "parked"
    assert not invoices_of(stack, old, order["id"]) and not invoices_of(stack, new, order["id"])

    # The shop connects the old company again: the held command resumes there by itself.
    back = await fortnox_connect.connect(
        stack.http, writer(stack), headers, old, switch_company=True
    )
    assert back["action"] == "switched"
    await stack.wait_for(lambda: bool(invoices_of(stack, old, order["id"])))
    assert not invoices_of(stack, new, order["id"])


async def test_a_command_set_aside_for_the_old_company_is_held_not_run_in_the_new(
    stack: LocalStack,
) -> None:
    """A command of the old company set aside just after the switch (its retry stored after the
    switch held the shop's work back): the scheduler runs it for the old company only, so it is
    held back rather than finished in the new company (executor.py, ``company_switched``)."""
    old = stack.tenant_id
    new = new_tenant(stack, "Meanwhile AB")
    switched = await fortnox_connect.connect(
        stack.http, writer(stack), await bearer(stack, stack.shop), new, switch_company=True
    )
    assert switched["action"] == "switched"
    order = order_payload()
    command = order_command(stack.shop, order)
    await DeferredStore(stack.pool, "test").put(
        command_id=command.command_id,
        shop=stack.shop,
        tenant_id=old,
        document_key=command.document_key,
        routing_key="fortnox.command.create_document",
        message_id=command.command_id,
        body=command.model_dump_json().encode(),
        headers={},
        reason="retry",
    )

    async def settled() -> bool:  # held back, or (wrongly) invoiced in the new company
        return bool(await held_row(stack, command.command_id)) or bool(
            invoices_of(stack, new, order["id"])
        )

    await stack.wait_for(settled)
    assert not invoices_of(stack, new, order["id"]) and not invoices_of(stack, old, order["id"])
    row = await held_row(stack, command.command_id)
    assert row is not None and row["held_from_tenant"] == old


async def test_an_unfinished_document_of_the_old_company_is_not_finished_in_the_new(
    stack: LocalStack,
) -> None:
    """A document made in the old company whose follow-ups (totals check, bookkeep, e-mail)
    were not done before the switch: a retry after it is refused, not run on the new company's
    document of the same number."""
    old = stack.tenant_id
    order = order_payload()
    command = order_command(stack.shop, order)
    async with command_publisher(stack.settings) as publish:
        await publish(command)
        await stack.wait_for(lambda: bool(invoices_of(stack, old, order["id"])))
        await stack.wait_for(lambda: settled_document(stack, command.document_key))
        # As if the writer stopped after recording the invoice, before its follow-ups.
        await stack.pool.execute(
            "UPDATE fortnox_writer.documents SET finished_at = NULL, totals_ok = NULL"
            " WHERE document_key = $1",
            command.document_key,
        )
        new = new_tenant(stack, "Follow AB")
        await fortnox_connect.connect(
            stack.http, writer(stack), await bearer(stack, stack.shop), new, switch_company=True
        )
        # The new company has an invoice with the same number (its first one).
        other = order_payload()
        await publish(order_command(stack.shop, other))
        await stack.wait_for(lambda: bool(invoices_of(stack, new, other["id"])))
        before = copy.deepcopy(list(stack.fortnox.tenant(new).invoices.values()))

        retry = command.model_copy(update={"command_id": uuid.uuid4().hex})
        await publish(retry)
        topology = Topology(stack.settings.amqp_namespace)
        failures: list[dict[str, Any]] = []

        async def refused() -> bool:
            failures.extend(await dead_letters(stack.settings.amqp_url, topology))
            return bool(failures) or await settled_document(stack, command.document_key)

        await stack.wait_for(refused)
    assert [f["x-fortbridge-error-code"] for f in failures] == ["document_in_other_company"]
    assert list(stack.fortnox.tenant(new).invoices.values()) == before


async def settled_document(stack: LocalStack, key: str) -> bool:
    return bool(
        await stack.pool.fetchval(
            "SELECT finished_at IS NOT NULL FROM fortnox_writer.documents WHERE document_key = $1",
            key,
        )
    )


async def deliver_late(stack: LocalStack, command: FortnoxCommand, published_ms: int) -> None:
    """Put the command on the writer's queue as if published at ``published_ms`` (a message
    that waited in the broker)."""
    topology = Topology(stack.settings.amqp_namespace)
    connection = await aio_pika.connect(stack.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(topology.events_exchange)
        await exchange.publish(
            aio_pika.Message(
                command.model_dump_json().encode(),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=command.command_id,
                type=FortnoxCommand.schema_name(),
                headers={PUBLISHED_AT_HEADER: published_ms},
            ),
            routing_key=f"fortnox.command.{command.action}",
        )


async def held_row(stack: LocalStack, command_id: str) -> Any:
    return await stack.pool.fetchrow(
        "SELECT reason, held_from_tenant FROM fortnox_writer.deferred_commands"
        " WHERE command_id = $1 AND held_from_tenant IS NOT NULL",
        command_id,
    )


async def test_commands_published_before_a_switch_are_held_when_they_arrive() -> None:
    switched_at = 1_700_000_000.0
    facts = ShopFacts(
        datetime.fromtimestamp(switched_at + 5, UTC),
        "new",
        True,
        False,
        0.0,
        switched_at=datetime.fromtimestamp(switched_at, UTC),
        switched_from_tenant="old",
    )
    command = order_command("switch.myshopify.com", order_payload())
    rule = SwitchedCompany()

    async def held(published_ms: Any, shop: ShopFacts = facts) -> bool:
        delivery = Delivery(
            command.model_dump_json().encode(), {PUBLISHED_AT_HEADER: published_ms}, "rk", "q"
        )
        aside = await rule.check(Arrival.of(delivery), shop)
        if aside is None:
            return False
        assert aside == SetAside(PARKED, HELD_EXPLANATION, held_from_tenant="old")
        return True

    assert await held(int(switched_at * 1000) - 1)
    assert not await held(int(switched_at * 1000) + 1)
    assert await held(str(int(switched_at * 1000) - 5).encode())
    assert not await held(None)
    never = ShopFacts(facts.now, "new", True, False, 0.0)
    assert not await held(int(switched_at * 1000) - 1, never)


async def _counts(stack: LocalStack, reason: str, at_least: int) -> bool:
    counts = await DeferredStore(stack.pool, "test").counts(stack.shop)
    return counts.get(reason, 0) >= at_least


async def _status(stack: LocalStack) -> dict[str, Any]:
    async with stack.http.get(
        stack.url("fortnox_writer", CONNECTION), headers=await bearer(stack, stack.shop)
    ) as response:
        assert response.status == 200
        return dict((await response.json())["connection"])


async def _release(stack: LocalStack, body: dict[str, Any]) -> dict[str, Any]:
    async with stack.http.post(
        stack.url("fortnox_writer", RELEASE), json=body, headers=await bearer(stack, stack.shop)
    ) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


def _command_for(order: dict[str, Any], status: dict[str, Any], command_id: str) -> bool:
    held = next(h for h in status["held"] if h["command_id"] == command_id)
    return f":order:{order['id']}:" in held["document_key"]


async def test_the_cli_path_keeps_the_same_rule(stack: LocalStack) -> None:
    """``fortbridge connect fortnox`` (a code obtained by hand) switches only when asked."""
    other = new_tenant(stack, "Other AB")
    cipher = TokenCipher(stack.settings.token_encryption_keys.get_secret_value())
    store = ConnectionStore(stack.pool, cipher, stack.http, stack.settings)
    scopes = ["invoice", "customer", "article", "companyinformation"]

    async def connect(switch: bool) -> str:
        code = stack.fortnox.issue_authorization_code(CLIENT_ID, other, REDIRECT_URI, scopes)
        return await connect_with_code(
            store,
            stack.http,
            stack.settings,
            shop=stack.shop,
            code=code,
            redirect_uri=REDIRECT_URI,
            switch_company=switch,
            actor="cli",
        )

    with pytest.raises(ConnectRefused, match="another Fortnox company"):
        await connect(False)
    assert (await connection(stack, stack.shop))["tenant_id"] == stack.tenant_id
    assert await connect(True) == other
    assert (await connection(stack, stack.shop))["switched_from_tenant"] == stack.tenant_id
