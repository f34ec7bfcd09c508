"""The filters field templates may use: Liquid's own, each measured before the next one runs.

Every filter takes the per-order ``Work`` from the render context, turns its input and text
arguments into bounded text (``as_text``), predicts the size of a result that could grow by a
factor (``replace``, ``join``) before making it, checks every result against ``MAX_VALUE``
characters or ``MAX_ITEMS`` items, and charges what it handled to the template's and the order's
budgets. Semantics are Liquid's (python-liquid's functions do the work where they are linear);
the list filters are written here so none of them flattens nested lists or compares items
pairwise. ``digits`` and ``titlecase`` are Fortbridge's own.

Not offered: math (amounts are Fortbridge's), HTML and URL escaping (Fortnox fields are plain
text), ``sort``, ``concat``, ``reverse``, base64, and everything that reads anything but the order.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from liquid import RenderContext, Undefined
from liquid.builtin.filters import string as liquid_string
from liquid.builtin.filters.misc import date as liquid_date
from liquid.builtin.filters.misc import default as liquid_default
from liquid.exceptions import FilterArgumentError
from liquid.filter import with_context

from services.mapper.rules.template_work import MAX_ITEMS, Work, as_text

WORK = "fortbridge.work"
MAX_DATE_INPUT = 64


def work_of(context: RenderContext) -> Work:
    work = context.tag_namespace.get(WORK)
    if not isinstance(work, Work):  # a template rendered outside render(): refuse, never run
        raise RuntimeError("field templates render only through services.mapper.rules.templates")
    return work


def _text_filter(name: str, func: Callable[..., str], *, text_args: int = 0) -> Callable[..., Any]:
    """``func`` over the input as text; its first ``text_args`` arguments as text too."""

    def run(value: Any, *args: Any, context: RenderContext, **kwargs: Any) -> str:
        work = work_of(context)
        text = work.text(value)
        args = tuple(work.text(a) if i < text_args else a for i, a in enumerate(args))
        extra = sum(len(a) for a in args[:text_args])
        work.charge(f"'{name}'", len(text) + extra)
        result = func(text, *args, **kwargs)
        if not isinstance(result, str):
            result = work.text(result)
        Work.check_text(f"the filter '{name}'", len(result))
        work.charge(f"'{name}'", len(result), calls=0)
        return result

    run.__name__ = name
    return with_context(run)


def _replace(name: str, func: Callable[..., str], *, every: bool) -> Callable[..., Any]:
    """replace / replace_first: the result's size is known before it is made."""

    def run(value: Any, search: Any = "", sub: Any = "", *, context: RenderContext) -> str:
        work = work_of(context)
        text, old, new = work.text(value), work.text(search), work.text(sub)
        if every:
            count = len(text) + 1 if old == "" else text.count(old)
        else:
            count = 1 if old == "" or old in text else 0
        size = len(text) + count * (len(new) - len(old))
        work.charge(f"'{name}'", len(text) + len(old) + len(new))
        Work.check_text(f"the filter '{name}'", size)
        work.charge(f"'{name}'", size, calls=0)
        return func(text, old, new)

    run.__name__ = name
    return with_context(run)


def _items(value: Any) -> list[Any]:
    """A filter's input as a list (Liquid: a single value is a list of one; nil is empty)."""
    if isinstance(value, list):
        return value
    if isinstance(value, tuple | range):
        Work.check_items("the list", len(value))
        return list(value)
    if value is None or isinstance(value, Undefined) or (isinstance(value, str) and not value):
        return []
    return [value]


def _key(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, dict) else None


@with_context
def join(value: Any, separator: Any = " ", *, context: RenderContext) -> str:
    work = work_of(context)
    items, sep = _items(value), work.text(separator)
    work.charge_items("'join'", len(items))
    parts: list[str] = []
    size = 0
    for item in items:
        text = work.text(item)
        size += len(text) + (len(sep) if parts else 0)
        Work.check_text("the filter 'join'", size)
        parts.append(text)
    work.charge("'join'", size + len(sep), calls=0)
    return sep.join(parts)


@with_context
def split(value: Any, separator: Any = "", *, context: RenderContext) -> list[str]:
    work = work_of(context)
    text, sep = work.text(value), work.text(separator)
    work.charge("'split'", len(text) + len(sep))
    count = len(text) if sep == "" else (text.count(sep) + 1 if sep != " " else len(text) // 2 + 1)
    if count > MAX_ITEMS:  # the exact count for " " (any whitespace) when the bound is too high
        count = len(text.split()) if sep == " " else count
    Work.check_items("the filter 'split'", count)
    result: list[str] = liquid_string.split(text, sep)
    work.charge_items("'split'", len(result), calls=0)
    return result


def _list_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def run(value: Any, *args: Any, context: RenderContext) -> Any:
        work = work_of(context)
        if isinstance(value, str) and name in ("first", "last"):
            work.charge(f"'{name}'", 1)
            return None  # Liquid: a text has no first or last item
        items = _items(value)
        work.charge_items(f"'{name}'", len(items) + 1)
        args = tuple(work.text(a) for a in args)
        result = func(items, *args)
        if isinstance(result, list):
            Work.check_items(f"the filter '{name}'", len(result))
        return result

    run.__name__ = name
    return with_context(run)


def _first(items: list[Any]) -> Any:
    return items[0] if items else None


def _last(items: list[Any]) -> Any:
    return items[-1] if items else None


def _map(items: list[Any], key: str) -> list[Any]:
    return [_key(item, key) for item in items]


def _where(items: list[Any], key: str, *value: str) -> list[Any]:
    if value:
        return [i for i in items if _key(i, key) is not None and as_text(_key(i, key)) == value[0]]
    return [i for i in items if _key(i, key) not in (None, False)]


def _compact(items: list[Any], *key: str) -> list[Any]:
    if key:
        return [i for i in items if _key(i, key[0]) is not None]
    return [i for i in items if i is not None]


def _uniq(items: list[Any]) -> list[Any]:
    """Plain values once each, in order (objects and lists are kept as they are)."""
    seen: set[tuple[type, Any]] = set()
    out = []
    for item in items:
        if isinstance(item, dict | list):
            out.append(item)
            continue
        marker = (type(item), item)
        if marker not in seen:
            seen.add(marker)
            out.append(item)
    return out


@with_context
def size(value: Any, *, context: RenderContext) -> int:
    work_of(context).charge("'size'", 1)
    if isinstance(value, str | list | dict | tuple | range):
        return len(value)
    return 0


@with_context
def default(
    value: Any, fallback: Any = "", *, context: RenderContext, allow_false: bool = False
) -> Any:
    """Liquid's default: nil, false (unless ``allow_false``) and empty values get ``fallback``;
    so does any value that would show as nothing in a Fortnox field (a text of only spaces, an
    object, a list of objects)."""
    work = work_of(context)
    work.charge("'default'", 1)
    if value is False:
        return value if allow_false is True else fallback
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value  # Liquid: 0 is a value
    return fallback if not work.text(value).strip() else liquid_default(value, fallback)


@with_context
def date(value: Any, fmt: Any = "", *, context: RenderContext) -> str:
    """Liquid's date over a date or time from the order; "now" and "today" stay as they are
    (a template sees the order only, not the clock)."""
    work = work_of(context)
    text, pattern = work.text(value), work.text(fmt)
    work.charge("'date'", len(text) + len(pattern))
    if not text or len(text) > MAX_DATE_INPUT or text.strip().lower() in ("now", "today"):
        return text
    try:
        result = str(liquid_date(text, pattern, environment=context.env))
    except FilterArgumentError:
        return text
    Work.check_text("the filter 'date'", len(result))
    work.charge("'date'", len(result), calls=0)
    return result


def _digits(text: str) -> str:
    return "".join(c for c in text if c in "0123456789")


@with_context
def slice_(value: Any, start: Any, length: Any = 1, *, context: RenderContext) -> Any:
    work = work_of(context)
    if isinstance(value, list | tuple | range):
        items = _items(value)
        work.charge_items("'slice'", len(items))
        return liquid_string.slice_(items, start, length)
    text = work.text(value)
    work.charge("'slice'", len(text))
    return liquid_string.slice_(text, start, length)


def _unwrapped(func: Callable[..., Any]) -> Callable[..., str]:
    """python-liquid's string filter without its decorator (our input is text already)."""
    inner = getattr(func, "__wrapped__", func)
    return inner


def _strip_newlines(text: str) -> str:
    return text.replace("\r\n", "").replace("\n", "")


FILTERS: dict[str, Callable[..., Any]] = {
    # text
    "upcase": _text_filter("upcase", str.upper),
    "downcase": _text_filter("downcase", str.lower),
    "capitalize": _text_filter("capitalize", str.capitalize),
    "strip": _text_filter("strip", str.strip),
    "lstrip": _text_filter("lstrip", str.lstrip),
    "rstrip": _text_filter("rstrip", str.rstrip),
    "strip_newlines": _text_filter("strip_newlines", _strip_newlines),
    "append": _text_filter("append", lambda t, a="": t + a, text_args=1),
    "prepend": _text_filter("prepend", lambda t, a="": a + t, text_args=1),
    "remove": _text_filter("remove", lambda t, a="": t.replace(a, ""), text_args=1),
    "remove_first": _text_filter("remove_first", lambda t, a="": t.replace(a, "", 1), text_args=1),
    "replace": _replace("replace", lambda t, a, b: t.replace(a, b), every=True),
    "replace_first": _replace("replace_first", lambda t, a, b: t.replace(a, b, 1), every=False),
    "truncate": _text_filter("truncate", _unwrapped(liquid_string.truncate)),
    "truncatewords": _text_filter("truncatewords", _unwrapped(liquid_string.truncatewords)),
    "slice": slice_,
    "split": split,
    "date": date,
    "digits": _text_filter("digits", _digits),
    "titlecase": _text_filter("titlecase", str.title),
    # any value
    "default": default,
    "size": size,
    # lists
    "join": join,
    "first": _list_filter("first", _first),
    "last": _list_filter("last", _last),
    "map": _list_filter("map", _map),
    "where": _list_filter("where", _where),
    "compact": _list_filter("compact", _compact),
    "uniq": _list_filter("uniq", _uniq),
}

# name -> (fewest, most positional arguments, keyword arguments): checked when a rule is saved.
ARGUMENTS: dict[str, tuple[int, int, frozenset[str]]] = {
    **dict.fromkeys(
        (
            *("upcase", "downcase", "capitalize", "strip", "lstrip", "rstrip", "strip_newlines"),
            *("digits", "titlecase", "size", "first", "last", "uniq"),
        ),
        (0, 0, frozenset[str]()),
    ),
    **dict.fromkeys(
        ("append", "prepend", "remove", "remove_first", "split", "date", "map"),
        (1, 1, frozenset[str]()),
    ),
    "replace": (1, 2, frozenset()),
    "replace_first": (1, 2, frozenset()),
    "truncate": (0, 2, frozenset()),
    "truncatewords": (0, 2, frozenset()),
    "slice": (1, 2, frozenset()),
    "default": (0, 1, frozenset({"allow_false"})),
    "join": (0, 1, frozenset()),
    "where": (1, 2, frozenset()),
    "compact": (0, 1, frozenset()),
}
