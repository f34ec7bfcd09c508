"""The field-template syntax before Liquid, kept to read stored rules and translate them.

Fortbridge's first templates were text with ``{{ ... }}`` placeholders parsed by hand: a field
path (``a.b``, ``a.0``, ``a[0]``) or a quoted text, then filters separated by ``|``:
upper, lower, trim, title, digits, truncate(n), default('x'), replace('a', 'b'). Field
templates are Liquid now (templates.py). This module only parses the old syntax, for
``to_liquid`` (the translation the stored rules are migrated with, migrate_liquid.py) and to
tell a merchant who sends the old syntax what to write instead. It never renders anything.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_TEMPLATE_LENGTH = 1000
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


# --- translation to Liquid -----------------------------------------------------------------

# Roots a Liquid path cannot start with as plain words: written as ['name'] instead.
_RESERVED = frozenset(
    ("true", "false", "nil", "null", "empty", "blank", "and", "or", "not", "contains", "in")
)
# old filter -> the Liquid filter of the same result on text
_SAME = {"upper": "upcase", "lower": "downcase", "trim": "strip", "title": "titlecase"}


class UntranslatableTemplate(ValueError):
    """An old template Liquid cannot say (a filter argument holding '}}', or both quotes)."""


def _literal_chunks(value: str) -> list[str]:
    """``value`` cut where needed so that no piece holds '}}' (which ends a Liquid output
    statement even inside quotes) or both kinds of quote (Liquid strings have no escapes)."""
    chunks: list[str] = []
    current = ""
    for char in value:
        quotes = {q for q in ("'", '"') if q in current or q == char}
        if current and ((current.endswith("}") and char == "}") or len(quotes) == 2):
            chunks.append(current)
            current = ""
        current += char
    chunks.append(current)
    return chunks


def _quoted(value: str) -> str:
    if "}}" in value or ("'" in value and '"' in value):
        raise UntranslatableTemplate(f"the text {value!r} cannot be written as a Liquid argument")
    return f'"{value}"' if "'" in value else f"'{value}'"


def _path_liquid(path: tuple[str | int, ...]) -> str:
    root, *rest = path
    out = f"['{root}']" if root in _RESERVED else str(root)
    for part in rest:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _filter_liquid(flt: Filter) -> str:
    if flt.name in _SAME:
        return _SAME[flt.name]
    if flt.name == "digits":
        return "digits"
    if flt.name == "truncate":
        return f"truncate: {flt.args[0]}, ''"
    if flt.name == "default":
        # Old: a value that is empty or only spaces gets the default; false stays "false",
        # also through a second default (Liquid keeps false a boolean from filter to filter).
        fallback = _quoted(str(flt.args[0]))
        return f"default: {fallback}, allow_false: true"
    return f"replace: {_quoted(str(flt.args[0]))}, {_quoted(str(flt.args[1]))}"


def _placeholder_liquid(part: Placeholder) -> str:
    if part.path is not None:
        head = _path_liquid(part.path)
    else:
        first, *more = _literal_chunks(part.literal or "")
        head = " | ".join([_quoted(first), *(f"append: {_quoted(c)}" for c in more)])
    filters = [_filter_liquid(f) for f in part.filters]
    return "{{ " + " | ".join([head, *filters]) + " }}"


def _text_liquid(text: str) -> str:
    """Plain text: as it is, except '{%' (which would open a Liquid tag)."""
    return "{{ '{%' }}".join(text.split("{%"))


def to_liquid(text: str) -> str:
    """The Liquid template that renders what the old ``text`` rendered (docs/rules.md,
    *Migration*, lists the corner cases where they differ). Raises TemplateError for an old
    template that does not parse and UntranslatableTemplate for one Liquid cannot say."""
    return "".join(
        _text_liquid(part) if isinstance(part, str) else _placeholder_liquid(part)
        for part in parse(text)
    )
