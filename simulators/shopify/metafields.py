"""Metafields: the Metafield node, HasMetafields fields, and the metafieldsSet mutation.

metafieldsSet is atomic: when any input has a user error nothing is written and the payload
carries `metafields: []` plus the userErrors. Up to 25 inputs per call. `namespace` defaults
to the app-reserved namespace ("$app" -> "app--<app id>"). `type` is required unless the
metafield already exists. Values are checked against their type; `compareDigest` (the
sha256 hex digest this simulator reports) guards against stale writes. Setting a metafield
does not change the owner's updatedAt here (unconfirmed for real orders).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ._state import MetafieldKey, MetafieldMeta, ShopState, expand_namespace, gid, parse_gid
from .execution import Connection, Node
from .operation import GraphQLError

MAX_INPUTS = 25
METAFIELD_ID_BASE = 27_000_000_000_000
_INPUT_FIELDS = frozenset({"ownerId", "namespace", "key", "value", "type", "compareDigest"})
_OWNER_KINDS = frozenset({"Order", "Product", "ProductVariant", "Customer", "Shop"})
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_REFERENCES = "product variant customer page file collection metaobject mixed company order"
_SIMPLE_TYPES = (
    "single_line_text_field multi_line_text_field rich_text_field json number_integer "
    "number_decimal boolean date date_time url color rating money weight dimension volume link id"
)
BASE_TYPES = frozenset(
    [*_SIMPLE_TYPES.split(), *(f"{name}_reference" for name in _REFERENCES.split())]
)


# Shopify's metafield size limits (shopify.dev, "Metafield limits"): 64 KB for most types, 2 KB
# for id and url, and for json 128 KB on API 2026-04 and later (2 MB before, for apps that used
# JSON metafields earlier). The simulator applies 128 KB on every version: an app that stays
# under it works on both sides of the change.
VALUE_LIMITS = {"json": 128 * 1024, "id": 2 * 1024, "url": 2 * 1024}
DEFAULT_VALUE_LIMIT = 64 * 1024


def value_limit(kind: str) -> int:
    base = kind.removeprefix("list.")
    return VALUE_LIMITS.get(base, DEFAULT_VALUE_LIMIT)


def metafield_node(shop: ShopState, key: MetafieldKey) -> Node:
    stored, meta = shop.metafields[key], shop.metafield_meta[key]
    value, kind = stored["value"], stored["type"]
    json_value: Any = value
    try:
        if kind == "json" or kind.startswith("list."):
            json_value = json.loads(value)
        elif kind == "number_integer":
            json_value = int(value)
        elif kind == "boolean":
            json_value = value == "true"
    except ValueError:
        json_value = value
    owner = parse_gid(key[0])
    return {
        "__typename": "Metafield",
        "id": gid("Metafield", meta.id),
        "namespace": key[1],
        "key": key[2],
        "value": value,
        "type": kind,
        "jsonValue": json_value,
        "createdAt": meta.created_at,
        "updatedAt": stored["updatedAt"],
        "compareDigest": compare_digest(value),
        "ownerType": owner[0].upper() if owner else None,
    }


def compare_digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def metafield_fields(shop: ShopState, owner_gid: str) -> Node:
    def one(args: Mapping[str, Any]) -> Node | None:
        key = (owner_gid, expand_namespace(args.get("namespace")), str(args.get("key")))
        return metafield_node(shop, key) if key in shop.metafields else None

    def many(args: Mapping[str, Any]) -> Connection:
        namespace = args.get("namespace")
        keys = args.get("keys")
        found = [
            k
            for k, _ in shop.metafields_of(owner_gid)
            if (namespace is None or k[1] == expand_namespace(namespace))
            and (not keys or f"{k[1]}.{k[2]}" in keys)
        ]
        ids = [shop.metafield_meta[k].id for k in found]
        return Connection.of("Metafield", [metafield_node(shop, k) for k in found], ids)

    return {"metafield": one, "metafields": many}


def _is_json(value: str) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def _is_decimal(value: str) -> bool:
    try:
        return Decimal(value).is_finite()
    except InvalidOperation:
        return False


def _parses(parse: Callable[[str], object], value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


_VALUE_CHECKS: dict[str, tuple[Callable[[str], bool], str]] = {
    "number_integer": (lambda v: re.fullmatch(r"-?\d{1,18}", v) is not None, "an integer"),
    "number_decimal": (_is_decimal, "a decimal number"),
    "boolean": (lambda v: v in ("true", "false"), "true or false"),
    "json": (_is_json, "valid JSON"),
    "date": (lambda v: _parses(date.fromisoformat, v), "an ISO 8601 date"),
    "date_time": (lambda v: _parses(datetime.fromisoformat, v), "an ISO 8601 date and time"),
    "url": (lambda v: v.split(":", 1)[0] in ("http", "https", "mailto", "sms", "tel"), "a URL"),
    "single_line_text_field": (lambda v: "\n" not in v, "a single line text string"),
}


def _user_error(index: int | None, name: str | None, message: str, code: str) -> Node:
    path = ["metafields"] if index is None else ["metafields", str(index)]
    return {
        "__typename": "MetafieldsSetUserError",
        "field": [*path, name] if name else path,
        "message": message,
        "code": code,
        "elementIndex": index,
    }


def _coercion_error(index: int, name: str, problem: str) -> GraphQLError:
    return GraphQLError(
        "Variable $metafields of type [MetafieldsSetInput!]! was provided invalid value for "
        f"{index}.{name} ({problem})",
        extensions={"code": "INVALID_VARIABLE", "problems": [{"path": [index, name]}]},
    )


def _check(shop: ShopState, index: int, item: Mapping[str, Any]) -> list[Node]:
    for name in item:
        if name not in _INPUT_FIELDS:
            raise _coercion_error(index, name, "Field is not defined on MetafieldsSetInput")
    for name in ("ownerId", "key", "value"):
        if item.get(name) is None:
            raise _coercion_error(index, name, "Expected value to not be null")
    for name in _INPUT_FIELDS:
        if item.get(name) is not None and not isinstance(item[name], str):
            raise _coercion_error(index, name, f"Could not coerce value {item[name]!r} to String")
    errors: list[Node] = []
    owner, key, value = item["ownerId"], item["key"], item["value"]
    parsed = parse_gid(owner)
    if parsed is not None and parsed[0] not in _OWNER_KINDS:
        errors.append(
            _user_error(
                index,
                "ownerId",
                "Owner type can't be used in this mutation.",
                "DISALLOWED_OWNER_TYPE",
            )
        )
    elif not shop.owner_exists(owner):
        errors.append(_user_error(index, "ownerId", "Owner does not exist.", "INVALID"))
    namespace = item.get("namespace")
    if (
        namespace is not None
        and not namespace.startswith("$app")
        and not 3 <= len(namespace) <= 255
    ):
        errors.append(
            _user_error(
                index, "namespace", "Namespace must be 3 to 255 characters long.", "TOO_SHORT"
            )
        )
    if not 2 <= len(key) <= 64 or not _KEY_RE.match(key):
        errors.append(
            _user_error(
                index,
                "key",
                "Key must be 2 to 64 characters of letters, digits, - and _.",
                "INVALID",
            )
        )
    existing = shop.metafields.get((owner, expand_namespace(namespace), key))
    kind = item.get("type") or (existing or {}).get("type")
    if not kind:
        errors.append(_user_error(index, "type", "Type can't be blank.", "BLANK"))
        return errors
    base = kind.removeprefix("list.")
    if base not in BASE_TYPES:
        errors.append(_user_error(index, "type", f"Type '{kind}' is invalid.", "INVALID_TYPE"))
        return errors
    if kind.startswith("list."):
        valid, wanted = (_is_json(value) and value.lstrip().startswith("["), "a JSON array")
    elif base in _VALUE_CHECKS:
        check, wanted = _VALUE_CHECKS[base]
        valid = check(value)
    elif base.endswith("_reference"):
        valid, wanted = parse_gid(value) is not None, "a global id"
    else:
        valid, wanted = True, ""
    if not valid:
        errors.append(_user_error(index, "value", f"Value must be {wanted}.", "INVALID_VALUE"))
    limit = value_limit(kind)
    if len(value.encode()) > limit:
        errors.append(
            _user_error(
                index, "value", f"Value is too long (maximum is {limit} bytes).", "TOO_LONG"
            )
        )
    digest = item.get("compareDigest")
    if digest is not None and existing is not None and digest != compare_digest(existing["value"]):
        errors.append(
            _user_error(
                index,
                "compareDigest",
                "The resource has been updated since it was loaded. Try again with an updated "
                "`compareDigest` value.",
                "STALE_OBJECT",
            )
        )
    return errors


def metafields_set(shop: ShopState, args: Mapping[str, Any], now: str) -> Node:
    inputs = args.get("metafields")
    if not isinstance(inputs, list) or not all(isinstance(item, dict) for item in inputs):
        raise GraphQLError(
            "Variable $metafields of type [MetafieldsSetInput!]! was provided invalid value",
            extensions={"code": "INVALID_VARIABLE"},
        )
    errors: list[Node] = []
    if len(inputs) > MAX_INPUTS:
        message = f"Exceeded the maximum metafields input limit of {MAX_INPUTS}."
        errors.append(_user_error(None, None, message, "LESS_THAN_OR_EQUAL_TO"))
    else:
        for index, item in enumerate(inputs):
            errors.extend(_check(shop, index, item))
    if errors:
        return {"__typename": "MetafieldsSetPayload", "metafields": [], "userErrors": errors}
    nodes: list[Node] = []
    for item in inputs:
        key = (item["ownerId"], expand_namespace(item.get("namespace")), item["key"])
        kind = item.get("type") or shop.metafields[key]["type"]
        if key not in shop.metafield_meta:
            new_id = METAFIELD_ID_BASE + len(shop.metafield_meta) + 1
            shop.metafield_meta[key] = MetafieldMeta(new_id, now)
        shop.metafields[key] = {"value": item["value"], "type": kind, "updatedAt": now}
        nodes.append(metafield_node(shop, key))
    return {"__typename": "MetafieldsSetPayload", "metafields": nodes, "userErrors": []}
