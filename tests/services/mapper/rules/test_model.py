"""Rule validation when saved: every error names the field path and what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from services.mapper.rules.model import RuleValidationError, validate_rule


def problems(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(RuleValidationError) as caught:
        validate_rule(data)
    return caught.value.problems


def test_a_valid_rule() -> None:
    rule = validate_rule(
        {
            "name": "B2B",
            "conditions": {"field": "tags", "op": "contains", "value": "B2B"},
            "actions": {
                "document_kind": "order",
                "terms_of_payment": "30",
                "cost_center": "WEB",
                "accounts": {"sweden": {"25": 3011}},
                "fields": {"Remarks": "Order {{ name }}"},
            },
        }
    )
    assert rule.enabled and rule.actions.cost_center == "WEB"


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        ({"actions": {}}, "mapping_rule.name", "is required"),
        ({"name": "x"}, "mapping_rule.actions", "is required"),
        (
            {"name": "x", "actions": {"trigger": "later"}},
            "mapping_rule.actions.trigger",
            "'create', 'paid' or 'fulfilled'",
        ),
        (
            {"name": "x", "actions": {"document_kind": "receipt"}},
            "mapping_rule.actions.document_kind",
            "'invoice', 'order' or 'none'",
        ),
        (
            {"name": "x", "actions": {"colour": "red"}},
            "mapping_rule.actions.colour",
            "is not a field Fortbridge knows here",
        ),
        (
            {"name": "x", "actions": {"accounts": {"export": 12}}},
            "mapping_rule.actions.accounts.export",
            "must be at least 1000",
        ),
        (
            {"name": "x", "actions": {"accounts": {"sweden": {"lots": 3001}}}},
            "mapping_rule.actions.accounts.sweden",
            "'lots' is not a VAT rate",
        ),
        (
            {"name": "x", "actions": {"language": "DE"}},
            "mapping_rule.actions.language",
            "'SV' or 'EN'",
        ),
        (
            {"name": "x", "actions": {"terms_of_payment": ""}},
            "mapping_rule.actions.terms_of_payment",
            "must not be empty",
        ),
        (
            {"name": "x", "actions": {"article_number_source": "metafield"}},
            "mapping_rule.actions",
            "article_metafield is required",
        ),
        (
            {"name": "x", "actions": {"fields": {"Total": "1"}}},
            "mapping_rule.actions.fields.Total",
            "not a Fortnox field a rule may set",
        ),
        (
            {"name": "x", "actions": {"fields": {"Remarks": "{{ name | eval }}"}}},
            "mapping_rule.actions.fields.Remarks",
            "unknown filter 'eval'",
        ),
        (
            {"name": "x", "actions": {"fields": {"Remarks": "{{ name"}}},
            "mapping_rule.actions.fields.Remarks",
            "expected '}}', found end of file (at character 1)",
        ),
        (
            {
                "name": "x",
                "conditions": {"any": [{"field": "tags", "op": "gt", "value": "1"}]},
                "actions": {},
            },
            "mapping_rule.conditions.any[0].op",
            "'gt' is not an operator",
        ),
        (
            {
                "name": "x",
                "conditions": {"field": "total_price", "op": "gt", "value": "x"},
                "actions": {},
            },
            "mapping_rule.conditions.value",
            "'x' is not a decimal number",
        ),
        ("a rule", "mapping_rule", "an object is required"),
    ],
)
def test_errors_name_the_field_path(data: Any, path: str, fragment: str) -> None:
    found = problems(data)
    assert any(p == path and fragment in m for p, m in found), found


def test_every_problem_is_reported() -> None:
    found = problems({"name": "", "actions": {"trigger": "x", "language": "x"}})
    assert {p for p, _ in found} == {
        "mapping_rule.name",
        "mapping_rule.actions.trigger",
        "mapping_rule.actions.language",
    }
