"""A dry run: what the shop's current rules would make of an order, with no side effects.

Pure: the order, the shop's settings and its rule set in; the matched rule and the Fortnox
commands out. Nothing is published, stored or sent to Fortnox. The document is planned as the
order's first document (what its trigger event would create), whatever the trigger. The rule set
may hold a draft rule (id ``DRAFT_RULE_ID``, never saved): a match on it says so. A template
of the matching rule that fails on this order shows as the ``error`` the order would fail with
(``template_limit`` / ``template_error``, naming the rule and the field).
"""

from __future__ import annotations

from typing import Any

from libs.common.errors import PermanentError
from services.mapper.accounting import ShopSettings
from services.mapper.accounting.invoices import create_invoice
from services.mapper.accounting.triggers import NO_DOCUMENT
from services.mapper.accounting.vat_numbers import VatCheck
from services.mapper.rules.actions import Resolution, RuleTemplateFailed, resolve
from services.mapper.rules.model import RuleSet

# The id a draft rule has in a preview; saved rules' ids start at 1.
DRAFT_RULE_ID = 0


def preview(
    shop: str,
    order: dict[str, Any],
    settings: ShopSettings,
    rules: RuleSet,
    vat: VatCheck | None = None,
) -> dict[str, Any]:
    """The documents the order would make; ``vat``: what is known of its VAT number
    (vies.known_check; None shows a reverse charge order as if its number were valid)."""
    try:
        resolution = resolve(rules, order, settings)
    except RuleTemplateFailed as failed:
        return _failed(rules, failed)
    resolved = resolution.settings
    out: dict[str, Any] = {
        "rule_set_version": resolution.version,
        "matched_rule": _rule(resolution),
        "document_kind": resolved.document_kind,
        "trigger": resolved.trigger,
        "bookkeep": resolved.bookkeep_invoices,
        "send_email": resolved.send_email,
        "documents": [],
        "skipped": None,
        "error": None,
    }
    if resolved.document_kind == "none":
        out["skipped"] = NO_DOCUMENT
        return out
    try:
        command, _ = create_invoice(shop, order, resolved, None, vat=vat)
    except PermanentError as exc:
        out["error"] = {"code": exc.code, "message": exc.message}
        return out
    except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
        # A payload that is not a Shopify order shape: the handler would fail it the same way.
        message = f"the order payload could not be read ({type(exc).__name__}: {exc})"
        out["error"] = {"code": "unreadable_order", "message": message[:500]}
        return out
    command = command.model_copy(update={"rule_version": resolution.version})
    out["documents"] = [command.model_dump(mode="json", exclude={"shop"})]
    return out


def _failed(rules: RuleSet, failed: RuleTemplateFailed) -> dict[str, Any]:
    """What the order would do: fail on the rule's template, with the reason."""
    rule = next(r for r in rules.rules if r.id == failed.rule_id)
    matched = _rule(Resolution(ShopSettings(), rule, rules.version))
    return {
        "rule_set_version": rules.version,
        "matched_rule": matched,
        "document_kind": None,
        "trigger": None,
        "bookkeep": None,
        "send_email": None,
        "documents": [],
        "skipped": None,
        "error": {
            "code": failed.code,
            "message": failed.message,
            "path": failed.path,
            "reason": failed.reason,
        },
    }


def _rule(resolution: Resolution) -> dict[str, Any] | None:
    rule = resolution.rule
    if rule is None:
        return None
    if rule.id == DRAFT_RULE_ID:
        return {"id": None, "name": rule.name, "draft": True}
    return {"id": rule.id, "name": rule.name, "draft": False}
