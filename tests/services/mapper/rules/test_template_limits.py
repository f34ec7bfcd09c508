"""The attack of issue 12 (template amplification) and every cap that stops it: each filter's
result is measured before the next filter runs, each rendering and each order has a work
budget, and what a template reads is bounded. Outcomes and sizes are asserted, never times."""

from __future__ import annotations

import contextlib
import json
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from services.mapper.accounting import ShopSettings
from services.mapper.rules.actions import FieldTemplateFailed, line_fields, resolve
from services.mapper.rules.legacy_templates import to_liquid
from services.mapper.rules.template_work import (
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_VALUE,
    MAX_VIEW_NODES,
    as_text,
)
from services.mapper.rules.templates import (
    TemplateError,
    TemplateLimitError,
    Work,
    bounded_view,
    check,
    render,
)
from simulators.shopify.payloads import order_payload
from tests.services.mapper.rules.support import rule, rule_set

ORDER: dict[str, Any] = {"name": "#1001", "note": "ok", "line_items": [{"sku": "A"}]}

# The attack: each replace('', X) puts X between every two characters, so the value
# grows by a factor of len(X) + 1 per step (the old engine took 3.7 GB for 275 characters).
OLD_BOMB = "{{ name" + " | replace('', 'xxxxxxxxxx')" * 11 + " }}"  # 313 characters
LIQUID_BOMB = "{{ name" + " | replace: '', name" * 12 + " }}"
LITERAL_BOMB = "{{ 'x'" + " | replace: '', 'xxxxxxxxxx'" * 12 + " }}"


def peak_memory(action: Callable[[], object]) -> int:
    tracemalloc.start()
    with contextlib.suppress(TemplateError, TemplateLimitError):
        action()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


@pytest.mark.parametrize("bomb", [LIQUID_BOMB, LITERAL_BOMB, to_liquid(OLD_BOMB)])
def test_the_exponential_template_stops_at_the_first_step_over_the_cap(bomb: str) -> None:
    assert len(bomb) < 1000  # a short template ...
    with pytest.raises(TemplateLimitError) as caught:
        render(bomb, ORDER)
    message = str(caught.value)
    assert "the filter 'replace' would make a text of" in message
    assert f"at most {MAX_VALUE:,}" in message
    size = int(message.split("a text of ")[1].split(" characters")[0].replace(",", ""))
    assert MAX_VALUE < size < 50 * MAX_VALUE  # ... refused at the step that crosses the cap
    assert peak_memory(lambda: render(bomb, ORDER)) < 2_000_000  # bytes, not gigabytes


@pytest.mark.parametrize("bomb", [LIQUID_BOMB, LITERAL_BOMB])
def test_the_exponential_template_is_refused_when_saved(bomb: str) -> None:
    with pytest.raises(TemplateError, match="the template is too costly: the filter 'replace'"):
        check(bomb)


def test_a_template_that_amplifies_only_some_orders_passes_the_save_check_and_stops_on_them() -> (
    None
):
    template = "{{ note" + " | replace: 'Z', 'ZZZZZZZZZZ'" * 6 + " }}"
    check(template)  # the sample order has no Z: nothing grows
    assert render(template, ORDER) == "ok"
    with pytest.raises(TemplateLimitError, match="would make a text of"):
        render(template, {"note": "ZZZ"})


@pytest.mark.parametrize(
    ("template", "data", "what"),
    [
        ("{{ v | append: v | append: v }}", {"v": "y" * 1500}, "the filter 'append'"),
        ("{{ v | prepend: v | prepend: v }}", {"v": "y" * 1500}, "the filter 'prepend'"),
        ("{{ v | replace_first: 'y', v }}", {"v": "y" * 2500}, "the filter 'replace_first'"),
        ("{{ v | truncate: 10, v }}", {"v": "y" * 4000 + "z"}, "the filter 'truncate'"),
        ("{{ l | join: v }}", {"l": ["a"] * 10, "v": "y" * 500}, "the filter 'join'"),
        ("{{ v | split: '' | size }}", {"v": "y" * (MAX_ITEMS + 1)}, "the filter 'split' would"),
        ("{{ v | upcase }}", {"v": "ß" * 2500}, "the filter 'upcase'"),  # ß -> SS
        ("{{ d | date: v }}", {"d": "2026-01-31", "v": "%c" * 500}, "the filter 'date'"),
    ],
)
def test_every_filter_result_is_capped_before_the_next_runs(
    template: str, data: dict[str, Any], what: str
) -> None:
    with pytest.raises(TemplateLimitError, match=what):
        render(template, bounded_view(data))


def test_a_replace_is_refused_before_its_result_is_made() -> None:
    """The size of a replace is computed from the count of matches: the result of a refused
    replace is never built (its 16 million characters would be 16 MB)."""
    data = {"v": "y" * MAX_VALUE, "w": "x" * MAX_VALUE}
    peak = peak_memory(lambda: render("{{ v | replace: '', w }}", data))
    assert peak < 1_000_000


def test_a_template_with_too_many_steps_stops() -> None:
    template = "{{ name" + " | size" * 101 + " }}"
    with pytest.raises(TemplateLimitError, match="more than 100 filters, outputs and conditions"):
        render(template, ORDER)
    assert render("{{ name" + " | size" * 98 + " }}", ORDER) == "0"  # the size of a number


def test_a_template_doing_too_much_work_stops() -> None:
    """No single step is over a cap, but 60 passes over a 4,000-character value are."""
    template = "{{ v" + " | upcase | downcase" * 30 + " }}"
    with pytest.raises(TemplateLimitError, match="too much work"):
        render(template, {"v": "y" * MAX_VALUE})
    assert render(template, {"v": "Short"}) == "short"


def test_an_order_has_one_budget_for_all_its_templates() -> None:
    """Row templates run once per line item: each alone is fine, all together are capped (a
    row template reading the whole order's lines would otherwise cost lines x lines)."""
    lines = [{"id": i, "sku": f"SKU-{i:04d}"} for i in range(900)]
    templates = {"Description": "{{ order.line_items | map: 'sku' | compact | uniq | size }}"}
    with pytest.raises(FieldTemplateFailed) as caught:
        line_fields(templates, {"line_items": lines})
    assert caught.value.over_limit and caught.value.path == "actions.row_fields.Description"
    assert "together do too much work for this order" in caught.value.reason
    few = line_fields(templates, {"line_items": lines[:5]})
    assert [row["Description"] for row in few.values()] == ["5"] * 5


def test_what_a_template_reads_is_bounded() -> None:
    deep: dict[str, Any] = {"x": "deepest"}
    for _ in range(40):
        deep = {"x": deep}
    view = bounded_view(
        {"note": "n" * 10_000, "tags": list(range(5000)), "deep": deep, "f": 0.1, "t": True}
    )
    assert len(view["note"]) == MAX_VALUE and len(view["tags"]) == MAX_ITEMS
    assert render("{{ deep" + ".x" * 40 + " }}", view) == ""  # deeper than MAX_DEPTH: empty
    assert render("{{ f }} {{ t }} {{ tags | size }}", view) == f"0.1 true {MAX_ITEMS}"
    assert len(as_text(["a" * 3000] * 100)) == MAX_VALUE  # a long list shows as its start


def test_budgets_are_per_order_and_never_shared() -> None:
    first, second = Work(), Work()
    for _ in range(150):
        render("{{ name | strip }}", ORDER, first)
    assert first.order_calls == 300 and second.order_calls == 0
    render("{{ name | strip }}", ORDER, second)
    assert second.order_calls == 2


def test_the_rules_engine_renders_over_the_bounded_view() -> None:
    """What a rule's templates see of an order is the bounded view: a 10,000-character note is
    4,000 characters to them, in headers, on the new customer and on every row."""
    order = order_payload()
    order["note"] = "n" * 10_000
    for line in order["line_items"]:
        line["title"] = "t" * 10_000
    rules = rule_set(
        rule(
            {
                "fields": {"Remarks": "{{ note | size }}"},
                "customer_fields": {
                    "Comments": "{% if note contains 'nnnn' %}{{ note.size }}{% endif %}"
                },
                "row_fields": {"Unit": "{{ title | size }}/{{ order.note | size }}"},
            }
        )
    )
    settings = resolve(rules, order, ShopSettings()).settings
    assert settings.document_fields["Remarks"] == str(MAX_VALUE)
    assert settings.customer_fields["Comments"] == str(MAX_VALUE)
    assert list(settings.line_fields.values()) == [{"Unit": f"{MAX_VALUE}/{MAX_VALUE}"}] * len(
        order["line_items"]
    )


def test_conditions_compare_order_objects_by_identity_and_count_as_steps() -> None:
    """Two deep objects compared in a condition cost one step (not a walk of both), a list
    membership test is answered from a set made once, and every condition counts."""
    tree = json.dumps({"rows": [{"n": i, "text": "x" * 50} for i in range(20_000)]})
    view = bounded_view(
        {
            "one": json.loads(tree),
            "two": json.loads(tree),  # equal to one, but another object
            "names": ["gift_card", "klarna"],
            "none": [],
        }
    )
    same = "{% if one == one %}same{% endif %}"
    equal = "{% if one == two %}equal{% endif %}{% if one != two %}different{% endif %}"
    assert render(same, view) == "same" and render(equal, view) == "different"
    assert render("{% if names contains 'klarna' %}yes{% endif %}", view) == "yes"
    assert render("{% if names contains one %}yes{% else %}no{% endif %}", view) == "no"
    emptiness = "{% if none == empty %}empty{% endif %}{% if names == empty %}!{% endif %}"
    assert render(emptiness, view) == "empty"
    assert render("{% case names.first %}{% when 'gift_card' %}gift{% endcase %}", view) == "gift"
    assert render("{{ one }}|{{ names }}", view) == "|gift_card, klarna"
    walks = "{% if one.rows contains two.rows[5] %}x{% endif %}"
    walks += "{% if one.rows == two.rows %}y{% endif %}"
    peak = peak_memory(lambda: render(walks * 8, view))
    assert peak < 200_000  # no copy or repr of the 20,000 rows
    work = Work()
    render("{% if names %}{% endif %}" * 30, view, work)
    assert work.order_calls == 30


def test_the_view_of_an_order_is_bounded_in_values() -> None:
    shared: dict[str, Any] = {"leaf": "x"}
    for _ in range(14):
        shared = {"a": shared, "b": [shared] * 8}  # 9 ** 14 values if copied out
    view = bounded_view({"deep": shared})
    count = 0
    pending: list[Any] = [view]
    while pending:
        value = pending.pop()
        count += 1
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    assert count <= MAX_VIEW_NODES + MAX_DEPTH + 2
