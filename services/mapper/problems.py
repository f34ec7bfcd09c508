"""Validation problems in a merchant's words: the settings page and the rule editor show them.

pydantic says "Input should be greater than or equal to 1000" or "String should match pattern
'^([01][0-9]|2[0-3]):[0-5][0-9]$'"; a merchant changing an account or a close time should read
"must be at least 1000" and "must be a time of day as HH:MM (00:00 to 23:59)". Each problem is
(field path, message); :func:`plain` words a pydantic error by its type, keeps the message of the
project's own validators ("Value error, ..." without the prefix), and falls back to pydantic's
message for a type it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic_core import ErrorDetails

# What a pattern asks for, for the patterns the settings and the rules use.
_PATTERNS = {
    r"^([01][0-9]|2[0-3]):[0-5][0-9]$": "must be a time of day as HH:MM (00:00 to 23:59)",
    r"^[^\x00-\x1f]+$": "must not contain control characters (tabs, line breaks)",
    r"^[A-Za-z0-9]+$": "may hold only letters A to Z and digits",
}


def path(prefix: str, loc: tuple[int | str, ...]) -> str:
    """``settings.payouts.fee_account``, ``mapping_rule.actions.rows[2]``."""
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def plain(error: ErrorDetails) -> str:
    """The message of one pydantic error, in plain words."""
    kind = error["type"]
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        return _PATTERNS.get(str(ctx.get("pattern")), "is not in the expected format")
    if kind in ("string_too_short", "too_short"):
        least = int(ctx.get("min_length", 1))
        if least <= 1:
            return "must not be empty"
        return f"must have at least {least} {_unit(kind)}"
    if kind in ("string_too_long", "too_long"):
        return f"may have at most {ctx.get('max_length')} {_unit(kind)}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    bound = _BOUNDS.get(kind)
    if bound is not None:
        return bound.format(**{key: _number(value) for key, value in ctx.items()})
    return _WORDS.get(kind, str(error["msg"]))


def _number(value: object) -> object:
    """1000.0 -> 1000: a bound reads as the merchant would write it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _unit(kind: str) -> str:
    return "characters" if kind.startswith("string") else "entries"


_BOUNDS = {
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "decimal_max_places": "may have at most {decimal_places} decimals",
    "decimal_max_digits": "may have at most {max_digits} digits",
}

_WORDS = {
    "missing": "is required",
    "extra_forbidden": "is not a field Fortbridge knows here (check its spelling)",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "decimal_type": "must be a number",
    "decimal_parsing": "must be a number",
    "string_type": "must be text",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
    "none_required": "must be null",
}
