"""Moving stored rules to Liquid templates: once per shop, at service start, idempotently.

Every ``rule_sets`` row says which template syntax it holds (``template_syntax``): ``legacy``
(the syntax before Liquid: every row written before migration 0004, and any row an older
release writes during a rolling deploy) or ``liquid``. At start the mapper looks at each shop's
current version; when it is ``legacy``, under the shop's rule lock (the advisory lock every rule
change takes, so replicas starting together migrate a shop once) and after reading it again, it
stores the Liquid translation (legacy_templates.to_liquid) as a new version made by
``fortbridge`` ("migrate templates to Liquid"); the old version stays in the history as it was.
A rule set whose templates read the same in both syntaxes is only marked ``liquid``.

Until a shop is migrated (or for a legacy row an older replica wrote meanwhile), readers
translate its current version in memory (store.current_rule_set), so the templates always run
under Liquid and its caps. A template Liquid cannot say (a filter argument holding '}}' or both
kinds of quote) is left out of the new version and named in its change description and the log.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from libs.common.logs import get_logger
from services.mapper.rules.legacy_templates import (
    TemplateError,
    UntranslatableTemplate,
    to_liquid,
)

log = get_logger(__name__)

LEGACY = "legacy"
LIQUID = "liquid"
TEMPLATE_KINDS = ("fields", "customer_fields", "row_fields")
MIGRATION_ACTOR = "fortbridge"
MIGRATION_CHANGE = "migrate templates to Liquid"


def translate_rules(rules: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The rules (stored JSON) with every template in Liquid, and what had to be left out."""
    out = copy.deepcopy(rules)
    dropped: list[str] = []
    for rule in out:
        actions = rule.get("actions") if isinstance(rule, dict) else None
        if not isinstance(actions, dict):
            continue
        for kind in TEMPLATE_KINDS:
            templates = actions.get(kind)
            if not isinstance(templates, dict):
                continue
            for field, template in list(templates.items()):
                try:
                    templates[field] = to_liquid(str(template))
                except (TemplateError, UntranslatableTemplate) as exc:
                    del templates[field]
                    dropped.append(f"rule {rule.get('id')} actions.{kind}.{field}: {exc}")
    return out, dropped


async def migrate_shop(pool: Any, shop: str) -> bool:
    """Migrate ``shop``'s current rule set if it is still in the old syntax; True if it was."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"mapper-rules:{shop}"
        )
        row = await conn.fetchrow(
            "SELECT version, rules::text, template_syntax FROM mapper.rule_sets"
            " WHERE shop = $1 ORDER BY version DESC LIMIT 1",
            shop,
        )
        if row is None or row["template_syntax"] != LEGACY:
            return False  # another replica did it, or nothing to do
        rules = json.loads(row["rules"])
        translated, dropped = translate_rules(rules)
        if translated == rules:
            await conn.execute(
                "UPDATE mapper.rule_sets SET template_syntax = $3 WHERE shop = $1 AND version = $2",
                shop,
                row["version"],
                LIQUID,
            )
            return True
        change = MIGRATION_CHANGE
        if dropped:
            change += "; left out (not expressible in Liquid): " + "; ".join(dropped)
        await conn.execute(
            "INSERT INTO mapper.rule_sets (shop, version, rules, change, actor, template_syntax)"
            " VALUES ($1, $2, $3::jsonb, $4, $5, $6)",
            shop,
            row["version"] + 1,
            json.dumps(translated),
            change[:2000],
            MIGRATION_ACTOR,
            LIQUID,
        )
    if dropped:
        log.warning("rule templates left out when migrating to Liquid", shop=shop, left_out=dropped)
    log.info("rule templates migrated to Liquid", shop=shop, version=row["version"] + 1)
    return True


async def migrate_stored_rules(pool: Any) -> int:
    """Migrate every shop whose current rule set is in the old syntax; the number migrated."""
    shops = await pool.fetch(
        "SELECT shop FROM (SELECT DISTINCT ON (shop) shop, template_syntax FROM mapper.rule_sets"
        " ORDER BY shop, version DESC) AS current WHERE template_syntax = $1",
        LEGACY,
    )
    migrated = 0
    for row in shops:
        migrated += await migrate_shop(pool, row["shop"])
    return migrated
