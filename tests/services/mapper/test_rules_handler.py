"""The mapper's consumer under rules (real PostgreSQL): commands carry the rule-set version,
skips name the rule, a refund follows its order's rule, triggers wait for their event, and the
latest order payload is kept for previews."""

from __future__ import annotations

import itertools
import json

import asyncpg
import pytest

from libs.common.messages import SyncResult
from services.mapper.rules.actions import RuleTemplateFailed
from services.mapper.rules.model import Rule, validate_rule
from services.mapper.rules.store import change_rules, load_order_payload
from simulators.shopify.payloads import LineSpec, order_payload
from tests.services.mapper.builders import refund_payload
from tests.services.mapper.test_handler import Recorder, delivery, handler

_ids = itertools.count(1)


async def add_rule(pool: asyncpg.Pool, shop: str, data: dict[str, object]) -> int:
    rule = Rule(id=next(_ids), **validate_rule(data).model_dump())
    rule_set = await change_rules(
        pool, shop, lambda rules: [*rules, rule], description="test", actor="test"
    )
    return rule_set.version


async def reason_of(pool: asyncpg.Pool, uid: str) -> str:
    return str(
        await pool.fetchval("SELECT reason FROM mapper.processed_events WHERE event_uid = $1", uid)
    )


async def test_kind_none_skips_the_order_and_its_refunds(
    mapper_pool: asyncpg.Pool, shop: str
) -> None:
    version = await add_rule(
        mapper_pool,
        shop,
        {
            "name": "Ignore tests",
            "conditions": {"field": "tags", "op": "contains", "value": "test"},
            "actions": {"document_kind": "none"},
        },
    )
    recorder = Recorder()
    handle = handler(mapper_pool, recorder)
    order = order_payload(tags="test")
    await handle(delivery(shop, "orders/create", order, uid=f"c-{shop}"))
    reason = await reason_of(mapper_pool, f"c-{shop}")
    assert (
        "no Fortnox document" in reason and f"'Ignore tests' (rule set version {version})" in reason
    )
    # Without the rule this refund would wait for an invoice; the kept order says: none.
    refund = refund_payload(order, 71, lines=[(0, 1)])
    await handle(delivery(shop, "refunds/create", refund, uid=f"r-{shop}"))
    assert "no Fortnox document" in await reason_of(mapper_pool, f"r-{shop}")
    assert recorder.sent == []


async def test_paid_trigger_and_rule_versions(mapper_pool: asyncpg.Pool, shop: str) -> None:
    version = await add_rule(
        mapper_pool, shop, {"name": "On payment", "actions": {"trigger": "paid"}}
    )
    recorder = Recorder()
    handle = handler(mapper_pool, recorder)
    order = order_payload(financial_status="pending")
    await handle(delivery(shop, "orders/create", order, uid=f"c-{shop}"))
    assert "when the order is paid" in await reason_of(mapper_pool, f"c-{shop}")
    assert recorder.sent == []
    paid = {**order, "financial_status": "paid", "updated_at": "2030-01-01T00:00:00+00:00"}
    await handle(delivery(shop, "orders/paid", paid))
    invoice, payment = recorder.commands()
    assert invoice.action == "create_document" and payment.action == "register_payment"
    assert invoice.rule_version == payment.rule_version == version
    kept = await load_order_payload(mapper_pool, shop, str(order["id"]))
    assert kept is not None and kept["financial_status"] == "paid"
    # An older payload arriving late does not replace the newer one kept for previews.
    await handle(delivery(shop, "orders/updated", order))
    kept = await load_order_payload(mapper_pool, shop, str(order["id"]))
    assert kept is not None and kept["financial_status"] == "paid"


async def test_without_rules_the_version_is_zero(mapper_pool: asyncpg.Pool, shop: str) -> None:
    recorder = Recorder()
    await handler(mapper_pool, recorder)(delivery(shop, "orders/create", order_payload()))
    [command] = recorder.commands()
    assert command.rule_version == 0


async def test_an_order_rule_makes_a_fortnox_order(mapper_pool: asyncpg.Pool, shop: str) -> None:
    await add_rule(mapper_pool, shop, {"name": "Orders", "actions": {"document_kind": "order"}})
    recorder = Recorder()
    order = order_payload()
    await handler(mapper_pool, recorder)(delivery(shop, "orders/create", order))
    [command] = recorder.commands()
    assert command.document is not None and command.document.kind == "order"
    assert command.document_key == f"{shop}:order:{order['id']}:order"


async def test_row_and_customer_templates_reach_the_command(
    mapper_pool: asyncpg.Pool, shop: str
) -> None:
    await add_rule(
        mapper_pool,
        shop,
        {
            "name": "Projects per line",
            "actions": {
                "row_fields": {"Project": "{{ property.project | default: 'WEB' }}"},
                "customer_fields": {"Phone1": "{{ billing_address.phone | digits }}"},
            },
        },
    )
    recorder = Recorder()
    lines = [LineSpec("Mugg", "100.00", 1, "0.25", "MUG-1", properties=(("project", "P7"),))]
    order = order_payload(lines=lines)
    order["billing_address"]["phone"] = "070-123 45 67"
    await handler(mapper_pool, recorder)(delivery(shop, "orders/create", order))
    [command] = recorder.commands()
    assert command.document is not None and command.customer is not None
    assert command.document.rows[0].fields == {"Project": "P7"}
    assert command.customer.fields["Phone1"] == "0701234567"


async def test_an_amplifying_template_fails_only_its_order(
    mapper_pool: asyncpg.Pool, shop: str
) -> None:
    """Issue 12's attack at run time: a rule stored before the caps (old syntax, inserted as an
    older release would have) with the exponential replace chain. The order it matches fails
    at once as a mapping failure that explains itself; the next order of another shop is
    planned as usual; nothing of the failed order is stored."""
    bomb = "{{ name" + " | replace('', 'xxxxxxxxxx')" * 11 + " }}"
    await mapper_pool.execute(
        "INSERT INTO mapper.rule_sets (shop, version, rules, change)"
        " VALUES ($1, 1, $2::jsonb, 'x')",
        shop,
        json.dumps(
            [
                {
                    "id": 9,
                    "name": "Bomb",
                    "enabled": True,
                    "conditions": None,
                    "actions": {"fields": {"Remarks": bomb}},
                }
            ]
        ),
    )
    recorder = Recorder()
    handle = handler(mapper_pool, recorder)
    order = order_payload()
    with pytest.raises(RuleTemplateFailed) as caught:
        await handle(delivery(shop, "orders/create", order, uid=f"bomb-{shop}"))
    assert caught.value.code == "template_limit"
    assert "rule 9 'Bomb' (rule set version 1): actions.fields.Remarks: the filter 'replace'" in (
        caught.value.message
    )
    [(result, key)] = recorder.sent
    assert key == "fortnox.result.failed" and isinstance(result, SyncResult)
    assert result.error_code == "template_limit" and result.source.id == str(order["id"])
    assert "sets the Fortnox field Remarks with a template that is too costly" in (
        caught.value.explanation
    )
    assert recorder.commands() == []
    assert (
        await mapper_pool.fetchval(
            "SELECT count(*) FROM mapper.processed_events WHERE event_uid = $1", f"bomb-{shop}"
        )
        == 0
    )  # not recorded as handled: a replay after the rule is fixed maps it

    other = f"other-{shop}"
    await handle(delivery(other, "orders/create", order_payload()))
    [command] = recorder.commands()
    assert command.shop == other and command.action == "create_document"
