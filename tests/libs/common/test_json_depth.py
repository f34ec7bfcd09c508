"""The nesting-depth limit every body is checked against (libs/common/json_depth.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.json_depth import MAX_JSON_DEPTH, nests_deeper_than


def nested(depth: int, *, opener: str = "[", closer: str = "]", inside: str = "1") -> bytes:
    return (opener * depth + inside + closer * depth).encode()


def objects(depth: int) -> bytes:
    return (('{"a":' * depth) + "1" + ("}" * depth)).encode()


@pytest.mark.parametrize("build", [nested, objects])
def test_the_limit_itself_passes_and_one_more_level_is_refused(build) -> None:  # type: ignore[no-untyped-def]
    assert not nests_deeper_than(build(MAX_JSON_DEPTH))
    assert nests_deeper_than(build(MAX_JSON_DEPTH + 1))
    assert nests_deeper_than(build(900))


def test_many_brackets_side_by_side_are_not_depth() -> None:
    wide = json.dumps({"lines": [{"tax_lines": [{"price_set": {}}]} for _ in range(500)]})
    assert wide.count("{") > MAX_JSON_DEPTH
    assert not nests_deeper_than(wide.encode())


def test_brackets_inside_strings_do_not_nest() -> None:
    text = json.dumps({"note": "[" * 200 + "{" * 200})
    assert not nests_deeper_than(text.encode())
    # With escaped quotes the strings are found by the regular expression instead.
    escaped = json.dumps({"note": 'say "' + "[" * 200 + '"', "other": "{" * 100})
    assert '\\"' in escaped
    assert not nests_deeper_than(escaped.encode())


def test_closing_brackets_in_strings_cannot_hide_real_nesting() -> None:
    hidden = ('{"a":"' + "]" * 300 + '","b":' + "[" * 100 + "1" + "]" * 100 + "}").encode()
    assert nests_deeper_than(hidden)
    escaped = ('{"a":"\\"' + "]" * 300 + '","b":' + "[" * 100 + "1" + "]" * 100 + "}").encode()
    assert nests_deeper_than(escaped)


def test_a_shopify_order_is_far_below_the_limit() -> None:
    from simulators.shopify.payloads import order_payload
    from simulators.shopify.webhooks import encode_body

    body = encode_body(order_payload())
    assert not nests_deeper_than(body)
    assert not nests_deeper_than(body, limit=8)
    assert nests_deeper_than(body, limit=3)


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


_tricky_text = st.text(alphabet='[]{}"\\ab\n', max_size=8)
_json_values = st.recursive(
    st.one_of(st.integers(), _tricky_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_tricky_text, inner, max_size=3)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(_json_values, st.integers(0, 6))
def test_agrees_with_the_parsed_depth_whatever_the_strings_hold(value: object, limit: int) -> None:
    body = json.dumps(value).encode()
    assert nests_deeper_than(body, limit) == (_depth(value) > limit)
