"""Field templates: text with ``{{ ... }}`` placeholders over the Shopify order, parsed by hand.

A template is fixed text with placeholders. A placeholder is a field path or a quoted string,
then filters separated by ``|``::

    Order {{ name }} for {{ billing_address.company | default('private') | upper }}
    {{ line_items[0].sku | truncate(20) }}   {{ 'fixed' }}   {{ customer.note | trim }}

Paths walk dictionaries by key and lists by index (``a.b``, ``a.0``, ``a[0]``); nothing else is
reachable: no attributes, calls, operators or Python at all (no eval, exec or jinja). A missing
value renders as the empty string unless ``default`` gives one. Filters: upper, lower, trim,
title, digits (keep 0-9), truncate(n), default('x'), replace('a', 'b'). Templates are parsed
when a rule is saved, so a bad template is refused with its position; rendering never raises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MAX_TEMPLATE_LENGTH = 1000
MAX_OUTPUT_LENGTH = 4000
MAX_TRUNCATE = 10_000
Arg = str | int


class TemplateError(ValueError):
    """A template that does not parse: what is wrong and at which character."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position + 1})")
        self.position = position


@dataclass(frozen=True)
class Filter:
    name: str
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class Placeholder:
    path: tuple[str | int, ...] | None  # None: a literal
    literal: str | None
    filters: tuple[Filter, ...]


Part = str | Placeholder

# name -> (number of arguments, argument kinds)
FILTERS: dict[str, tuple[type, ...]] = {
    "upper": (),
    "lower": (),
    "trim": (),
    "title": (),
    "digits": (),
    "truncate": (int,),
    "default": (str,),
    "replace": (str, str),
}


class _Scanner:
    def __init__(self, text: str, start: int, end: int) -> None:
        self.text, self.pos, self.end = text, start, end

    def skip_space(self) -> None:
        while self.pos < self.end and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < self.end else ""

    def fail(self, message: str) -> TemplateError:
        return TemplateError(message, self.pos)

    def identifier(self, what: str) -> str:
        start = self.pos
        if not (self.peek().isascii() and (self.peek().isalpha() or self.peek() == "_")):
            raise self.fail(f"expected {what}")
        while self.pos < self.end and (
            self.text[self.pos].isascii()
            and (self.text[self.pos].isalnum() or self.text[self.pos] == "_")
        ):
            self.pos += 1
        name = self.text[start : self.pos]
        if name.startswith("__"):
            raise TemplateError(f"names starting with __ are not allowed: {name!r}", start)
        return name

    def integer(self) -> int:
        start = self.pos
        while self.pos < self.end and self.text[self.pos] in "0123456789":
            self.pos += 1
        if start == self.pos or self.pos - start > 6:
            raise TemplateError("expected a whole number of at most 6 digits", start)
        return int(self.text[start : self.pos])

    def string(self) -> str:
        quote = self.peek()
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < self.end:
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < self.end:
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == quote:
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise TemplateError("unterminated string", start)

    def argument(self) -> Arg:
        if self.peek() in ("'", '"'):
            return self.string()
        if self.peek().isdigit():
            return self.integer()
        raise self.fail("expected a quoted string or a whole number")


def _path(scanner: _Scanner) -> tuple[str | int, ...]:
    parts: list[str | int] = [scanner.identifier("a field name or a quoted string")]
    while True:
        char = scanner.peek()
        if char == ".":
            scanner.pos += 1
            parts.append(
                scanner.integer()
                if scanner.peek().isdigit()
                else scanner.identifier("a field name after '.'")
            )
        elif char == "[":
            scanner.pos += 1
            parts.append(scanner.integer())
            if scanner.peek() != "]":
                raise scanner.fail("expected ']'")
            scanner.pos += 1
        else:
            return tuple(parts)


def _filter(scanner: _Scanner) -> Filter:
    start = scanner.pos
    name = scanner.identifier("a filter name after '|'")
    if name not in FILTERS:
        known = ", ".join(sorted(FILTERS))
        raise TemplateError(f"unknown filter {name!r}; known filters: {known}", start)
    args: list[Arg] = []
    scanner.skip_space()
    if scanner.peek() == "(":
        scanner.pos += 1
        scanner.skip_space()
        while scanner.peek() != ")":
            if args:
                if scanner.peek() != ",":
                    raise scanner.fail("expected ',' or ')'")
                scanner.pos += 1
                scanner.skip_space()
            args.append(scanner.argument())
            scanner.skip_space()
            if not scanner.peek():
                raise scanner.fail("expected ')'")
        scanner.pos += 1
    kinds = FILTERS[name]
    if len(args) != len(kinds) or any(
        not isinstance(a, k) for a, k in zip(args, kinds, strict=False)
    ):
        wanted = ", ".join("text" if k is str else "number" for k in kinds) or "no arguments"
        raise TemplateError(f"filter {name!r} takes {wanted}", start)
    if name == "truncate" and not 0 < int(args[0]) <= MAX_TRUNCATE:
        raise TemplateError(f"truncate takes 1 to {MAX_TRUNCATE}", start)
    return Filter(name, tuple(args))


def _placeholder(text: str, start: int, end: int) -> Placeholder:
    scanner = _Scanner(text, start, end)
    scanner.skip_space()
    path: tuple[str | int, ...] | None = None
    literal: str | None = None
    if scanner.peek() in ("'", '"'):
        literal = scanner.string()
    else:
        path = _path(scanner)
    filters: list[Filter] = []
    scanner.skip_space()
    while scanner.peek() == "|":
        scanner.pos += 1
        scanner.skip_space()
        filters.append(_filter(scanner))
        scanner.skip_space()
    if scanner.pos != end:
        raise scanner.fail("expected '|' or '}}'")
    return Placeholder(path, literal, tuple(filters))


def parse(text: str) -> list[Part]:
    """The template's parts; raises TemplateError naming what is wrong and where."""
    if len(text) > MAX_TEMPLATE_LENGTH:
        raise TemplateError(f"a template is at most {MAX_TEMPLATE_LENGTH} characters", 0)
    parts: list[Part] = []
    pos = 0
    while pos < len(text):
        opening = text.find("{{", pos)
        stray = text.find("}}", pos)
        if stray != -1 and (opening == -1 or stray < opening):
            raise TemplateError("'}}' without '{{'", stray)
        if opening == -1:
            parts.append(text[pos:])
            break
        if opening > pos:
            parts.append(text[pos:opening])
        closing = _closing(text, opening + 2)
        parts.append(_placeholder(text, opening + 2, closing))
        pos = closing + 2
    return parts


def _closing(text: str, start: int) -> int:
    """Where the placeholder opened before ``start`` ends (quotes may hold braces)."""
    pos, quote = start, ""
    while pos < len(text):
        char = text[pos]
        if quote:
            if char == "\\":
                pos += 1
            elif char == quote:
                quote = ""
        elif char in ("'", '"'):
            quote = char
        elif text.startswith("}}", pos):
            return pos
        elif text.startswith("{{", pos):
            raise TemplateError("'{{' inside a placeholder", pos)
        pos += 1
    raise TemplateError("'{{' without '}}'", start - 2)


def lookup(data: Any, path: tuple[str | int, ...]) -> Any:
    """Walk dictionaries by key and lists by index; anything else is absent (None)."""
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


def render(text: str, data: dict[str, Any]) -> str:
    """The template filled from ``data`` (parse errors raise TemplateError)."""
    return render_parts(parse(text), data)
