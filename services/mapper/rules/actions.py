"""Applying rules: the first enabled rule whose conditions hold overrides the shop's defaults.

The result is plain ``ShopSettings`` (with ``document_fields`` rendered for this order), so the
accounting planner stays pure and knows nothing about rules. Header fields are set in this
order, later ones winning: the shop's ``document_fields``, the named actions (TermsOfPayment,
OurReference, CostCenter, Project, PriceList, Language), then the rule's field templates. A
template that renders empty leaves its field out.

The rule's customer templates are rendered over the order into ``customer_fields`` (used when
Fortbridge creates the order's customer); its row templates over each line item (with the
order as ``order`` and the line's properties by name as ``property``) into ``line_fields``,
keyed by the line item's row key. Row and customer templates that render empty set nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.mapper.accounting.rows import line_key
from services.mapper.accounting.settings import SalesAccounts, ShopSettings
from services.mapper.rules.conditions import matches
from services.mapper.rules.fields import ROW_DESCRIPTION_LENGTH
from services.mapper.rules.model import AccountsPatch, Actions, Rule, RuleSet
from services.mapper.rules.templates import render

# Actions that set a ShopSettings field of another name, and those that set a header field.
_SETTING_NAMES = {"bookkeep": "bookkeep_invoices"}
_SAME_NAME = (
    "document_kind",
    "trigger",
    "send_email",
    "article_number_source",
    "article_metafield",
    "customer_match",
    "guest_customer_name",
    "shipping_as",
    "document_currency",
    "currency_rate",
)
HEADER_ACTIONS = {
    "terms_of_payment": "TermsOfPayment",
    "our_reference": "OurReference",
    "cost_center": "CostCenter",
    "project": "Project",
    "price_list": "PriceList",
    "language": "Language",
}


@dataclass(frozen=True)
class Resolution:
    """What the rules decided for one order: the settings, the rule (None: the shop default)
    and the rule-set version they come from."""

    settings: ShopSettings
    rule: Rule | None
    version: int

    def describe(self) -> str:
        where = f"rule set version {self.version}"
        if self.rule is None:
            return f"the shop's default settings ({where}: no rule matched)"
        return f"rule {self.rule.id} {self.rule.name!r} ({where})"


def first_match(rule_set: RuleSet, order: dict[str, Any], settings: ShopSettings) -> Rule | None:
    for rule in rule_set.rules:
        if rule.enabled and matches(rule.conditions, order, settings):
            return rule
    return None


def _accounts(base: SalesAccounts, patch: AccountsPatch) -> SalesAccounts:
    update: dict[str, Any] = {
        name: value
        for name, value in patch.model_dump(exclude_none=True).items()
        if name != "sweden"
    }
    if patch.sweden:
        update["sweden"] = {**base.sweden, **patch.sweden}
    return base.model_copy(update=update)


def apply_actions(actions: Actions, settings: ShopSettings, order: dict[str, Any]) -> ShopSettings:
    update: dict[str, Any] = {}
    for name in _SAME_NAME:
        if getattr(actions, name) is not None:
            update[name] = getattr(actions, name)
    for name, setting in _SETTING_NAMES.items():
        if getattr(actions, name) is not None:
            update[setting] = getattr(actions, name)
    if actions.accounts is not None:
        update["accounts"] = _accounts(settings.accounts, actions.accounts)
    fields = dict(settings.document_fields)
    for name, fortnox in HEADER_ACTIONS.items():
        if getattr(actions, name) is not None:
            fields[fortnox] = getattr(actions, name)
    for fortnox, template in actions.fields.items():
        value = render(template, order)
        if value.strip():
            fields[fortnox] = value
        else:
            fields.pop(fortnox, None)
    update["document_fields"] = fields
    if actions.customer_fields:
        update["customer_fields"] = {
            **settings.customer_fields,
            **_rendered(actions.customer_fields, order),
        }
    if actions.row_fields:
        update["line_fields"] = line_fields(actions.row_fields, order)
    return ShopSettings.model_validate({**settings.model_dump(), **update})


def _rendered(templates: dict[str, str], data: dict[str, Any]) -> dict[str, str]:
    """Each template filled from ``data``; one that renders empty (or blank) is left out."""
    out = {}
    for fortnox, template in templates.items():
        value = render(template, data)
        if value.strip():
            out[fortnox] = value[:ROW_DESCRIPTION_LENGTH] if fortnox == "Description" else value
    return out


def line_context(item: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    """What a row template sees: the line item, ``order`` and its properties by name."""
    properties = {
        str(entry.get("name")): entry.get("value")
        for entry in item.get("properties") or []
        if isinstance(entry, dict) and entry.get("name") is not None
    }
    return {**item, "order": order, "property": properties}


def line_fields(templates: dict[str, str], order: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Row key (rows.line_key) -> the row fields rendered over that line item."""
    out: dict[str, dict[str, str]] = {}
    for index, item in enumerate(order.get("line_items") or []):
        if isinstance(item, dict):
            rendered = _rendered(templates, line_context(item, order))
            if rendered:
                out[line_key(item, index)] = rendered
    return out


def resolve(rule_set: RuleSet, order: dict[str, Any] | None, default: ShopSettings) -> Resolution:
    """The settings for ``order`` (None: no order known, the shop default applies)."""
    rule = None if order is None else first_match(rule_set, order, default)
    if rule is None or order is None:
        return Resolution(default, None, rule_set.version)
    return Resolution(apply_actions(rule.actions, default, order), rule, rule_set.version)
