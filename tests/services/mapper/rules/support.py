"""Helpers for the rules tests: rule sets from plain dicts, planning an event under them."""

from __future__ import annotations

from typing import Any

from libs.common.messages import FortnoxCommand
from services.mapper.accounting import OrderState, Plan, ShopSettings, plan_event
from services.mapper.rules.actions import resolve
from services.mapper.rules.engine import stamped
from services.mapper.rules.model import Rule, RuleSet, validate_rule

SHOP = "rules-test.myshopify.com"


def rule_set(*rules: dict[str, Any], version: int = 1) -> RuleSet:
    return RuleSet(
        version=version,
        rules=[Rule(id=i + 1, **validate_rule(rule).model_dump()) for i, rule in enumerate(rules)],
    )


def rule(
    actions: dict[str, Any], conditions: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "name": extra.pop("name", "rule"),
        "conditions": conditions,
        "actions": actions,
        **extra,
    }


def tagged(tag: str) -> dict[str, Any]:
    return {"field": "tags", "op": "contains", "value": tag}


def plan(
    topic: str,
    payload: dict[str, Any],
    rules: RuleSet,
    state: OrderState | None = None,
    settings: ShopSettings | None = None,
) -> Plan:
    resolution = resolve(rules, payload, settings or ShopSettings())
    return stamped(plan_event(SHOP, topic, payload, resolution.settings, state), resolution)


def only_document(result: Plan) -> FortnoxCommand:
    [command] = [c for c in result.commands if c.action == "create_document"]
    assert command.document is not None
    return command
