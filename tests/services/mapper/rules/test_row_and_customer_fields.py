"""Row and customer templates: validated when saved (allowed fields only, identity and matching
fields refused), rendered per line item and over the order, and carried to the commands."""

from __future__ import annotations

from typing import Any

import pytest

from services.mapper.accounting import ShopSettings
from services.mapper.rules.actions import line_context, line_fields
from services.mapper.rules.model import RuleValidationError, validate_rule
from simulators.shopify.payloads import LineSpec, order_payload
from tests.services.mapper.builders import refund_payload
from tests.services.mapper.rules.support import only_document, plan, rule, rule_set, tagged

ROW_RULE = {
    "Project": "{{ property.project | default: 'WEB' | upcase }}",
    "CostCenter": "{{ order.source_name | upcase | slice: 0, 3 }}",
    "Unit": "st",
    "Description": "{{ sku }}: {{ title }}",
}
CUSTOMER_RULE = {
    "Phone1": "{{ billing_address.phone | digits }}",
    "DeliveryName": "{{ shipping_address.name }}",
    "Comments": "Shopify {{ name }}",
    "ExternalReference": "{{ customer.id }}",
    "YourReference": "{{ customer.nothing }}",
}


def problems(actions: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(RuleValidationError) as caught:
        validate_rule({"name": "x", "actions": actions})
    return caught.value.problems


def payload() -> dict[str, Any]:
    lines = [
        LineSpec("Mugg", "100.00", 1, "0.25", "MUG-1", properties=(("project", "p-42"),)),
        LineSpec("Bok", "50.00", 2, "0.06", "BOOK-1"),
    ]
    order = order_payload(lines=lines)
    order["billing_address"]["phone"] = "+46 (0)70-123 45 67"
    return order


def test_allowed_templates_are_saved() -> None:
    saved = validate_rule(
        {"name": "x", "actions": {"row_fields": ROW_RULE, "customer_fields": CUSTOMER_RULE}}
    )
    assert saved.actions.row_fields == ROW_RULE
    assert saved.actions.customer_fields == CUSTOMER_RULE


@pytest.mark.parametrize(
    ("actions", "path", "fragment"),
    [
        (
            {"customer_fields": {"CustomerNumber": "{{ customer.id }}"}},
            "mapping_rule.actions.customer_fields.CustomerNumber",
            "a rule may not set CustomerNumber: Fortnox numbers new customers",
        ),
        (
            {"customer_fields": {"Email": "x@example.com"}},
            "mapping_rule.actions.customer_fields.Email",
            "Fortbridge finds the customer by it",
        ),
        (
            {"customer_fields": {"OrganisationNumber": "556677-8899"}},
            "mapping_rule.actions.customer_fields.OrganisationNumber",
            "Fortbridge finds the customer by it",
        ),
        (
            {"customer_fields": {"VATType": "EXPORT"}},
            "mapping_rule.actions.customer_fields.VATType",
            "VAT market",
        ),
        (
            {"customer_fields": {"Colour": "red"}},
            "mapping_rule.actions.customer_fields.Colour",
            "not a Fortnox field a rule may set on the customer; use one of",
        ),
        (
            {"customer_fields": {"Phone1": "{{ phone | shout }}"}},
            "mapping_rule.actions.customer_fields.Phone1",
            "unknown filter 'shout'",
        ),
        (
            {"customer_fields": {"Phone1": 46}},
            "mapping_rule.actions.customer_fields.Phone1",
            "must be text",
        ),
        (
            {"row_fields": {"Price": "0"}},
            "mapping_rule.actions.row_fields.Price",
            "Fortbridge computes the row's amounts",
        ),
        (
            {"row_fields": {"Remarks": "x"}},
            "mapping_rule.actions.row_fields.Remarks",
            "not a Fortnox field a rule may set on a row; use one of CostCenter, Description, "
            "Project, Unit",
        ),
        (
            {"row_fields": {"Project": "{% for x in order.line_items %}{{ x }}{% endfor %}"}},
            "mapping_rule.actions.row_fields.Project",
            "unexpected tag 'for'",
        ),
        (
            {"fields": {"Total": "1"}},
            "mapping_rule.actions.fields.Total",
            "not a Fortnox field a rule may set; use one of",
        ),
    ],
)
def test_refused_templates_name_the_field_path(
    actions: dict[str, Any], path: str, fragment: str
) -> None:
    found = problems(actions)
    assert any(p == path and fragment in m for p, m in found), found


def test_every_bad_field_of_every_map_is_reported() -> None:
    found = problems(
        {
            "fields": {"Total": "1", "Remarks": "{{ x"},
            "customer_fields": {"CustomerNumber": "1", "Name": "ok", "Type": "COMPANY"},
            "row_fields": {"VAT": "25"},
        }
    )
    assert [p for p, _ in found] == [
        "mapping_rule.actions.fields.Total",
        "mapping_rule.actions.fields.Remarks",
        "mapping_rule.actions.customer_fields.CustomerNumber",
        "mapping_rule.actions.customer_fields.Type",
        "mapping_rule.actions.row_fields.VAT",
    ]


def test_a_row_template_sees_the_line_its_properties_and_the_order() -> None:
    order = payload()
    item = order["line_items"][0]
    context = line_context(item, order)
    assert context["sku"] == "MUG-1" and context["order"] is order
    assert context["property"] == {"project": "p-42"}
    rendered = line_fields(ROW_RULE, order)
    first, second = (f"line:{line['id']}" for line in order["line_items"])
    assert rendered[first] == {
        "Project": "P-42",
        "CostCenter": "WEB",
        "Unit": "st",
        "Description": "MUG-1: Mugg",
    }
    assert rendered[second]["Project"] == "WEB"  # no property: the default


def test_row_templates_rendering_empty_set_nothing_and_descriptions_fit() -> None:
    order = payload()
    order["line_items"][0]["title"] = "x" * 80
    rendered = line_fields({"Project": "{{ property.none }}", "Description": "{{ title }}"}, order)
    first = rendered[f"line:{order['line_items'][0]['id']}"]
    assert first == {"Description": "x" * 50}  # Fortnox row descriptions hold 50 characters


def test_row_fields_reach_product_rows_only() -> None:
    command = only_document(
        plan("orders/create", payload(), rule_set(rule({"row_fields": ROW_RULE})))
    )
    assert command.document is not None
    rows = {row.description: row for row in command.document.rows}
    assert rows["Mugg"].fields == {
        "Project": "P-42",
        "CostCenter": "WEB",
        "Unit": "st",
        "Description": "MUG-1: Mugg",
    }
    assert rows["Bok"].fields["Project"] == "WEB"
    shipping = [row for row in command.document.rows if row.article_number is None]
    assert shipping and all(row.fields == {} for row in shipping)


def test_rows_without_templates_carry_no_fields_and_templates_change_the_hash() -> None:
    order = payload()
    plain = plan("orders/create", order, rule_set(rule({"cost_center": "X"}, tagged("none"))))
    ruled = plan("orders/create", order, rule_set(rule({"row_fields": {"Unit": "st"}})))
    assert plain.state is not None and ruled.state is not None
    assert all(row.fields == {} for row in plain.state.rows)
    assert plain.state.content_hash != ruled.state.content_hash  # an edit of the rule shows


def test_credit_rows_keep_the_rows_fields() -> None:
    order = payload()
    rules = rule_set(rule({"row_fields": {"Project": "{{ property.project | default: 'WEB' }}"}}))
    created = plan("orders/create", order, rules)
    refund = refund_payload(order, 71, lines=[(0, 1)])
    credited = plan("refunds/create", refund, rules, created.state)
    drafts = [c.document for c in credited.commands if c.document is not None]
    assert drafts, credited
    [mug] = [row for row in drafts[0].rows if row.description == "Mugg"]
    assert mug.quantity < 0 and mug.fields == {"Project": "p-42"}


def test_customer_templates_reach_the_new_customer() -> None:
    order = payload()
    command = only_document(
        plan("orders/create", order, rule_set(rule({"customer_fields": CUSTOMER_RULE})))
    )
    assert command.customer is not None
    fields = command.customer.fields
    assert fields["Phone1"] == "460701234567"  # the template replaces Fortbridge's own
    assert fields["DeliveryName"] == order["shipping_address"]["name"]
    assert fields["Comments"] == f"Shopify {order['name']}"
    assert fields["ExternalReference"] == str(order["customer"]["id"])
    assert "YourReference" not in fields  # rendered empty: not set
    assert fields["Email"] == "anna@example.com" and command.customer.match_key == "email"


def test_customer_templates_never_touch_the_guest_or_the_match_fields() -> None:
    guest = order_payload(email=None, customer=None)
    command = only_document(
        plan("orders/create", guest, rule_set(rule({"customer_fields": {"Comments": "x"}})))
    )
    assert command.customer is not None and command.customer.match_key == "default"
    assert "Comments" not in command.customer.fields
    # Settings stored by hand cannot change what the customer is matched by either.
    settings = ShopSettings(customer_fields={"Email": "other@example.com", "Phone2": "1"})
    command = only_document(plan("orders/create", payload(), rule_set(), settings=settings))
    assert command.customer is not None
    assert command.customer.fields["Email"] == "anna@example.com"
    assert command.customer.fields["Phone2"] == "1"
