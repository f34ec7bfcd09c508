"""The caps on what field templates may do, and the per-order work counter that enforces them.

Every value a template sees or makes is text of at most ``MAX_VALUE`` characters or a list of at
most ``MAX_ITEMS`` items: the order is read through a bounded view (``bounded_view``), and every
filter's result is measured (and, where it could grow by a factor, predicted) before the next
filter runs. Each filter call is charged to two budgets: the template's (one field) and the
order's (every template of the rule, every line item's row templates together). A template
that would go over any cap stops with ``TemplateLimitError``, a reason in plain English. So a
template's work is bounded whatever it says and whatever the order holds: there are no loops,
every step is linear in capped sizes, and the number of steps is capped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from liquid import Undefined

MAX_VALUE = 4_000  # characters of any text a template reads or a filter makes
MAX_ITEMS = 1_000  # items of any list a template reads or a filter makes
MAX_DEPTH = 16  # levels of the order a template can reach (deeper objects read as empty)
MAX_VIEW_NODES = 200_000  # values of the order a template can reach (later ones read as empty)
MAX_TEMPLATE_CALLS = 100  # filter calls, outputs and conditions in one rendering
MAX_TEMPLATE_WORK = 200_000  # characters (and list items) handled by one rendering
MAX_ORDER_CALLS = 12_000  # ... by all the templates of one order together
MAX_ORDER_WORK = 2_000_000
# A list item costs a filter about as much as 25 characters (a Python step per item against a
# C loop per character): list work is counted at that weight.
ITEM_UNITS = 25
# What a missing value reads as when a template is tried on the sample order at save time, so a
# template that amplifies whatever it is given is refused even when the sample lacks its field.
PROBE_TEXT = "Sample text"


class TemplateLimitError(ValueError):
    """A template went over a cap; the message says which, in plain English."""


def _number(value: int | float | Decimal) -> str:
    if isinstance(value, float):
        return str(Decimal(str(value)))
    return str(value)


def as_text(value: Any, *, probe: bool = False) -> str:
    """What ``value`` shows as in a Fortnox field (at most ``MAX_VALUE`` characters).

    Missing: empty; true/false; numbers as written; an object (an address, a customer) shows
    nothing (name the field you want); a list shows its plain items separated by ", ".
    """
    if isinstance(value, str):
        return value[:MAX_VALUE]
    if isinstance(value, Undefined):
        return PROBE_TEXT if probe else ""
    if value is None or isinstance(value, dict):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return _number(value)[:MAX_VALUE]
    if isinstance(value, list | tuple):
        parts: list[str] = []
        size = 0
        for item in value:
            if isinstance(item, dict | list | tuple):
                continue
            text = as_text(item, probe=probe)
            parts.append(text)
            size += len(text) + 2
            if size > MAX_VALUE:
                break
        return ", ".join(parts)[:MAX_VALUE]
    if isinstance(value, range):
        return f"{value.start}..{value.stop - 1}"
    return str(value)[:MAX_VALUE]


class OrderObject(dict[str, Any]):
    """An object of the order as a template reads it (a plain dict by key, nothing else).

    It equals only itself and shows as nothing: a template comparing two objects (``==``,
    ``contains``, ``case``) costs one step, never a walk of both."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = object.__hash__  # type: ignore[assignment]

    def __str__(self) -> str:
        return ""

    __repr__ = __str__


class OrderList(list[Any]):
    """A list of the order as a template reads it: equal only to itself, shown as its items
    (as_text), and ``x in list`` answered from a set made once, so conditions that test
    membership cost one step each however often they ask."""

    __slots__ = ("_members",)

    def __init__(self, items: list[Any]) -> None:
        super().__init__(items)
        self._members: tuple[frozenset[Any], frozenset[int]] | None = None

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = object.__hash__  # type: ignore[assignment]

    def __str__(self) -> str:
        return as_text(self)

    __repr__ = __str__

    def __contains__(self, item: object) -> bool:
        if self._members is None:
            plain, objects = set(), set()
            for entry in self:
                if isinstance(entry, dict | list):
                    objects.add(id(entry))
                else:
                    plain.add(entry)
            self._members = (frozenset(plain), frozenset(objects))
        if isinstance(item, dict | list):
            return id(item) in self._members[1]
        try:
            return item in self._members[0]
        except TypeError:  # unhashable: not a value of the order
            return False


def bounded_view(value: Any, depth: int = 0) -> Any:
    """A copy of an order payload (JSON data) that a template can read: texts cut to
    ``MAX_VALUE`` characters, lists to ``MAX_ITEMS`` items, objects to ``MAX_DEPTH`` levels, at
    most ``MAX_VIEW_NODES`` values in all; objects and lists compare by identity
    (OrderObject, OrderList)."""
    return _View().copy(value, depth)


class _View:
    """One copy's count of the values it made."""

    def __init__(self) -> None:
        self.left = MAX_VIEW_NODES

    def copy(self, value: Any, depth: int) -> Any:
        self.left -= 1
        if isinstance(value, str):
            return value[:MAX_VALUE]
        if isinstance(value, dict):
            out = OrderObject()
            if depth >= MAX_DEPTH:
                return out
            for key, item in value.items():
                if len(out) >= MAX_ITEMS or self.left <= 0:
                    break
                out[str(key)[:MAX_VALUE]] = self.copy(item, depth + 1)
            return out
        if isinstance(value, list | tuple):
            items: list[Any] = []
            if depth < MAX_DEPTH:
                for item in value[:MAX_ITEMS]:
                    if self.left <= 0:
                        break
                    items.append(self.copy(item, depth + 1))
            return OrderList(items)
        if value is None or isinstance(value, bool | int | float | Decimal):
            return value
        return str(value)[:MAX_VALUE]


def _count(number: int) -> str:
    return f"{number:,}"


class Work:
    """The work the templates of one order have done (one per order; never shared).

    ``probe``: the template is being tried on the sample order when saved (missing values read
    as ``PROBE_TEXT``).
    """

    def __init__(self, *, probe: bool = False) -> None:
        self.probe = probe
        self.order_calls = 0
        self.order_units = 0
        self.template_calls = 0
        self.template_units = 0

    def start_template(self) -> None:
        self.template_calls = 0
        self.template_units = 0

    def text(self, value: Any) -> str:
        return as_text(value, probe=self.probe)

    def charge(self, what: str, units: int, *, calls: int = 1) -> None:
        """Count ``calls`` steps (a filter call or an output) that handle ``units`` characters
        or items; over a budget it stops."""
        self.template_calls += calls
        self.order_calls += calls
        self.template_units += units
        self.order_units += units
        if self.template_calls > MAX_TEMPLATE_CALLS:
            raise TemplateLimitError(
                f"the template has more than {_count(MAX_TEMPLATE_CALLS)} filters, outputs and "
                "conditions to run"
            )
        if self.template_units > MAX_TEMPLATE_WORK:
            raise TemplateLimitError(
                f"the template does too much work: at {what} its filters had handled more than "
                f"{_count(MAX_TEMPLATE_WORK)} characters (a list item counts as {ITEM_UNITS})"
            )
        if self.order_calls > MAX_ORDER_CALLS or self.order_units > MAX_ORDER_WORK:
            raise TemplateLimitError(
                "the rule's templates together do too much work for this order: more than "
                f"{_count(MAX_ORDER_CALLS)} filter calls or {_count(MAX_ORDER_WORK)} characters "
                f"(a list item counts as {ITEM_UNITS}) over all its fields and line items"
            )

    def charge_items(self, what: str, items: int, *, calls: int = 1) -> None:
        self.charge(what, items * ITEM_UNITS, calls=calls)

    @staticmethod
    def check_text(what: str, size: int) -> None:
        if size > MAX_VALUE:
            raise TemplateLimitError(
                f"{what} would make a text of {_count(size)} characters; a value in a template "
                f"may have at most {_count(MAX_VALUE)}"
            )

    @staticmethod
    def check_items(what: str, size: int) -> None:
        if size > MAX_ITEMS:
            raise TemplateLimitError(
                f"{what} would make a list of {_count(size)} items; a list in a template may "
                f"have at most {_count(MAX_ITEMS)}"
            )
