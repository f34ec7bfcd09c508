"""The template language: paths, literals, filters; parse errors with positions; no code runs."""

from __future__ import annotations

from typing import Any

import pytest

from services.mapper.rules.templates import TemplateError, parse, render

ORDER: dict[str, Any] = {
    "name": "#1001",
    "email": "anna@example.com",
    "billing_address": {"company": "Acme AB", "country_code": "SE"},
    "line_items": [{"sku": "MUG-BLUE-LARGE", "quantity": 2}],
    "tags": "B2B, VIP",
    "total_price": "536.00",
    "note": "  leave at door  ",
    "customer": {"first_name": "Anna", "note": None},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("fixed text", "fixed text"),
        ("Order {{ name }}", "Order #1001"),
        ("{{billing_address.company}}", "Acme AB"),
        ("{{ billing_address.company | upper }}", "ACME AB"),
        ("{{ billing_address.company | lower }}", "acme ab"),
        ("{{ line_items[0].sku | truncate(8) }}", "MUG-BLUE"),
        ("{{ line_items.0.quantity }}", "2"),
        ("{{ shipping_address.company | default('privat') }}", "privat"),
        ('{{ customer.note | default("-") }}', "-"),
        ("{{ note | trim }}", "leave at door"),
        ("{{ email | replace('@', ' at ') }}", "anna at example.com"),
        ("{{ name | digits }}", "1001"),
        ("{{ 'literal {{ }}' | upper }}", "LITERAL {{ }}"),
        ("{{ missing.path }}", ""),
        ("{{ line_items[5].sku }}", ""),
        ("{{ customer.first_name | lower | title }} ({{ total_price }} kr)", "Anna (536.00 kr)"),
    ],
)
def test_rendering(template: str, expected: str) -> None:
    assert render(template, ORDER) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ name", "'{{' without '}}' (at character 1)"),
        ("name }}", "'}}' without '{{' (at character 6)"),
        ("{{ name | shout }}", "unknown filter 'shout'"),
        ("{{ name | truncate }}", "filter 'truncate' takes number"),
        ("{{ name | truncate('x') }}", "filter 'truncate' takes number"),
        ("{{ name | default(1) }}", "filter 'default' takes text"),
        ("{{ name | truncate(0) }}", "truncate takes 1 to"),
        ("{{ 'open }}", "'{{' without '}}'"),
        ("{{ }}", "expected a field name or a quoted string"),
        ("{{ a[x] }}", "expected a whole number"),
        ("{{ name name }}", "expected '|' or '}}'"),
        ("{{ {{ name }} }}", "'{{' inside a placeholder"),
        ("{{ __class__ }}", "names starting with __ are not allowed"),
    ],
)
def test_parse_errors_say_what_and_where(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse(template)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "template",
    [
        "{{ __import__('os').system('touch /tmp/pwned') }}",
        "{{ name.__class__.__mro__ }}",
        "{{ eval('1+1') }}",
        "{{ 1 + 1 }}",
        "{{ name() }}",
        "{{ name | upper() | lower('x') }}",
        "{% for x in y %}",
    ],
)
def test_code_is_never_executed(template: str) -> None:
    """Only paths and the listed filters exist: calls, operators and dunders do not parse, and
    what does parse only reads dictionaries."""
    try:
        result = render(template, ORDER)
    except TemplateError:
        return
    assert result in ("", template)  # "{% ... %}" is plain text


def test_paths_only_read_dicts_and_lists() -> None:
    # str methods and attributes are unreachable: "upper" is just a missing key of a string.
    assert render("{{ name.upper }}", ORDER) == ""
    assert render("{{ tags }}", {"tags": ["a", "b", {"x": 1}]}) == "a, b"
    assert render("{{ flag }}/{{ n }}", {"flag": True, "n": 0.1}) == "true/0.1"


def test_templates_are_bounded() -> None:
    with pytest.raises(TemplateError):
        parse("x" * 1001)
    assert len(render("{{ big }}", {"big": "y" * 10_000})) == 4000
