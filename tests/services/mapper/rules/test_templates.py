"""Field templates in Liquid: paths, filters and branching render; parse errors say what and
where; nothing but the order can be reached and no code runs."""

from __future__ import annotations

from typing import Any

import pytest

from services.mapper.rules.templates import (
    MAX_TEMPLATE_LENGTH,
    TemplateError,
    TemplateRenderError,
    check,
    parse,
    render,
)

ORDER: dict[str, Any] = {
    "name": "#1001",
    "email": "anna@example.com",
    "created_at": "2026-01-31T10:15:00+01:00",
    "billing_address": {"company": "Acme AB", "country_code": "SE", "phone": "070-123 45 67"},
    "line_items": [{"sku": "MUG-BLUE-LARGE", "quantity": 2}, {"sku": "CUP", "quantity": 1}],
    "note_attributes": [{"name": "PO", "value": "4711"}, {"name": "Gift", "value": "yes"}],
    "payment_gateway_names": ["shopify_payments", "gift_card"],
    "tags": "B2B, VIP",
    "total_price": "536.00",
    "note": "  leave at door  ",
    "spaces": "   ",
    "test": False,
    "customer": {"first_name": "anna svensson", "note": None},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("fixed text", "fixed text"),
        ("Order {{ name }}", "Order #1001"),
        ("{{billing_address.company}}", "Acme AB"),
        ("{{ billing_address.company | upcase }}", "ACME AB"),
        ("{{ billing_address.company | downcase }}", "acme ab"),
        ("{{ line_items[0].sku | slice: 0, 8 }}", "MUG-BLUE"),
        ("{{ line_items[0].sku | truncate: 8 }}", "MUG-B..."),
        ("{{ line_items.first.quantity }} {{ line_items.size }}", "2 2"),
        ("{{ shipping_address.company | default: 'privat' }}", "privat"),
        ('{{ customer.note | default: "-" }}', "-"),
        ("{{ spaces | default: '-' }}", "-"),  # a text of only spaces is no value
        ("{{ test | default: 'x' }}/{{ test | default: 'x', allow_false: true }}", "x/false"),
        ("{{ note | strip }}", "leave at door"),
        ("{{ email | replace: '@', ' at ' }}", "anna at example.com"),
        ("{{ name | remove: '#' | prepend: 'No. ' | append: '!' }}", "No. 1001!"),
        ("{{ billing_address.phone | digits }}", "0701234567"),
        ("{{ customer.first_name | titlecase }}", "Anna Svensson"),
        ("{{ customer.first_name | capitalize }}", "Anna svensson"),
        ("{{ tags | split: ', ' | last }}", "VIP"),
        ("{{ line_items | map: 'sku' | join: ', ' }}", "MUG-BLUE-LARGE, CUP"),
        ("{{ note_attributes | where: 'name', 'PO' | map: 'value' | first }}", "4711"),
        ("{{ payment_gateway_names }}", "shopify_payments, gift_card"),
        ("{{ billing_address }}", ""),  # an object shows nothing: name the field
        ("{{ created_at | date: '%Y-%m-%d' }}", "2026-01-31"),
        ("{{ 'now' | date: '%Y' }}", "now"),  # no clock: a template sees the order only
        ("{% if billing_address.company %}Company{% else %}Private{% endif %}", "Company"),
        ("{% unless shipping_address %}no shipping{% endunless %}", "no shipping"),
        ("{% case billing_address.country_code %}{% when 'SE' %}Sverige{% endcase %}", "Sverige"),
        ("{% if tags contains 'VIP' %}VIP {% endif %}{{ name }}", "VIP #1001"),
        ("{% comment %}a note{% endcomment %}ok{% raw %} {{ x }}{% endraw %}", "ok {{ x }}"),
        ("{{ missing.path }}|{{ line_items[5].sku }}", "|"),
        ("{{ now }}{{ today }}{{ partial }}", ""),  # no variables but the order's
        ("{{ customer.first_name | upcase }} ({{ total_price }} kr)", "ANNA SVENSSON (536.00 kr)"),
    ],
)
def test_rendering(template: str, expected: str) -> None:
    assert render(template, ORDER) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ name", "expected '}}', found end of file (at character 1)"),
        ("{{ name | shout }}", "unknown filter 'shout'; known filters: append,"),
        ("{{ name | truncate: 1, 2, 3 }}", "the filter 'truncate' takes 0 to 2 arguments, not 3"),
        ("{{ name | upcase: 'x' }}", "the filter 'upcase' takes 0 arguments, not 1"),
        ("{{ name | default: 'x', strict: true }}", "'default' has no argument 'strict'"),
        ("{{ name | replace }}", "the filter 'replace' takes 1 to 2 arguments, not 0"),
        ("{% for x in line_items %}{{ x.sku }}{% endfor %}", "unexpected tag 'for'"),
        ("{% assign x = name %}", "unexpected tag 'assign'"),
        ("{% capture x %}{{ name }}{% endcapture %}", "unexpected tag 'capture'"),
        ("{% include 'secrets' %}", "unexpected tag 'include' (field templates offer if,"),
        ("{% render 'secrets' %}", "unexpected tag 'render'"),
        ("{% tablerow x in line_items %}{% endtablerow %}", "unexpected tag 'tablerow'"),
        ("{% cycle 'a', 'b' %}", "unexpected tag 'cycle'"),
        ("{{ (1..5) | join: ',' }}", "ranges like (1..5) are not available (at character 4)"),
        ("{% if (1..99999999) contains 'x' %}y{% endif %}", "ranges like (1..5) are not"),
        ("{{ name | upcase() }}", "expected end of expression"),
        ("x" * (MAX_TEMPLATE_LENGTH + 1), "a template is at most 1,000 characters"),
        ("{% if a %}" * 11 + "{% endif %}" * 11, "nest"),
    ],
)
def test_refused_templates_say_what_and_where(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse(template)
    text = str(caught.value)
    assert all(part in text for part in message.split(" (at ")), text
    if "(at " in message:
        assert message.split(" (at ")[1] in text


@pytest.mark.parametrize(
    "template",
    [
        "{{ name.__class__ }}{{ name.__class__.__mro__ }}",
        "{{ name.upper }}{{ name['__len__'] }}",
        "{{ __import__ }}{{ self }}{{ context }}{{ env }}{{ template }}",
        "{{ line_items.__getitem__ }}",
    ],
)
def test_nothing_but_the_order_is_reachable(template: str) -> None:
    """Paths read dictionaries by key and lists by index: attributes, methods and Python's own
    names are missing values, never objects."""
    assert render(template, ORDER) == ""


def test_code_is_never_executed() -> None:
    for template in ("{{ __import__('os').system('id') }}", "{{ eval('1+1') }}", "{{ 1 + 1 }}"):
        with pytest.raises(TemplateError):
            parse(template)


def test_a_filter_argument_of_the_wrong_kind_fails_at_render_and_is_refused_at_save() -> None:
    with pytest.raises(TemplateRenderError, match="slice"):
        render("{{ name | slice: note }}", ORDER)
    with pytest.raises(TemplateError, match="cannot be filled"):
        check("{{ name | slice: note }}")


def test_long_values_are_cut_as_before() -> None:
    assert len(render("{{ big }}", {"big": "y" * 10_000})) == 4000
