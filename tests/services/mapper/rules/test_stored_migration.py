"""Stored rules move to Liquid at service start (real PostgreSQL): a new version with the
Liquid templates, the old version kept as it was, once per shop even when replicas start
together, and the migrated rules make the same commands on the same orders."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg

from services.mapper import service
from services.mapper.accounting import ShopSettings
from services.mapper.accounting.rows import line_key
from services.mapper.rules.actions import first_match, line_context, resolve
from services.mapper.rules.migrate_liquid import (
    MIGRATION_ACTOR,
    migrate_shop,
    migrate_stored_rules,
)
from services.mapper.rules.model import RuleSet
from services.mapper.rules.store import current_rule_set, rule_set_version
from tests.services.mapper.rules.legacy_oracle import old_render

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "orders"
OLD_RULES: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "Companies",
        "enabled": True,
        "conditions": {"field": "customer_type", "op": "eq", "value": "company"},
        "actions": {
            "fields": {
                "Remarks": "Shopify {{ name }} ({{ source_name | upper }})",
                "YourReference": "{{ billing_address.company | default('-') | truncate(20) }}",
            },
            "customer_fields": {"Phone1": "{{ billing_address.phone | digits }}"},
            "row_fields": {"Description": "{{ sku }}: {{ title | title }}"},
        },
    },
    {
        "id": 2,
        "name": "Everything else",
        "enabled": True,
        "conditions": None,
        "actions": {
            "fields": {"Remarks": "{{ email | replace('@', ' at ') | default('guest') }}"},
            "row_fields": {"Project": "{{ property.project | default('WEB') | upper }}"},
        },
    },
]
PLAIN_RULES: list[dict[str, Any]] = [
    {
        "id": 3,
        "name": "Plain",
        "enabled": True,
        "conditions": None,
        "actions": {"fields": {"Remarks": "Order {{ name }}"}},
    }
]


async def store_legacy(pool: asyncpg.Pool, shop: str, version: int, rules: list[Any]) -> None:
    """A row as a release before Liquid wrote it (template_syntax defaults to legacy)."""
    await pool.execute(
        "INSERT INTO mapper.rule_sets (shop, version, rules, change, actor)"
        " VALUES ($1, $2, $3::jsonb, 'create 1', 'merchant')",
        shop,
        version,
        json.dumps(rules),
    )


async def versions(pool: asyncpg.Pool, shop: str) -> list[tuple[int, str, str | None]]:
    rows = await pool.fetch(
        "SELECT version, template_syntax, actor FROM mapper.rule_sets WHERE shop = $1"
        " ORDER BY version",
        shop,
    )
    return [(r["version"], r["template_syntax"], r["actor"]) for r in rows]


def documents(rules: RuleSet, orders: list[dict[str, Any]]) -> list[Any]:
    """Per order: the header, customer and row fields the (Liquid) rules set."""
    out = []
    for order in orders:
        settings = resolve(rules, order, ShopSettings()).settings
        out.append((settings.document_fields, settings.customer_fields, settings.line_fields))
    return out


def old_documents(orders: list[dict[str, Any]]) -> list[Any]:
    """The same, from the old rules rendered by the old engine (the oracle)."""
    old_rules = RuleSet.stored(1, OLD_RULES)

    def filled(templates: dict[str, str], data: dict[str, Any]) -> dict[str, str]:
        out = {}
        for field, template in templates.items():
            value = old_render(template, data)
            if value.strip():
                out[field] = value[:50] if field == "Description" else value
        return out

    out = []
    for order in orders:
        rule = first_match(old_rules, order, ShopSettings())
        assert rule is not None
        actions = rule.actions
        rows = {}
        for index, item in enumerate(order["line_items"]):
            row = filled(actions.row_fields, line_context(item, order))
            if row:
                rows[line_key(item, index)] = row
        out.append((filled(actions.fields, order), filled(actions.customer_fields, order), rows))
    return out


async def test_a_legacy_rule_set_becomes_a_new_liquid_version(
    mapper_pool: asyncpg.Pool, shop: str
) -> None:
    await store_legacy(mapper_pool, shop, 1, OLD_RULES)
    orders = [
        json.loads(p.read_text())
        for p in sorted(FIXTURES.glob("*.json"))
        if not p.name.endswith(".expected.json")
    ]

    assert await migrate_stored_rules(mapper_pool) >= 1
    assert await versions(mapper_pool, shop) == [
        (1, "legacy", "merchant"),
        (2, "liquid", MIGRATION_ACTOR),
    ]
    async with mapper_pool.acquire() as conn:
        after = await current_rule_set(conn, shop)
        old = await rule_set_version(conn, shop, 1)
    assert after.version == 2
    assert after.rules[0].actions.fields["YourReference"] == (
        "{{ billing_address.company | default: '-', allow_false: true | truncate: 20, '' }}"
    )
    assert old is not None  # the old template is kept in the history as it was
    assert (
        old.rules[0].actions.fields["YourReference"]
        == OLD_RULES[0]["actions"]["fields"]["YourReference"]
    )
    # The same orders get the same header, customer and row fields from the migrated rules.
    migrated = documents(after, orders)
    assert migrated == old_documents(orders)
    assert any(fields.get("YourReference") for fields, _, _ in migrated)  # both rules matched
    assert any(rows and "Project" in next(iter(rows.values())) for _, _, rows in migrated)

    assert await migrate_stored_rules(mapper_pool) == 0  # idempotent
    assert len(await versions(mapper_pool, shop)) == 2


async def test_replicas_starting_together_migrate_a_shop_once(
    mapper_pool: asyncpg.Pool, shop: str
) -> None:
    await store_legacy(mapper_pool, shop, 1, OLD_RULES)
    done = await asyncio.gather(*(migrate_shop(mapper_pool, shop) for _ in range(4)))
    assert sorted(done) == [False, False, False, True]
    assert [v for v, _, _ in await versions(mapper_pool, shop)] == [1, 2]


async def test_templates_that_read_the_same_are_only_marked(
    mapper_pool: asyncpg.Pool, shop: str
) -> None:
    await store_legacy(mapper_pool, shop, 1, PLAIN_RULES)
    assert await migrate_shop(mapper_pool, shop) is True
    assert await versions(mapper_pool, shop) == [(1, "liquid", "merchant")]


async def test_a_row_an_older_release_writes_later_is_read_as_liquid(
    mapper_pool: asyncpg.Pool, shop: str
) -> None:
    """During a rolling deploy an old replica may save a rule in the old syntax after this
    release migrated the shop: readers translate it until the next start migrates it."""
    await store_legacy(mapper_pool, shop, 1, PLAIN_RULES)
    await migrate_shop(mapper_pool, shop)
    await store_legacy(mapper_pool, shop, 2, OLD_RULES)
    async with mapper_pool.acquire() as conn:
        current = await current_rule_set(conn, shop)
    assert current.rules[1].actions.row_fields["Project"] == (
        "{{ property.project | default: 'WEB', allow_false: true | upcase }}"
    )
    assert await migrate_shop(mapper_pool, shop) is True
    assert [v for v, _, _ in await versions(mapper_pool, shop)] == [1, 2, 3]


async def test_the_mapper_migrates_before_its_consumers_start(
    mapper_pool: asyncpg.Pool, shop: str
) -> None:
    """The service's start hook (run before the consumers start) is the migration."""
    await store_legacy(mapper_pool, shop, 1, OLD_RULES)
    assert service.definition.on_start is not None
    runtime = SimpleNamespace(
        pool=mapper_pool, settings=SimpleNamespace(summary_close_interval_seconds=0)
    )
    await service.definition.on_start(runtime, None)  # type: ignore[arg-type]
    assert (await versions(mapper_pool, shop))[-1] == (2, "liquid", MIGRATION_ACTOR)
