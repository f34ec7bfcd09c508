"""Rule conditions: which orders a rule applies to, as a small tree checked when saved.

A condition is one of::

    {"all": [condition, ...]}     every one holds (an empty list holds)
    {"any": [condition, ...]}     at least one holds
    {"not": condition}            it does not hold
    {"field": F, "op": O, "value": V}

Fields (and what they read from the order):

| field | type | from |
|---|---|---|
| tags | list | ``tags`` (comma-separated) |
| customer_tags | list | ``customer.tags`` |
| payment_gateway | list | ``payment_gateway_names`` |
| source_name | text | ``source_name`` (sales channel: web, pos, shopify_draft_order, ...) |
| billing_country / shipping_country | text | the address's ``country_code`` |
| currency | text | ``presentment_currency`` (else ``currency``) |
| customer_type | text | ``company`` or ``private`` (as the customer is created in Fortnox) |
| financial_status | text | ``financial_status`` (pending, paid, refunded, ...) |
| fulfillment_status | text | ``fulfillment_status`` (``unfulfilled`` when Shopify sends null) |
| total_price | number | ``total_price`` (the shop's currency) |

Operators: lists ``contains``, ``not_contains``, ``contains_any`` (value: a list); text ``eq``,
``ne``, ``in``, ``not_in`` (value: a list for in/not_in); numbers ``eq``, ``ne``, ``gt``,
``gte``, ``lt``, ``lte`` (value: a decimal string or a number). Text compares ignoring case.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from services.mapper.accounting.customers import company_details
from services.mapper.accounting.settings import ShopSettings

MAX_DEPTH = 8
MAX_CHILDREN = 50
MAX_VALUES = 200
# A rule's whole condition: conditions (combinators and fields) and listed values together, so
# matching an order costs at most a few hundred comparisons per rule (MAX_RULES rules a shop).
MAX_NODES = 100
MAX_LISTED = 1000

LIST_FIELDS = frozenset({"tags", "customer_tags", "payment_gateway"})
TEXT_FIELDS = frozenset(
    {
        "source_name",
        "billing_country",
        "shipping_country",
        "currency",
        "customer_type",
        "financial_status",
        "fulfillment_status",
    }
)
NUMBER_FIELDS = frozenset({"total_price"})
FIELDS = LIST_FIELDS | TEXT_FIELDS | NUMBER_FIELDS
OPERATORS: dict[str, tuple[str, ...]] = {
    "list": ("contains", "not_contains", "contains_any"),
    "text": ("eq", "ne", "in", "not_in"),
    "number": ("eq", "ne", "gt", "gte", "lt", "lte"),
}


class ConditionError(ValueError):
    """An invalid condition: ``path`` (e.g. ``all[1].op``) and what is wrong."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def _kind(field: str) -> str:
    if field in LIST_FIELDS:
        return "list"
    return "number" if field in NUMBER_FIELDS else "text"


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path and not part.startswith("[") else f"{path}{part}"


def _number(value: Any, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConditionError(path, 'a decimal number is required (e.g. "1000" or 1000)')
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise ConditionError(path, f"{value!r} is not a decimal number") from exc
    if not number.is_finite() or abs(number) >= Decimal(10) ** 15:
        raise ConditionError(path, f"{value!r} is not a usable amount")
    return str(number)


def _text_value(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise ConditionError(path, "a non-empty text of at most 255 characters is required")
    return value.strip()


def _leaf(node: dict[str, Any], path: str) -> dict[str, Any]:
    unknown = sorted(set(node) - {"field", "op", "value"})
    if unknown:
        raise ConditionError(_join(path, unknown[0]), "unknown key in a condition")
    field = node.get("field")
    if field not in FIELDS:
        raise ConditionError(
            _join(path, "field"),
            f"{field!r} is not a field; use one of {', '.join(sorted(FIELDS))}",
        )
    kind = _kind(str(field))
    op = node.get("op")
    if op not in OPERATORS[kind]:
        raise ConditionError(
            _join(path, "op"),
            f"{op!r} is not an operator for {field} ({kind}); use one of "
            f"{', '.join(OPERATORS[kind])}",
        )
    where = _join(path, "value")
    if "value" not in node:
        raise ConditionError(where, "a value is required")
    value = node["value"]
    if op in ("in", "not_in", "contains_any"):
        if not isinstance(value, list) or not value or len(value) > MAX_VALUES:
            raise ConditionError(where, f"a list of 1 to {MAX_VALUES} texts is required")
        return {
            "field": field,
            "op": op,
            "value": [_text_value(v, f"{where}[{i}]") for i, v in enumerate(value)],
        }
    checked = _number(value, where) if kind == "number" else _text_value(value, where)
    return {"field": field, "op": op, "value": checked}


class _Size:
    """How big a condition tree is so far (parse_condition refuses one over the caps)."""

    def __init__(self) -> None:
        self.nodes = 0
        self.listed = 0

    def add(self, path: str, listed: int = 0) -> None:
        self.nodes += 1
        self.listed += listed
        if self.nodes > MAX_NODES:
            raise ConditionError(path, f"a rule's conditions have at most {MAX_NODES} parts")
        if self.listed > MAX_LISTED:
            raise ConditionError(
                path, f"a rule's conditions list at most {MAX_LISTED} values in all"
            )


def parse_condition(
    node: Any, path: str = "", depth: int = 0, size: _Size | None = None
) -> dict[str, Any]:
    """The condition, normalised; raises ConditionError naming the path of what is wrong."""
    size = _Size() if size is None else size
    if not isinstance(node, dict):
        raise ConditionError(path, 'a condition is an object ({"all"|"any"|"not"|"field"})')
    if depth > MAX_DEPTH:
        raise ConditionError(path, f"conditions nest at most {MAX_DEPTH} deep")
    combinators = [key for key in ("all", "any", "not") if key in node]
    if not combinators:
        leaf = _leaf(node, path)
        size.add(path, len(leaf["value"]) if isinstance(leaf["value"], list) else 0)
        return leaf
    size.add(path)
    if len(node) != 1:
        raise ConditionError(path, "a combinator (all/any/not) must be the object's only key")
    key = combinators[0]
    if key == "not":
        return {"not": parse_condition(node["not"], _join(path, "not"), depth + 1, size)}
    children = node[key]
    if not isinstance(children, list) or len(children) > MAX_CHILDREN:
        raise ConditionError(_join(path, key), f"a list of at most {MAX_CHILDREN} conditions")
    return {
        key: [
            parse_condition(child, f"{_join(path, key)}[{i}]", depth + 1, size)
            for i, child in enumerate(children)
        ]
    }


def _tags(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [t.strip() for t in str(value or "").split(",") if t.strip()]


def _country(order: dict[str, Any], field: str) -> str:
    address = order.get(field) or {}
    return str(address.get("country_code") or "") if isinstance(address, dict) else ""


def order_value(order: dict[str, Any], field: str, settings: ShopSettings) -> Any:
    """What a condition field reads from the order."""
    customer = order.get("customer") if isinstance(order.get("customer"), dict) else {}
    readers: dict[str, Callable[[], Any]] = {
        "tags": lambda: _tags(order.get("tags")),
        "customer_tags": lambda: _tags((customer or {}).get("tags")),
        "payment_gateway": lambda: _tags(order.get("payment_gateway_names")),
        "source_name": lambda: str(order.get("source_name") or ""),
        "billing_country": lambda: _country(order, "billing_address"),
        "shipping_country": lambda: _country(order, "shipping_address"),
        "currency": lambda: str(order.get("presentment_currency") or order.get("currency") or ""),
        "customer_type": lambda: "company" if company_details(order, settings)[0] else "private",
        "financial_status": lambda: str(order.get("financial_status") or ""),
        "fulfillment_status": lambda: str(order.get("fulfillment_status") or "unfulfilled"),
        "total_price": lambda: order.get("total_price"),
    }
    return readers[field]()


def _compare_number(actual: Any, op: str, expected: str) -> bool:
    try:
        number = Decimal(str(actual))
    except InvalidOperation:
        return False
    if actual is None or isinstance(actual, bool) or not number.is_finite():
        return False
    target = Decimal(expected)
    return {
        "eq": number == target,
        "ne": number != target,
        "gt": number > target,
        "gte": number >= target,
        "lt": number < target,
        "lte": number <= target,
    }[op]


class OrderFacts:
    """What the condition fields read from one order, each read once (and case-folded once),
    so matching costs one comparison per condition and listed value whatever the order holds."""

    def __init__(self, order: dict[str, Any], settings: ShopSettings) -> None:
        self._order = order
        self._settings = settings
        self._seen: dict[str, Any] = {}

    def get(self, field: str) -> Any:
        if field not in self._seen:
            try:
                actual = order_value(self._order, field, self._settings)
            except (AttributeError, TypeError, ValueError):  # not an order's shape: absent
                actual = [] if field in LIST_FIELDS else None
            if field in LIST_FIELDS:
                actual = frozenset(str(v).casefold() for v in actual)
            elif field not in NUMBER_FIELDS:
                actual = str(actual or "").casefold()
            self._seen[field] = actual
        return self._seen[field]


def _leaf_matches(node: dict[str, Any], facts: OrderFacts) -> bool:
    field, op, value = node["field"], node["op"], node["value"]
    actual = facts.get(field)
    if field in NUMBER_FIELDS:
        return _compare_number(actual, op, value)
    if field in LIST_FIELDS:
        if op == "contains_any":
            return any(str(v).casefold() in actual for v in value)
        found = str(value).casefold() in actual
        return found if op == "contains" else not found
    if op in ("in", "not_in"):
        inside = any(actual == str(v).casefold() for v in value)
        return inside if op == "in" else not inside
    equal: bool = actual == str(value).casefold()
    return equal if op == "eq" else not equal


def matches(
    node: dict[str, Any] | None,
    order: dict[str, Any],
    settings: ShopSettings,
    facts: OrderFacts | None = None,
) -> bool:
    """Whether the (parsed) condition holds for the order; None holds for every order.

    ``facts``: the order's facts when several conditions are matched against one order."""
    if node is None:
        return True
    facts = OrderFacts(order, settings) if facts is None else facts
    if "all" in node:
        return all(matches(child, order, settings, facts) for child in node["all"])
    if "any" in node:
        return any(matches(child, order, settings, facts) for child in node["any"])
    if "not" in node:
        return not matches(node["not"], order, settings, facts)
    return _leaf_matches(node, facts)
