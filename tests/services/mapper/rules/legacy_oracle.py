"""The old template engine's rendering, kept in the tests only: the oracle the Liquid
migration is checked against (legacy_templates.to_liquid must render what this rendered).
Unbounded on purpose (it is the code issue 12 attacked): call it on test data only."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from services.mapper.rules.legacy_templates import Filter, Part, parse

MAX_OUTPUT_LENGTH = 4000


def lookup(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        if isinstance(data, dict):
            data = data.get(str(part))
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value if not isinstance(v, dict | list))
    if isinstance(value, float):
        return str(Decimal(str(value)))
    return str(value)


_SIMPLE: dict[str, Callable[[str], str]] = {
    "upper": str.upper,
    "lower": str.lower,
    "trim": str.strip,
    "title": str.title,
    "digits": lambda s: "".join(c for c in s if c in "0123456789"),
}


def _apply(value: str, flt: Filter) -> str:
    if flt.name in _SIMPLE:
        return _SIMPLE[flt.name](value)
    if flt.name == "truncate":
        return value[: int(flt.args[0])]
    if flt.name == "default":
        return value if value.strip() else str(flt.args[0])
    return value.replace(str(flt.args[0]), str(flt.args[1]))


def render_parts(parts: list[Part], data: dict[str, Any]) -> str:
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = part.literal if part.path is None else _text(lookup(data, part.path))
        for flt in part.filters:
            value = _apply(value or "", flt)
        out.append(value or "")
    return "".join(out)[:MAX_OUTPUT_LENGTH]


def old_render(text: str, data: dict[str, Any]) -> str:
    return render_parts(parse(text), data)
