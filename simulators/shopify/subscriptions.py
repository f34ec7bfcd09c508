"""Webhook subscriptions: the webhookSubscriptionCreate mutation and the webhookSubscriptions query.

Topics are WebhookSubscriptionTopic enum values (ORDERS_CREATE, APP_UNINSTALLED, ...); the
mandatory privacy topics are not in that enum (apps declare them in their configuration), so
asking for them is a GraphQL error, as on Shopify. The endpoint is given as ``callbackUrl``
(deprecated on Shopify but still accepted) or ``uri``. User errors, as Shopify words them:
an address that is not an absolute http(s) URL, plain http to anything but loopback (Shopify
wants https; loopback is allowed so tests can receive deliveries), and the same topic and
address twice ("Address for this topic has already been taken").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from ._state import ShopState, gid
from .execution import Connection, Node
from .operation import GraphQLError

SUBSCRIPTION_ID_BASE = 1_300_000_000
FORMATS = frozenset({"JSON", "XML"})
TOPICS = frozenset(
    {
        "APP_UNINSTALLED",
        "APP_SUBSCRIPTIONS_UPDATE",
        "APP_SUBSCRIPTIONS_APPROACHING_CAPPED_AMOUNT",
        "BULK_OPERATIONS_FINISH",
        "CUSTOMERS_CREATE",
        "CUSTOMERS_UPDATE",
        "CUSTOMERS_DELETE",
        "INVENTORY_LEVELS_UPDATE",
        "ORDERS_CREATE",
        "ORDERS_UPDATED",
        "ORDERS_EDITED",
        "ORDERS_PAID",
        "ORDERS_CANCELLED",
        "ORDERS_FULFILLED",
        "ORDERS_DELETE",
        "REFUNDS_CREATE",
        "PRODUCTS_CREATE",
        "PRODUCTS_UPDATE",
        "PRODUCTS_DELETE",
        "SHOP_UPDATE",
    }
)


def topic_enum(topic: str) -> str:
    """``orders/create`` -> ``ORDERS_CREATE``."""
    return topic.replace("/", "_").upper()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def address_problem(address: object) -> str | None:
    """Why Shopify would refuse this callback address, or None."""
    if not isinstance(address, str) or not address:
        return "Address can't be blank"
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Address is invalid"
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        return "Address protocol http:// is not supported"
    return None


def subscription_node(sub: Mapping[str, Any]) -> Node:
    return {
        "__typename": "WebhookSubscription",
        "id": gid("WebhookSubscription", sub["id"]),
        "legacyResourceId": str(sub["id"]),
        "topic": sub["topic"],
        "format": sub["format"],
        "callbackUrl": sub["uri"],
        "uri": sub["uri"],
        "includeFields": list(sub["include_fields"]),
        "createdAt": sub["created_at"],
        "updatedAt": sub["created_at"],
        "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": sub["uri"]},
    }


def _input_error(name: str, problem: str) -> GraphQLError:
    return GraphQLError(
        f"Variable ${name} was provided invalid value ({problem})",
        extensions={"code": "INVALID_VARIABLE"},
    )


def _user_error(name: str, message: str) -> Node:
    return {"__typename": "UserError", "field": [name], "message": message}


def _payload(sub: Node | None, errors: list[Node]) -> Node:
    return {
        "__typename": "WebhookSubscriptionCreatePayload",
        "webhookSubscription": sub,
        "userErrors": errors,
    }


def webhook_subscription_create(shop: ShopState, args: Mapping[str, Any], now: str) -> Node:
    topic = args.get("topic")
    if topic not in TOPICS:
        raise _input_error("topic", f"Expected {topic!r} to be one of WebhookSubscriptionTopic")
    spec = args.get("webhookSubscription")
    if not isinstance(spec, Mapping):
        raise _input_error("webhookSubscription", "Expected value to not be null")
    unknown = set(spec) - {"callbackUrl", "uri", "format", "includeFields", "metafieldNamespaces"}
    if unknown:
        raise _input_error("webhookSubscription", f"fields not defined: {sorted(unknown)}")
    fmt = spec.get("format") or "JSON"
    if fmt not in FORMATS:
        wrong = f"format {fmt!r} is not a WebhookSubscriptionFormat"
        raise _input_error("webhookSubscription", wrong)
    address = spec.get("uri") or spec.get("callbackUrl")
    problem = address_problem(address)
    if problem is None and any(
        sub["topic"] == topic and sub["uri"] == address
        for sub in shop.webhook_subscriptions.values()
    ):
        problem = "Address for this topic has already been taken"
    if problem is not None:
        return _payload(None, [_user_error("callbackUrl", problem)])
    new_id = SUBSCRIPTION_ID_BASE + len(shop.webhook_subscriptions) + 1
    while new_id in shop.webhook_subscriptions:
        new_id += 1
    sub = {
        "id": new_id,
        "topic": topic,
        "format": fmt,
        "uri": address,
        "include_fields": list(spec.get("includeFields") or []),
        "created_at": now,
    }
    shop.webhook_subscriptions[new_id] = sub
    return _payload(subscription_node(sub), [])


def webhook_subscription_delete(shop: ShopState, args: Mapping[str, Any]) -> Node:
    raw = str(args.get("id") or "")
    legacy = raw.rsplit("/", 1)[-1]
    found = shop.webhook_subscriptions.pop(int(legacy), None) if legacy.isdigit() else None
    errors = [] if found else [_user_error("id", "Webhook subscription does not exist")]
    return {
        "__typename": "WebhookSubscriptionDeletePayload",
        "deletedWebhookSubscriptionId": raw if found else None,
        "userErrors": errors,
    }


def webhook_subscriptions(shop: ShopState, args: Mapping[str, Any]) -> Connection:
    topics = args.get("topics")
    address = args.get("uri") or args.get("callbackUrl")
    subs = [
        sub
        for sub_id, sub in sorted(shop.webhook_subscriptions.items())
        if (not topics or sub["topic"] in topics) and (address is None or sub["uri"] == address)
    ]
    nodes = [subscription_node(sub) for sub in subs]
    return Connection("WebhookSubscription", nodes, [(s["id"], s["id"]) for s in subs])


def subscription_mutations(shop: ShopState, now: Callable[[], str]) -> dict[str, Any]:
    return {
        "webhookSubscriptionCreate": lambda args: webhook_subscription_create(shop, args, now()),
        "webhookSubscriptionDelete": lambda args: webhook_subscription_delete(shop, args),
    }
