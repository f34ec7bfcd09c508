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

Templates read a bounded view of the order (templates.bounded_view) and share one ``Work``
budget per order. A template that goes over a cap or cannot be filled fails the order with
``RuleTemplateFailed`` (a PermanentError: the order becomes a failed job that names the rule,
the field and the reason); nothing else is affected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from libs.common.errors import PermanentError
from services.mapper.accounting.rows import line_key
from services.mapper.accounting.settings import SalesAccounts, ShopSettings
from services.mapper.rules.conditions import OrderFacts, matches
from services.mapper.rules.fields import ROW_DESCRIPTION_LENGTH
from services.mapper.rules.model import AccountsPatch, Actions, Rule, RuleSet
from services.mapper.rules.templates import (
    TemplateError,
    TemplateLimitError,
    TemplateRenderError,
    Work,
    bounded_view,
    render,
)

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
    "booking",
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
    facts = OrderFacts(order, settings)  # each field read once for every rule
    for rule in rule_set.rules:
        if rule.enabled and matches(rule.conditions, order, settings, facts):
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


class FieldTemplateFailed(ValueError):
    """A template of the matched rule could not be filled for this order."""

    def __init__(self, path: str, field: str, exc: Exception) -> None:
        super().__init__(f"{path}: {exc}")
        self.path = path  # e.g. actions.fields.Remarks
        self.field = field
        self.reason = str(exc)
        self.over_limit = isinstance(exc, TemplateLimitError)


class RuleTemplateFailed(PermanentError):
    """The matched rule's template failed on this order: only this order fails (a failed job
    explaining which rule, which Fortnox field and why)."""

    def __init__(self, rule: Rule, version: int, failed: FieldTemplateFailed) -> None:
        self.rule_id = rule.id
        self.path = failed.path
        self.reason = failed.reason
        code = "template_limit" if failed.over_limit else "template_error"
        what = "is too costly for this order" if failed.over_limit else "could not be filled"
        super().__init__(
            f"rule {rule.id} {rule.name!r} (rule set version {version}): {failed.path}: "
            f"{failed.reason}",
            code=code,
            explanation=(
                f"The mapping rule {rule.name!r} sets the Fortnox field {failed.field} with a "
                f"template that {what}: {failed.reason}. Change the rule's template (the limits "
                "are in the rules guide) and replay the order."
            ),
        )


def _fill(template: str, data: dict[str, Any], work: Work, path: str, field: str) -> str:
    try:
        return render(template, data, work)
    except (TemplateError, TemplateLimitError, TemplateRenderError) as exc:
        raise FieldTemplateFailed(path, field, exc) from exc


def apply_actions(
    actions: Actions, settings: ShopSettings, order: dict[str, Any], work: Work | None = None
) -> ShopSettings:
    """``settings`` with the actions applied for ``order``; FieldTemplateFailed when one of its
    templates goes over a cap or cannot be filled."""
    work = work or Work()
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
    templated = actions.fields or actions.customer_fields or actions.row_fields
    view: dict[str, Any] = bounded_view(order) if templated else {}
    for fortnox, template in actions.fields.items():
        value = _fill(template, view, work, f"actions.fields.{fortnox}", fortnox)
        if value.strip():
            fields[fortnox] = value
        else:
            fields.pop(fortnox, None)
    update["document_fields"] = fields
    if actions.customer_fields:
        update["customer_fields"] = {
            **settings.customer_fields,
            **_rendered(actions.customer_fields, view, work, "customer_fields"),
        }
    if actions.row_fields:
        update["line_fields"] = line_fields(actions.row_fields, order, work, view)
    return ShopSettings.model_validate({**settings.model_dump(), **update})


def _rendered(
    templates: dict[str, str], data: dict[str, Any], work: Work, kind: str
) -> dict[str, str]:
    """Each template filled from ``data``; one that renders empty (or blank) is left out."""
    out = {}
    for fortnox, template in templates.items():
        value = _fill(template, data, work, f"actions.{kind}.{fortnox}", fortnox)
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


def line_fields(
    templates: dict[str, str],
    order: dict[str, Any],
    work: Work | None = None,
    view: dict[str, Any] | None = None,
) -> dict[str, dict[str, str]]:
    """Row key (rows.line_key) -> the row fields rendered over that line item.

    ``view``: the order's bounded view when the caller made it already (keys are still the
    full order's line items: every line item gets its row fields)."""
    work = work or Work()
    view = bounded_view(order) if view is None else view
    listed = view.get("line_items")
    seen: list[Any] = listed if isinstance(listed, list) else []
    out: dict[str, dict[str, str]] = {}
    for index, item in enumerate(order.get("line_items") or []):
        if isinstance(item, dict):
            shown = seen[index] if index < len(seen) else bounded_view(item, 1)
            rendered = _rendered(templates, line_context(shown, view), work, "row_fields")
            if rendered:
                out[line_key(item, index)] = rendered
    return out


def resolve(rule_set: RuleSet, order: dict[str, Any] | None, default: ShopSettings) -> Resolution:
    """The settings for ``order`` (None: no order known, the shop default applies).

    Raises RuleTemplateFailed when the matched rule's template fails on this order."""
    rule = None if order is None else first_match(rule_set, order, default)
    if rule is None or order is None:
        return Resolution(default, None, rule_set.version)
    try:
        settings = apply_actions(rule.actions, default, order, Work())
    except FieldTemplateFailed as failed:
        raise RuleTemplateFailed(rule, rule_set.version, failed) from failed
    return Resolution(settings, rule, rule_set.version)
