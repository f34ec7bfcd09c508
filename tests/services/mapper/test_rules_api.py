"""The mapping-rules admin API on the running mapper (real PostgreSQL and RabbitMQ): CRUD and
reorder with a new rule-set version per change, 422s naming the field path, scopes, other shops'
ids as 404, commands stamped with the rule version, and a preview without side effects."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest

from libs.common.access import ApiTokenStore
from libs.common.messages import FortnoxCommand, ShopifyEvent
from libs.common.messaging import Publisher, Topology
from services.mapper.rules.store import rule_set_version, save_order_payload
from simulators.shopify.payloads import order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack

RULES = "/admin/api/integrations/fortnox/mapping_rules"
B2B = {
    "name": "B2B orders",
    "conditions": {"field": "tags", "op": "contains", "value": "B2B"},
    "actions": {"document_kind": "order", "terms_of_payment": "30", "cost_center": "WEB"},
}
EVERYTHING = {"name": "Everything else", "actions": {"our_reference": "Webbshop"}}


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(services=("mapper",))


async def call(
    stack: Stack,
    method: str,
    path: str,
    body: Any = None,
    *,
    shop: str | None = None,
    token: str | None = None,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    params = {} if token else {"shop": shop or stack.shop}
    async with stack.http.request(
        method, stack.url("mapper", path), json=body, params=params, headers=headers
    ) as response:
        return response.status, await response.json()


MARKER = "test.spy.marker"  # a routing key no work queue binds: only the spy gets it


class Spy:
    """Every message published on the stack's events exchange, kept in a private queue."""

    def __init__(
        self, queue: aio_pika.abc.AbstractQueue, exchange: aio_pika.abc.AbstractExchange
    ) -> None:
        self.queue = queue
        self.exchange = exchange

    async def messages(self, wait: float = 0.5) -> list[aio_pika.abc.AbstractIncomingMessage]:
        """What arrived within ``wait`` seconds (for polling until something comes)."""
        await asyncio.sleep(wait)
        found = []
        while (message := await self.queue.get(no_ack=True, fail=False)) is not None:
            found.append(message)
        return found

    async def published_so_far(self) -> list[aio_pika.abc.AbstractIncomingMessage]:
        """Every message published (and confirmed) before now, not a guess by a fixed wait: a
        marker sent through the same exchange after them is queued behind them, and its arrival
        is also the positive control that the spy receives what the exchange routes."""
        marker = uuid.uuid4().hex
        await self.exchange.publish(aio_pika.Message(b"", message_id=marker), MARKER)
        found = []
        async with asyncio.timeout(10):
            while True:
                message = await self.queue.get(no_ack=True, fail=False)
                if message is None:
                    await asyncio.sleep(0.02)
                elif message.message_id == marker:
                    return found
                else:
                    found.append(message)


@pytest.fixture
async def spy(stack: Stack) -> AsyncIterator[Spy]:
    connection = await aio_pika.connect(stack.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        topology = Topology(namespace=stack.settings.amqp_namespace)
        exchange = await channel.get_exchange(topology.events_exchange)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, "#")
        yield Spy(queue, exchange)


async def send_event(stack: Stack, topic: str, payload: dict[str, Any]) -> None:
    connection = await aio_pika.connect_robust(stack.settings.amqp_url)
    async with connection:
        topology = Topology(namespace=stack.settings.amqp_namespace)
        publisher = Publisher(connection, topology.events_exchange)
        await publisher.start()
        event = ShopifyEvent(
            shop=stack.shop,
            event_uid=uuid.uuid4().hex,
            topic=topic,
            webhook_id=uuid.uuid4().hex,
            received_at=datetime.now(UTC),
            payload=payload,
        )
        await publisher.publish(event, f"shopify.{topic}")
        await publisher.close()


async def test_crud_reorder_and_a_version_per_change(stack: Stack) -> None:
    status, listing = await call(stack, "GET", f"{RULES}.json")
    assert status == 200 and listing == {"mapping_rules": [], "rule_set_version": 0}
    status, b2b = await call(stack, "POST", f"{RULES}.json", {"mapping_rule": B2B})
    assert status == 201 and b2b["rule_set_version"] == 1
    b2b_id = b2b["mapping_rule"]["id"]
    status, other = await call(stack, "POST", f"{RULES}.json", {"mapping_rule": EVERYTHING})
    other_id = other["mapping_rule"]["id"]
    assert other["mapping_rule"]["position"] == 2 and other["rule_set_version"] == 2
    status, listing = await call(stack, "GET", f"{RULES}.json")
    assert [r["id"] for r in listing["mapping_rules"]] == [b2b_id, other_id]
    assert listing["mapping_rules"][0]["actions"]["cost_center"] == "WEB"

    changed = {**B2B, "actions": {**B2B["actions"], "cost_center": "B2B"}}
    status, updated = await call(stack, "PUT", f"{RULES}/{b2b_id}.json", {"mapping_rule": changed})
    assert status == 200 and updated["rule_set_version"] == 3
    assert updated["mapping_rule"]["actions"]["cost_center"] == "B2B"

    status, reordered = await call(
        stack, "PUT", f"{RULES}/order.json", {"rule_ids": [other_id, b2b_id]}
    )
    assert status == 200 and reordered["rule_set_version"] == 4
    assert [r["id"] for r in reordered["mapping_rules"]] == [other_id, b2b_id]
    status, bad = await call(stack, "PUT", f"{RULES}/order.json", {"rule_ids": [other_id]})
    assert status == 422 and "every rule" in bad["error"]

    status, deleted = await call(stack, "DELETE", f"{RULES}/{other_id}.json")
    assert status == 200 and deleted["rule_set_version"] == 5
    assert [r["id"] for r in deleted["mapping_rules"]] == [b2b_id]
    assert (await call(stack, "GET", f"{RULES}/{other_id}.json"))[0] == 404
    assert (await call(stack, "DELETE", f"{RULES}/{other_id}.json"))[0] == 404
    assert (await call(stack, "GET", f"{RULES}/{b2b_id}.json"))[0] == 200

    async with stack.pool.acquire() as conn:  # history is kept: version 1 reads as it was
        first = await rule_set_version(conn, stack.shop, 1)
    assert first is not None and first.rules[0].actions.cost_center == "WEB"


async def test_invalid_rules_answer_422_naming_the_field(stack: Stack) -> None:
    bad = {
        "name": "x",
        "conditions": {"any": [{"field": "tags", "op": "gt", "value": "1"}]},
        "actions": {"trigger": "later", "fields": {"Remarks": "{{ name | shout }}"}},
    }
    status, body = await call(stack, "POST", f"{RULES}.json", {"mapping_rule": bad})
    assert status == 422
    paths = {e["path"] for e in body["errors"]}
    assert paths == {
        "mapping_rule.conditions.any[0].op",
        "mapping_rule.actions.trigger",
        "mapping_rule.actions.fields.Remarks",
    }
    assert "mapping_rule.actions.trigger: must be one of 'create'" in body["error"]
    assert (await call(stack, "POST", f"{RULES}.json", {"rule": B2B}))[0] == 422
    assert (await call(stack, "POST", f"{RULES}.json", [1]))[0] == 422
    assert (await call(stack, "GET", f"{RULES}.json"))[1]["rule_set_version"] == 0


async def test_scopes_and_other_shops(stack: Stack) -> None:
    status, created = await call(stack, "POST", f"{RULES}.json", {"mapping_rule": B2B})
    rule_id = created["mapping_rule"]["id"]
    tokens = ApiTokenStore(stack.pool)
    reader = (await tokens.create(stack.shop, "read_integrations")).token
    writer = (await tokens.create(stack.shop, "write_integrations")).token
    admin = (await tokens.create(stack.shop, "manage_apps")).token
    orders_only = (await tokens.create(stack.shop, "read_orders")).token
    stranger = (await tokens.create("other-shop.myshopify.com", "manage_apps")).token

    assert (await call(stack, "GET", f"{RULES}.json", token=reader))[0] == 200
    assert (await call(stack, "GET", f"{RULES}.json", token=orders_only))[0] == 403
    assert (await call(stack, "POST", f"{RULES}.json", {"mapping_rule": B2B}, token=reader))[
        0
    ] == 403
    assert (await call(stack, "POST", f"{RULES}.json", {"mapping_rule": B2B}, token=writer))[
        0
    ] == 201
    assert (await call(stack, "GET", f"{RULES}.json", token=writer))[0] == 200  # write implies read
    assert (await call(stack, "DELETE", f"{RULES}/{rule_id}.json", token=admin))[0] == 200
    preview = {"order": order_payload()}
    assert (await call(stack, "POST", f"{RULES}/preview.json", preview, token=reader))[0] == 200

    _, kept = await call(stack, "GET", f"{RULES}.json")
    [other_rule] = kept["mapping_rules"]
    for method in ("GET", "PUT", "DELETE"):
        status, _ = await call(
            stack, method, f"{RULES}/{other_rule['id']}.json", {"mapping_rule": B2B}, token=stranger
        )
        assert status == 404, method
    _, theirs = await call(stack, "GET", f"{RULES}.json", token=stranger)
    assert theirs["mapping_rules"] == []
    async with stack.http.get(
        stack.url("mapper", f"{RULES}.json"),
        params={"shop": stack.shop},
        headers={"Authorization": f"Bearer {stranger}"},
    ) as response:
        assert response.status == 403
    async with stack.http.get(stack.url("mapper", f"{RULES}.json")) as response:
        assert response.status == 400  # the operator must name the shop


async def commands_for(spy: Spy, order_id: int) -> FortnoxCommand:
    deadline = asyncio.get_running_loop().time() + 15
    while asyncio.get_running_loop().time() < deadline:
        for message in await spy.messages(0.2):
            if (message.routing_key or "").startswith("fortnox.command."):
                command = FortnoxCommand.model_validate_json(message.body)
                if command.source.id == str(order_id):
                    return command
    raise TimeoutError(f"no command for order {order_id}")


async def test_commands_record_the_rule_version(stack: Stack, spy: Spy) -> None:
    _, created = await call(stack, "POST", f"{RULES}.json", {"mapping_rule": B2B})
    first = order_payload(tags="B2B")
    await send_event(stack, "orders/create", first)
    old = await commands_for(spy, first["id"])
    changed = {**B2B, "actions": {**B2B["actions"], "cost_center": "SHOP"}}
    rule_id = created["mapping_rule"]["id"]
    await call(stack, "PUT", f"{RULES}/{rule_id}.json", {"mapping_rule": changed})  # version 2
    second = order_payload(tags="B2B")
    await send_event(stack, "orders/create", second)
    new = await commands_for(spy, second["id"])

    assert old.rule_version == 1 and new.rule_version == 2
    assert old.document and old.document.kind == "order"
    assert old.document.fields["TermsOfPayment"] == "30"
    assert old.document.fields["CostCenter"] == "WEB"  # the old command keeps its rules
    assert new.document and new.document.fields["CostCenter"] == "SHOP"
    async with stack.pool.acquire() as conn:
        version_1 = await rule_set_version(conn, stack.shop, old.rule_version)
    assert version_1 is not None and version_1.rules[0].actions.cost_center == "WEB"


async def test_preview_has_no_side_effects(stack: Stack, spy: Spy) -> None:
    await call(stack, "POST", f"{RULES}.json", {"mapping_rule": B2B})
    tagged = order_payload(tags="B2B")
    async with stack.pool.acquire() as conn:  # as if ingest had delivered it earlier
        await save_order_payload(conn, stack.shop, str(tagged["id"]), "orders/create", tagged)
    before = len(stack.fortnox.requests_for(stack.tenant_id))
    tables = ("processed_events", "order_state", "rule_sets", "order_payloads")

    async def counts() -> list[int]:
        return [await stack.pool.fetchval(f"SELECT count(*) FROM mapper.{t}") for t in tables]

    rows_before = await counts()
    status, by_id = await call(
        stack, "POST", f"{RULES}/preview.json", {"order_id": str(tagged["id"])}
    )
    assert status == 200
    assert by_id["matched_rule"]["name"] == "B2B orders" and by_id["rule_set_version"] == 1
    [document] = by_id["documents"]
    assert document["document"]["kind"] == "order"
    assert document["document"]["fields"]["CostCenter"] == "WEB"
    assert document["rule_version"] == 1

    status, plain = await call(stack, "POST", f"{RULES}/preview.json", {"order": order_payload()})
    assert status == 200 and plain["matched_rule"] is None
    assert plain["documents"][0]["document"]["kind"] == "invoice"
    status, broken = await call(stack, "POST", f"{RULES}/preview.json", {"order": {"id": 1}})
    assert status == 200 and broken["error"]["code"] == "missing_currency"
    assert (await call(stack, "POST", f"{RULES}/preview.json", {"order_id": "404"}))[0] == 404
    assert (await call(stack, "POST", f"{RULES}/preview.json", {}))[0] == 422

    assert await spy.published_so_far() == []  # nothing published
    assert await counts() == rows_before  # nothing written
    assert len(stack.fortnox.requests_for(stack.tenant_id)) == before  # Fortnox untouched


async def test_preview_of_a_draft_rule_saves_nothing(stack: Stack, spy: Spy) -> None:
    status, created = await call(stack, "POST", f"{RULES}.json", {"mapping_rule": B2B})
    assert status == 201
    saved_id = created["mapping_rule"]["id"]
    tagged = order_payload(tags="B2B")
    versions = await stack.pool.fetchval("SELECT count(*) FROM mapper.rule_sets")
    preview_url = f"{RULES}/preview.json"

    # A new rule, first by default: it wins over the saved one.
    draft = {"name": "Shop orders", "actions": {"cost_center": "SHOP"}}
    status, new = await call(stack, "POST", preview_url, {"order": tagged, "mapping_rule": draft})
    assert status == 200
    assert new["matched_rule"] == {"id": None, "name": "Shop orders", "draft": True}
    assert new["documents"][0]["document"]["fields"]["CostCenter"] == "SHOP"

    # Placed after the saved rule, the saved rule still matches the tagged order.
    body = {"order": tagged, "mapping_rule": draft, "position": 2}
    status, after = await call(stack, "POST", preview_url, body)
    assert status == 200 and after["matched_rule"]["id"] == saved_id
    assert after["matched_rule"]["draft"] is False

    # An edit of the saved rule, previewed in its place.
    edited = {**B2B, "actions": {**B2B["actions"], "cost_center": "B2B-EDIT"}}
    body = {"order": tagged, "mapping_rule": edited, "rule_id": saved_id}
    status, edit = await call(stack, "POST", preview_url, body)
    assert status == 200 and edit["matched_rule"]["draft"] is True
    document = edit["documents"][0]["document"]
    assert document["kind"] == "order" and document["fields"]["CostCenter"] == "B2B-EDIT"

    # The draft is validated like a saved rule; an unknown rule id is 404.
    bad = {"order": tagged, "mapping_rule": {"name": "x", "conditions": {"op": "nope"}}}
    status, problem = await call(stack, "POST", preview_url, bad)
    assert status == 422 and "mapping_rule.conditions" in json.dumps(problem)
    body = {"order": tagged, "mapping_rule": draft, "rule_id": saved_id + 1000}
    assert (await call(stack, "POST", preview_url, body))[0] == 404

    # Nothing saved, published or sent: the saved rule is unchanged.
    assert await stack.pool.fetchval("SELECT count(*) FROM mapper.rule_sets") == versions
    status, listing = await call(stack, "GET", f"{RULES}.json")
    assert [rule["name"] for rule in listing["mapping_rules"]] == ["B2B orders"]
    assert listing["mapping_rules"][0]["actions"]["cost_center"] == "WEB"
    assert await spy.published_so_far() == []


LIQUID_BOMB = "{{ name" + " | replace: '', name" * 12 + " }}"
OLD_BOMB = "{{ name" + " | replace('', 'xxxxxxxxxx')" * 11 + " }}"  # the 313 characters
# Grows only on orders whose PO note attribute holds Z: passes the check on the sample order.
SOMETIMES = "{{ note_attributes | where: 'name', 'PO' | map: 'value' | first" + (
    " | replace: 'Z', 'ZZZZZZZZZZ'" * 6 + " }}"
)


def bomb_rule(template: str) -> dict[str, Any]:
    return {"name": "Bomb", "actions": {"fields": {"Remarks": template}}}


async def test_the_exponential_template_is_refused_at_save_and_preview(stack: Stack) -> None:
    preview_url = f"{RULES}/preview.json"
    for template in (LIQUID_BOMB, OLD_BOMB):
        status, body = await call(
            stack, "POST", f"{RULES}.json", {"mapping_rule": bomb_rule(template)}
        )
        assert status == 422, body
        [problem] = body["errors"]
        assert problem["path"] == "mapping_rule.actions.fields.Remarks"
        draft = {"order": order_payload(), "mapping_rule": bomb_rule(template)}
        status, previewed = await call(stack, "POST", preview_url, draft)
        assert status == 422 and previewed["errors"] == body["errors"]
    status, body = await call(
        stack, "POST", f"{RULES}.json", {"mapping_rule": bomb_rule(LIQUID_BOMB)}
    )
    assert "the template is too costly: the filter 'replace' would make a text of" in body["error"]
    status, body = await call(stack, "POST", f"{RULES}.json", {"mapping_rule": bomb_rule(OLD_BOMB)})
    assert (
        "templates are Liquid now: in Liquid this reads {{ name | replace: '', 'xxxx"
        in body["error"]
    )
    assert "refused too: the template is too costly" in body["error"]
    assert (await call(stack, "GET", f"{RULES}.json"))[1]["rule_set_version"] == 0  # nothing saved


async def test_a_template_that_grows_on_one_order_is_refused_on_that_order(stack: Stack) -> None:
    po = order_payload()
    po["note_attributes"] = [{"name": "PO", "value": "ZZZ"}]
    preview_url = f"{RULES}/preview.json"
    status, body = await call(
        stack, "POST", preview_url, {"order": po, "mapping_rule": bomb_rule(SOMETIMES)}
    )
    assert status == 422
    assert body["errors"][0]["path"] == "mapping_rule.actions.fields.Remarks"
    assert body["errors"][0]["message"].startswith("on this order: the filter 'replace' would make")

    status, created = await call(
        stack, "POST", f"{RULES}.json", {"mapping_rule": bomb_rule(SOMETIMES)}
    )
    assert status == 201, created  # harmless on the sample order
    status, saved = await call(stack, "POST", preview_url, {"order": po})
    assert status == 200  # the saved rule: what the order would do
    assert saved["error"]["code"] == "template_limit"
    assert saved["error"]["path"] == "actions.fields.Remarks"
    assert saved["matched_rule"]["id"] == created["mapping_rule"]["id"] and saved["documents"] == []
    status, fine = await call(stack, "POST", preview_url, {"order": order_payload()})
    assert status == 200 and fine["error"] is None and fine["documents"]


async def test_request_and_rule_sizes_are_capped(stack: Stack) -> None:
    status, body = await call(
        stack, "POST", f"{RULES}.json", {"mapping_rule": {**B2B, "name": "x"}, "pad": "y" * 70_000}
    )
    assert status == 413 and "larger than 65,536 bytes" in body["error"]
    huge = {
        f: "{{ name }}" + "y" * 990
        for f in (
            "Remarks",
            "Comments",
            "OurReference",
            "YourReference",
            "Phone1",
            "Phone2",
            "City",
            "Address1",
            "Address2",
            "ZipCode",
            "Country",
            "DeliveryName",
            "DeliveryCity",
            "WayOfDelivery",
            "Project",
            "CostCenter",
            "PriceList",
        )
    }
    status, body = await call(
        stack, "POST", f"{RULES}.json", {"mapping_rule": {"name": "x", "actions": {"fields": huge}}}
    )
    assert status == 422 and body["errors"][0]["path"] == "mapping_rule"
    assert "a rule may take at most 16,384" in body["error"]
    big = io.BytesIO(json.dumps({"order": {"note": "n" * 2_200_000}}).encode())
    async with stack.http.post(
        stack.url("mapper", f"{RULES}/preview.json"),
        data=big,
        params={"shop": stack.shop},
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 413
        assert "larger than 2,097,152 bytes" in (await response.json())["error"]
    assert (await call(stack, "GET", f"{RULES}.json"))[1]["rule_set_version"] == 0
    async with stack.http.put(
        stack.url("mapper", f"{RULES}/order.json"),
        params={"shop": stack.shop},
        data='{"rule_ids": [' + "9" * 5000 + "]}",  # past Python's integer digit limit
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 400, await response.text()
