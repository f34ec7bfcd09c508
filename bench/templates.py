"""Field templates and rule conditions at their caps: how long the worst a shop can write takes
to render or to be refused, and how much memory it needs. Prints one JSON object.

    .venv/bin/python -m bench.templates [--repeat 20]

Pure CPU, in this process (no services): the mapper runs the same code on its event loop, so
these are the longest a shop's rule can hold that loop for one order. Figures: milliseconds
(median and max over the repeats) and peak bytes allocated (tracemalloc, one extra run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from services.mapper.accounting import ShopSettings
from services.mapper.rules.actions import FieldTemplateFailed, first_match, line_fields
from services.mapper.rules.legacy_templates import to_liquid
from services.mapper.rules.model import Rule, RuleSet, validate_rule
from services.mapper.rules.sample_order import SAMPLE_ORDER
from services.mapper.rules.templates import (
    TemplateLimitError,
    Work,
    bounded_view,
    parse,
    render,
)

OLD_BOMB = "{{ name" + " | replace('', 'xxxxxxxxxx')" * 11 + " }}"  # issue 12: 3.7+ GB before
LIQUID_BOMB = "{{ name" + " | replace: '', name" * 12 + " }}"
HEAVY = "{{ v" + " | upcase | downcase" * 12 + " }}"  # 24 passes over 4,000 characters
TYPICAL = (
    "Shopify {{ name }} ({{ source_name | upcase }}) {{ billing_address.company | default: '-' }}"
)


def timed(action: Callable[[], Any], repeat: int) -> dict[str, Any]:
    times = []
    outcome = "rendered"
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            action()
        except (TemplateLimitError, FieldTemplateFailed) as exc:
            outcome = f"refused: {str(exc)[:90]}"
        times.append((time.perf_counter() - started) * 1000)
    tracemalloc.start()
    with contextlib.suppress(TemplateLimitError, FieldTemplateFailed):
        action()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "outcome": outcome,
        "ms_median": round(statistics.median(times), 3),
        "ms_max": round(max(times), 3),
        "peak_bytes": peak,
    }


def _rule_set(rules: list[dict[str, Any]]) -> RuleSet:
    return RuleSet(
        version=1,
        rules=[Rule(id=i + 1, **validate_rule(r).model_dump()) for i, r in enumerate(rules)],
    )


def run(repeat: int) -> dict[str, Any]:
    view = bounded_view(SAMPLE_ORDER)
    long_value = {"v": "y" * 4000}
    lines = [{"id": i, "sku": f"SKU-{i:05d}", "title": "Mugg"} for i in range(1000)]
    big_order = {**SAMPLE_ORDER, "line_items": lines}
    typical_rows = {
        "Description": "{{ sku }}: {{ title | truncate: 30 }}",
        "Project": "{{ property.project | default: 'WEB' | upcase }}",
        "CostCenter": "{{ order.source_name | upcase | slice: 0, 3 }}",
        "Unit": "st",
    }
    row_templates = {
        "Description": "{{ order.line_items | map: 'sku' | compact | uniq | size }}",
        "Project": "{{ sku | append: title | upcase }}",
    }
    tags = {"any": [{"field": "tags", "op": "contains", "value": f"x{i}"} for i in range(48)]}
    sources = {
        "any": [{"field": "source_name", "op": "in", "value": [f"s{i}" for i in range(9)]}] * 48
    }
    miss = {"not": {"all": [tags, sources]}}
    rules = _rule_set([{"name": f"r{i}", "conditions": miss, "actions": {}} for i in range(200)])
    many_tags = {**SAMPLE_ORDER, "tags": ", ".join(f"tag{i}" for i in range(250))}
    # The most template text one rule can hold (16 KB), none of it cached: what saving it or
    # rendering it after the parse cache dropped it costs.
    heavy_fields = "{{ name" + " | replace: 'a', 'b'" * 45 + " }}"
    counter = iter(range(10**9))

    def parse_a_full_rule() -> None:
        run_id = next(counter)
        for field in range(16):
            parse(f"{heavy_fields}{run_id}-{field}")

    return {
        "typical_template": timed(lambda: render(TYPICAL, view), repeat),
        "issue_12_old_bomb_migrated": timed(lambda: render(to_liquid(OLD_BOMB), view), repeat),
        "issue_12_liquid_bomb": timed(lambda: render(LIQUID_BOMB, view), repeat),
        "heaviest_template_within_caps": timed(lambda: render(HEAVY, long_value, Work()), repeat),
        "typical_row_templates_499_lines": timed(
            lambda: line_fields(typical_rows, {**SAMPLE_ORDER, "line_items": lines[:499]}, Work()),
            max(1, repeat // 4),
        ),
        "worst_row_templates_1000_lines": timed(
            lambda: line_fields(row_templates, big_order, Work()), max(1, repeat // 4)
        ),
        "conditions_200_rules_99_parts": timed(
            lambda: first_match(rules, many_tags, ShopSettings()), repeat
        ),
        "bounded_view_1000_lines": timed(lambda: bounded_view(big_order), repeat),
        "parse_16_kb_of_templates_uncached": timed(parse_a_full_rule, max(1, repeat // 4)),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.machine(),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(run(max(1, args.repeat)), indent=1))


if __name__ == "__main__":
    main()
