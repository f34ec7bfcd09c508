"""Rule conditions: each field and operator, all/any/not, and errors naming the path."""

from __future__ import annotations

from typing import Any

import pytest

from services.mapper.accounting import ShopSettings
from services.mapper.rules import conditions
from services.mapper.rules.actions import first_match
from services.mapper.rules.conditions import (
    MAX_LISTED,
    MAX_NODES,
    ConditionError,
    matches,
    parse_condition,
)
from simulators.shopify.payloads import order_payload
from tests.services.mapper.rules.support import rule_set

SETTINGS = ShopSettings()


def order(**changes: Any) -> dict[str, Any]:
    payload = order_payload(tags="B2B, Wholesale", gateway="klarna")
    payload["customer"]["tags"] = "vip"
    payload["billing_address"]["country_code"] = "SE"
    payload["shipping_address"]["country_code"] = "NO"
    payload.update(changes)
    return payload


def holds(condition: dict[str, Any], payload: dict[str, Any] | None = None) -> bool:
    return matches(parse_condition(condition), payload or order(), SETTINGS)


def leaf(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (leaf("tags", "contains", "b2b"), True),  # case-insensitive, comma-separated
        (leaf("tags", "contains", "B2"), False),  # whole tags only
        (leaf("tags", "not_contains", "B2B"), False),
        (leaf("tags", "contains_any", ["retail", "wholesale"]), True),
        (leaf("customer_tags", "contains", "VIP"), True),
        (leaf("payment_gateway", "contains", "klarna"), True),
        (leaf("source_name", "eq", "web"), True),
        (leaf("source_name", "in", ["pos", "shopify_draft_order"]), False),
        (leaf("billing_country", "eq", "se"), True),
        (leaf("shipping_country", "not_in", ["SE", "DK"]), True),
        (leaf("currency", "eq", "SEK"), True),
        (leaf("customer_type", "eq", "private"), True),
        (leaf("financial_status", "eq", "paid"), True),
        (leaf("fulfillment_status", "eq", "unfulfilled"), True),  # Shopify sends null
        (leaf("total_price", "gt", "100"), True),
        (leaf("total_price", "lte", 100), False),
        (leaf("total_price", "ne", "0.00"), True),
    ],
)
def test_each_field_and_operator(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


def test_company_customers() -> None:
    payload = order()
    payload["billing_address"]["company"] = "Acme AB"
    assert holds(leaf("customer_type", "eq", "company"), payload)


def test_total_threshold_compares_decimals() -> None:
    assert holds(leaf("total_price", "gte", "1000.00"), order(total_price="1000"))
    assert not holds(leaf("total_price", "gt", "1000"), order(total_price="1000.00"))
    assert not holds(leaf("total_price", "gt", "0"), order(total_price=None))


def test_all_any_not() -> None:
    b2b, pos = leaf("tags", "contains", "B2B"), leaf("source_name", "eq", "pos")
    assert holds({"all": [b2b, {"not": pos}]})
    assert not holds({"all": [b2b, pos]})
    assert holds({"any": [pos, b2b]})
    assert not holds({"any": [pos]})
    assert holds({"all": []}) and not holds({"any": []})
    assert holds({"not": {"not": b2b}})


def test_odd_payloads_do_not_match_and_do_not_raise() -> None:
    weird = {"billing_address": "Main street", "customer": ["x"], "tags": 5}
    assert not holds(leaf("billing_country", "eq", "SE"), weird)
    assert not holds(leaf("customer_type", "eq", "company"), weird)
    assert not holds(leaf("tags", "contains", "5,"), weird)


@pytest.mark.parametrize(
    ("condition", "path", "message"),
    [
        ("tags", "", "a condition is an object"),
        ({"field": "colour", "op": "eq", "value": "red"}, "field", "'colour' is not a field"),
        (leaf("tags", "gt", "1"), "op", "'gt' is not an operator for tags (list)"),
        (leaf("total_price", "gt", "lots"), "value", "'lots' is not a decimal number"),
        (leaf("total_price", "gt", True), "value", "a decimal number is required"),
        (leaf("source_name", "in", "web"), "value", "a list of 1 to 200 texts"),
        (leaf("source_name", "in", ["web", ""]), "value[1]", "non-empty text"),
        ({"field": "tags", "op": "contains"}, "value", "a value is required"),
        ({"field": "tags", "op": "contains", "value": "x", "extra": 1}, "extra", "unknown key"),
        (
            {"all": [leaf("tags", "contains", "x"), {"not": leaf("tags", "eq", "x")}]},
            "all[1].not.op",
            "'eq' is not an operator for tags",
        ),
        ({"any": "x"}, "any", "a list of at most 50 conditions"),
        ({"all": [], "any": []}, "", "must be the object's only key"),
    ],
)
def test_errors_name_the_path(condition: Any, path: str, message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(condition)
    assert caught.value.path == path
    assert message in caught.value.message


def test_nesting_is_bounded() -> None:
    node: dict[str, Any] = leaf("tags", "contains", "x")
    for _ in range(12):
        node = {"not": node}
    with pytest.raises(ConditionError, match="nest at most"):
        parse_condition(node)


def test_a_rules_conditions_are_capped_in_parts_and_listed_values() -> None:
    fifty = {"any": [leaf("tags", "contains", f"t{i}") for i in range(50)]}
    many = {"any": [fifty, fifty]}  # 1 + 2 + 100 parts
    with pytest.raises(ConditionError) as caught:
        parse_condition(many)
    assert caught.value.path == "any[1].any[47]"  # the 101st part
    assert f"at most {MAX_NODES} parts" in caught.value.message
    parse_condition({"any": [fifty, {"any": fifty["any"][:47]}]})  # 100 parts are fine

    listed = {"any": [leaf("tags", "contains_any", [f"v{i}" for i in range(200)])] * 6}
    with pytest.raises(ConditionError, match=f"at most {MAX_LISTED} values in all"):
        parse_condition(listed)


def test_matching_reads_each_order_field_once_whatever_the_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """200 rules of 100 conditions over a long tag list: the tags are split and case-folded
    once for the order, not once per condition (matching is linear in the rules' size)."""
    reads: list[str] = []
    original = conditions.order_value

    def counted(payload: dict[str, Any], field: str, settings: ShopSettings) -> Any:
        reads.append(field)
        return original(payload, field, settings)

    monkeypatch.setattr(conditions, "order_value", counted)
    tags = {"any": [leaf("tags", "contains", f"x{i}") for i in range(48)]}
    sources = {"any": [leaf("source_name", "in", [f"s{i}" for i in range(9)])] * 48}
    condition = parse_condition({"all": [tags, sources]})  # 99 parts, 432 listed values
    rules = rule_set(
        *[{"name": f"r{i}", "conditions": condition, "actions": {}} for i in range(200)]
    )
    payload = order(tags=", ".join(f"tag{i}" for i in range(5000)))
    assert first_match(rules, payload, SETTINGS) is None
    assert sorted(reads) == ["tags"]  # all() stops at the first tag that is missing
    reads.clear()
    everything = parse_condition(
        {"all": [leaf("tags", "not_contains", "x"), leaf("source_name", "ne", "x")]}
    )
    rules = rule_set(
        *[{"name": f"r{i}", "conditions": {"not": everything}, "actions": {}} for i in range(200)]
    )
    assert first_match(rules, payload, SETTINGS) is None
    assert sorted(reads) == ["source_name", "tags"]
