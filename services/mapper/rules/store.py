"""Rule sets and the latest order payloads in the mapper's schema.

Every change writes a new version of the shop's whole ordered rule list under a per-shop
advisory lock, so versions are dense (1, 2, 3, ...) and never rewritten: a command records the
version that made it. A version is at most ``MAX_RULE_SET_BYTES`` as JSON, and old versions are
pruned in the same transaction as each change, keeping every version work still names
(history.py). Rows say which template syntax they hold: a current version still in the syntax
before Liquid is read translated (migrate_liquid.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from services.mapper.accounting.invoices import timestamp
from services.mapper.accounting.money import UnmappableOrder
from services.mapper.rules import history
from services.mapper.rules.migrate_liquid import LEGACY, LIQUID, translate_rules
from services.mapper.rules.model import MAX_RULE_SET_BYTES, Rule, RuleSet, rules_json

Change = Callable[[list[Rule]], list[Rule]]


class RuleSetTooLarge(ValueError):
    """A change would make the shop's rule list larger than a version may be."""


async def current_rule_set(conn: Any, shop: str) -> RuleSet:
    row = await conn.fetchrow(
        "SELECT version, rules::text, template_syntax FROM mapper.rule_sets WHERE shop = $1"
        " ORDER BY version DESC LIMIT 1",
        shop,
    )
    if row is None:
        return RuleSet()
    rules = json.loads(row["rules"])
    if row["template_syntax"] == LEGACY:  # not migrated yet: run its templates as Liquid
        rules, _ = translate_rules(rules)
    return RuleSet.stored(row["version"], rules)


async def rule_set_version(conn: Any, shop: str, version: int) -> RuleSet | None:
    """A version as it was stored (a legacy version keeps its old templates); None when it
    never existed or was pruned."""
    raw = await conn.fetchval(
        "SELECT rules::text FROM mapper.rule_sets WHERE shop = $1 AND version = $2", shop, version
    )
    return None if raw is None else RuleSet.stored(version, json.loads(raw))


async def next_rule_id(conn: Any) -> int:
    return int(await conn.fetchval("SELECT nextval('mapper.rule_ids')"))


async def change_rules(
    pool: Any, shop: str, change: Change, *, description: str, actor: str | None
) -> RuleSet:
    """Apply ``change`` to the current rules and store the result as the next version.

    ``change`` may raise (e.g. LookupError for an unknown rule); nothing is written then.
    RuleSetTooLarge when the new list would be over ``MAX_RULE_SET_BYTES``.
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"mapper-rules:{shop}"
        )
        current = await current_rule_set(conn, shop)
        rules = change(list(current.rules))
        stored = rules_json(rules)
        if len(stored.encode()) > MAX_RULE_SET_BYTES:
            raise RuleSetTooLarge(
                f"the shop's rules would take {len(stored.encode()):,} bytes as JSON; a shop's "
                f"rules may take at most {MAX_RULE_SET_BYTES:,} (shorten or remove rules)"
            )
        version = current.version + 1
        await conn.execute(
            "INSERT INTO mapper.rule_sets (shop, version, rules, change, actor, template_syntax)"
            " VALUES ($1, $2, $3::jsonb, $4, $5, $6)",
            shop,
            version,
            stored,
            description,
            actor,
            LIQUID,
        )
        await history.prune(conn, shop)
    return RuleSet(version=version, rules=rules)


async def save_order_payload(
    conn: Any, shop: str, order_id: str, topic: str, payload: dict[str, Any]
) -> None:
    """Keep the order's newest full payload (by updated_at; equal or unknown: the later one)."""
    if "line_items" not in payload:
        return
    try:
        updated_at = timestamp(payload.get("updated_at"))
    except UnmappableOrder:
        updated_at = None
    await conn.execute(
        """
        INSERT INTO mapper.order_payloads (shop, order_id, topic, payload, updated_at)
        VALUES ($1, $2, $3, $4::jsonb, $5)
        ON CONFLICT (shop, order_id) DO UPDATE SET
            topic = EXCLUDED.topic, payload = EXCLUDED.payload,
            updated_at = EXCLUDED.updated_at, stored_at = now()
        WHERE mapper.order_payloads.updated_at IS NULL OR EXCLUDED.updated_at IS NULL
            OR EXCLUDED.updated_at >= mapper.order_payloads.updated_at
        """,
        shop,
        order_id,
        topic,
        json.dumps(payload, default=str),
        updated_at,
    )


async def load_order_payload(conn: Any, shop: str, order_id: str) -> dict[str, Any] | None:
    raw = await conn.fetchval(
        "SELECT payload::text FROM mapper.order_payloads WHERE shop = $1 AND order_id = $2",
        shop,
        order_id,
    )
    return None if raw is None else dict(json.loads(raw))
