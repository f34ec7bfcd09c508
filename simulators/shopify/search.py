"""Shopify search syntax for the `query:` argument of orders/products/customers.

Supported: `field:value`, comparisons `field:>=value` (>, >=, <, <=), quoted values
('...' or "..."), negation (`-field:value`, `NOT field:value`), implicit AND (the words AND/OR
are skipped, so OR is treated as AND), `value*` prefix matches, and free-text terms matched
against a resource's text fields. Unknown fields are ignored with a warning in
extensions.search, as Shopify does. Date-only values and naive timestamps are taken as UTC
(Shopify uses the shop's time zone).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from ._state import Payload, parse_gid

FieldKind = Literal["datetime", "int", "text", "tags", "decimal"]
Predicate = Callable[[Payload], bool]

_TERM_RE = re.compile(
    r"""(?P<neg>-|NOT\s+)?
        (?:(?P<field>[A-Za-z_][\w.]*):(?P<op><=|>=|<|>|=)?)?
        (?P<value>'[^']*'|"[^"]*"|\S+)""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Term:
    field: str | None
    op: str  # ":" (equals) or a comparison
    value: str
    negated: bool = False


@dataclass(frozen=True)
class SearchField:
    kind: FieldKind
    get: Callable[[Payload], Any]


def parse_search(query: str) -> list[Term]:
    terms: list[Term] = []
    for match in _TERM_RE.finditer(query):
        value = match["value"]
        if match["field"] is None and value in ("AND", "OR"):
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        op = match["op"] or ":"
        terms.append(Term(match["field"], ":" if op == "=" else op, value, bool(match["neg"])))
    return terms


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    return bool(left == right)


def _coerce(kind: FieldKind, raw: str) -> Any:
    """The query value in the field's type; None when it cannot be read."""
    if kind == "datetime":
        return parse_time(raw)
    if kind == "int":
        parsed = parse_gid(raw)
        if parsed is not None:
            return parsed[1]
        return int(raw) if raw.isdigit() else None
    if kind == "decimal":
        try:
            return Decimal(raw)
        except InvalidOperation:
            return None
    return raw.lower()


def _matches(field: SearchField, term: Term, wanted: Any, payload: Payload) -> bool:
    actual = field.get(payload)
    if field.kind == "tags":
        tags = [str(t).lower() for t in actual or []]
        if wanted.endswith("*"):
            return any(t.startswith(wanted[:-1]) for t in tags)
        return wanted in tags
    if field.kind == "text":
        text = "" if actual is None else str(actual).lower()
        if term.op == ":" and wanted.endswith("*"):
            return text.startswith(wanted[:-1])
        return _compare(text, term.op, wanted)
    if field.kind == "datetime":
        moment = parse_time(actual)
        if moment is None:
            return False
        if term.op == ":" and len(term.value) == 10:  # a date: same calendar day (UTC)
            return bool(moment.astimezone(UTC).date() == wanted.date())
        return _compare(moment, term.op, wanted)
    if actual is None:
        return False
    return _compare(Decimal(str(actual)) if field.kind == "decimal" else actual, term.op, wanted)


def compile_search(
    query: str | None,
    fields: Mapping[str, SearchField],
    text_of: Callable[[Payload], list[str]],
) -> tuple[Predicate, list[dict[str, str]]]:
    """A predicate for `query`, plus Shopify-style warnings for the terms it ignored."""
    checks: list[Predicate] = []
    warnings: list[dict[str, str]] = []
    for term in parse_search(query or ""):
        if term.field is None:
            needle = term.value.lower().rstrip("*")

            def free(p: Payload, needle: str = needle) -> bool:
                return any(needle in text.lower() for text in text_of(p) if text)

            check: Predicate = free
        elif term.field not in fields:
            warnings.append(
                {"field": term.field, "message": "Invalid search field for this query."}
            )
            continue
        elif term.field == "status" and term.value == "any":
            continue
        else:
            spec = fields[term.field]
            wanted = _coerce(spec.kind, term.value)
            if wanted is None:
                warnings.append(
                    {
                        "field": term.field,
                        "message": f"Invalid value {term.value!r} for this field.",
                    }
                )
                continue

            def check(
                p: Payload, spec: SearchField = spec, t: Term = term, w: Any = wanted
            ) -> bool:
                return _matches(spec, t, w, p)

        if term.negated:

            def negated(p: Payload, inner: Predicate = check) -> bool:
                return not inner(p)

            checks.append(negated)
        else:
            checks.append(check)

    def predicate(payload: Payload) -> bool:
        return all(check(payload) for check in checks)

    return predicate, warnings
