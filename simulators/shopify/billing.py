"""Shopify's Billing API for apps: usage-priced subscriptions and usage records.

Mutations (as shopify.dev documents them):

- ``appSubscriptionCreate(name, returnUrl, lineItems, test, trialDays)``: a subscription in
  ``PENDING`` with a ``confirmationUrl`` where the merchant approves or declines it. A line item
  is ``{plan: {appUsagePricingDetails: {terms, cappedAmount: {amount, currencyCode}}}}`` (or
  ``appRecurringPricingDetails: {price, interval}``); one plan of each kind at most.
- ``appUsageRecordCreate(subscriptionLineItemId, price, description, idempotencyKey)``: a usage
  charge on an ``ACTIVE`` subscription's usage line item. The same ``idempotencyKey`` (at most
  255 characters) answers the record it made the first time, charging nothing again; a charge
  that would take the interval's ``balanceUsed`` above ``cappedAmount`` is refused with
  "Total price exceeds balance remaining". When the balance reaches 90 % of the cap Shopify
  sends ``app_subscriptions/approaching_capped_amount`` (once per cap).
- ``appSubscriptionCancel(id)``: ``CANCELLED``.
- ``appSubscriptionLineItemUpdate(id, cappedAmount)``: a higher cap, with a ``confirmationUrl``
  the merchant approves before it takes effect.

Query: ``currentAppInstallation { activeSubscriptions { ... } }``.

Every change of status or cap sends ``app_subscriptions/update``. The merchant acts on the
confirmation page (``merchant_routes``) or, in tests, through ``/_sim`` control endpoints
(control.py): approve, decline, freeze, unfreeze, cancel, new_cycle.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ._money import gql_decimal
from ._state import APP_ID, CALLER_TOKEN, Payload, ShopState, gid, parse_gid
from .execution import Node
from .operation import GraphQLError

SUBSCRIPTION_ID_BASE = 27_000_000_000
USAGE_RECORD_ID_BASE = 31_000_000_000
MAX_IDEMPOTENCY_KEY = 255
APPROACHING_SHARE = Decimal("0.9")
CYCLE = timedelta(days=30)
STATUSES = ("PENDING", "ACTIVE", "DECLINED", "CANCELLED", "FROZEN", "EXPIRED")
EXCEEDS = "Total price exceeds balance remaining"

# What a merchant (or Shopify) may do to a subscription in a given status.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "approve": (frozenset({"PENDING"}), "ACTIVE"),
    "decline": (frozenset({"PENDING"}), "DECLINED"),
    "freeze": (frozenset({"ACTIVE"}), "FROZEN"),
    "unfreeze": (frozenset({"FROZEN"}), "ACTIVE"),
    "cancel": (frozenset({"ACTIVE", "FROZEN", "PENDING"}), "CANCELLED"),
}


def line_item_gid(sub_id: int, index: int) -> str:
    return f"gid://shopify/AppSubscriptionLineItem/{sub_id}?v=1&index={index}"


def _money(amount: Decimal, currency: str) -> Node:
    return {"__typename": "MoneyV2", "amount": gql_decimal(amount), "currencyCode": currency}


def _user_error(field: str, message: str) -> Node:
    return {"__typename": "UserError", "field": [field], "message": message}


def _input_error(name: str, problem: str) -> GraphQLError:
    return GraphQLError(
        f"Variable ${name} was provided invalid value ({problem})",
        extensions={"code": "INVALID_VARIABLE"},
    )


def _money_input(name: str, value: object) -> tuple[Decimal, str]:
    if not isinstance(value, Mapping) or "amount" not in value or "currencyCode" not in value:
        raise _input_error(name, "Expected {amount, currencyCode}")
    raw = value["amount"]
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise _input_error(name, "amount must be a Decimal")
    try:
        amount = Decimal(str(raw))
    except InvalidOperation as exc:
        raise _input_error(name, "amount must be a Decimal") from exc
    if not amount.is_finite():
        raise _input_error(name, "amount must be a Decimal")
    return amount, str(value["currencyCode"])


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Billing:
    """The billing state of every shop of one simulator (on each ShopState), and its webhooks."""

    def __init__(self, now: Callable[[], datetime], base_url: Callable[[], str]) -> None:
        self._now = now
        self._base_url = base_url
        self.outgoing: list[tuple[str, str, Payload]] = []  # (shop, topic, payload) to send

    # --- shapes ----------------------------------------------------------------------------
    def subscription_node(self, sub: Payload) -> Node:
        items = []
        for index, item in enumerate(sub["line_items"]):
            if item["kind"] == "usage":
                details: Node = {
                    "__typename": "AppUsagePricing",
                    "terms": item["terms"],
                    "cappedAmount": _money(item["capped_amount"], item["currency"]),
                    "balanceUsed": _money(item["balance_used"], item["currency"]),
                    "interval": "EVERY_30_DAYS",
                }
            else:
                details = {
                    "__typename": "AppRecurringPricing",
                    "price": _money(item["price"], item["currency"]),
                    "interval": item["interval"],
                }
            items.append(
                {
                    "__typename": "AppSubscriptionLineItem",
                    "id": line_item_gid(sub["id"], index),
                    "plan": {"__typename": "AppPlanV2", "pricingDetails": details},
                }
            )
        return {
            "__typename": "AppSubscription",
            "id": gid("AppSubscription", sub["id"]),
            "name": sub["name"],
            "status": sub["status"],
            "test": sub["test"],
            "trialDays": sub["trial_days"],
            "returnUrl": sub["return_url"],
            "createdAt": sub["created_at"],
            "currentPeriodEnd": sub["current_period_end"],
            "lineItems": items,
        }

    def record_node(self, shop: ShopState, record: Payload) -> Node:
        sub = shop.app_subscriptions[record["subscription_id"]]
        return {
            "__typename": "AppUsageRecord",
            "id": gid("AppUsageRecord", record["id"]),
            "description": record["description"],
            "idempotencyKey": record["idempotency_key"],
            "price": _money(record["price"], record["currency"]),
            "createdAt": record["created_at"],
            "subscriptionLineItem": self.subscription_node(sub)["lineItems"][record["index"]],
        }

    def confirmation_url(self, shop: ShopState, sub: Payload, kind: str = "subscription") -> str:
        return (
            f"{self._base_url()}/shops/{shop.domain}/admin/charges/{APP_ID}/{sub['id']}"
            f"/RecurringApplicationCharge/confirm?kind={kind}&signature={sub['signature']}"
        )

    # --- webhooks ----------------------------------------------------------------------------
    def _notify_update(self, shop: ShopState, sub: Payload) -> None:
        usage = _usage_item(sub)
        payload: Payload = {
            "app_subscription": {
                "admin_graphql_api_id": gid("AppSubscription", sub["id"]),
                "name": sub["name"],
                "status": sub["status"],
                "admin_graphql_api_shop_id": shop.gid,
                "created_at": sub["created_at"],
                "updated_at": sub["updated_at"],
                "currency": usage["currency"] if usage else "USD",
                "capped_amount": gql_decimal(usage["capped_amount"]) if usage else None,
            }
        }
        self.outgoing.append((shop.domain, "app_subscriptions/update", payload))

    def _notify_approaching(self, shop: ShopState, sub: Payload, item: Payload) -> None:
        payload: Payload = {
            "app_subscription": {
                "admin_graphql_api_id": gid("AppSubscription", sub["id"]),
                "name": sub["name"],
                "balance_used": gql_decimal(item["balance_used"]),
                "capped_amount": gql_decimal(item["capped_amount"]),
                "currency_code": item["currency"],
                "admin_graphql_api_shop_id": shop.gid,
                "created_at": sub["created_at"],
                "updated_at": sub["updated_at"],
            }
        }
        self.outgoing.append((shop.domain, "app_subscriptions/approaching_capped_amount", payload))

    # --- mutations ---------------------------------------------------------------------------
    def create(self, shop: ShopState, args: Mapping[str, Any]) -> Node:
        name = args.get("name")
        return_url = args.get("returnUrl")
        lines = args.get("lineItems")
        if not isinstance(name, str) or not name.strip():
            return _create_payload(None, None, [_user_error("name", "Name can't be blank")])
        if not isinstance(return_url, str) or not return_url.startswith(("http://", "https://")):
            raise _input_error("returnUrl", "Invalid url")
        if not isinstance(lines, list) or not lines:
            raise _input_error("lineItems", "Expected at least one line item")
        items: list[Payload] = []
        for line in lines:
            plan = line.get("plan") if isinstance(line, Mapping) else None
            if not isinstance(plan, Mapping) or len(plan) != 1:
                raise _input_error("lineItems", "a plan needs exactly one pricing details input")
            if "appUsagePricingDetails" in plan:
                details = plan["appUsagePricingDetails"]
                terms = details.get("terms") if isinstance(details, Mapping) else None
                if not isinstance(terms, str) or not terms.strip():
                    raise _input_error("lineItems", "terms is required")
                capped, currency = _money_input("lineItems", details.get("cappedAmount"))
                if capped <= 0:
                    errors = [_user_error("cappedAmount", "Capped amount must be greater than 0")]
                    return _create_payload(None, None, errors)
                items.append(
                    {
                        "kind": "usage",
                        "terms": terms,
                        "capped_amount": capped,
                        "currency": currency,
                        "balance_used": Decimal(0),
                        "pending_capped_amount": None,
                        "approaching_sent": False,
                    }
                )
            elif "appRecurringPricingDetails" in plan:
                details = plan["appRecurringPricingDetails"]
                price, currency = _money_input(
                    "lineItems", details.get("price") if isinstance(details, Mapping) else None
                )
                interval = (details.get("interval") if isinstance(details, Mapping) else None) or (
                    "EVERY_30_DAYS"
                )
                items.append(
                    {
                        "kind": "recurring",
                        "price": price,
                        "currency": currency,
                        "interval": interval,
                    }
                )
            else:
                raise _input_error("lineItems", "unknown pricing details")
        kinds = [item["kind"] for item in items]
        if len(set(kinds)) != len(kinds):
            errors = [_user_error("lineItems", "Only one pricing plan of each type is allowed")]
            return _create_payload(None, None, errors)
        now = self._now()
        sub_id = SUBSCRIPTION_ID_BASE + len(shop.app_subscriptions) + 1
        sub: Payload = {
            "id": sub_id,
            "name": name,
            "status": "PENDING",
            "test": bool(args.get("test")),
            "trial_days": int(args.get("trialDays") or 0),
            "return_url": return_url,
            "created_at": _iso(now),
            "updated_at": _iso(now),
            "current_period_end": None,
            "line_items": items,
            "signature": secrets.token_urlsafe(16),
        }
        shop.app_subscriptions[sub_id] = sub
        return _create_payload(self.subscription_node(sub), self.confirmation_url(shop, sub), [])

    def usage_record(self, shop: ShopState, args: Mapping[str, Any]) -> Node:
        found = self._line_item(shop, args.get("subscriptionLineItemId"))
        description = args.get("description")
        key = args.get("idempotencyKey")
        price, currency = _money_input("price", args.get("price"))
        if found is None:
            return _record_payload(
                None, [_user_error("subscriptionLineItemId", "Subscription line item not found")]
            )
        sub, index, item = found
        if item["kind"] != "usage":
            message = "The subscription line item must have a usage pricing plan"
            return _record_payload(None, [_user_error("subscriptionLineItemId", message)])
        if not isinstance(description, str) or not description.strip():
            return _record_payload(None, [_user_error("description", "Description can't be blank")])
        if key is not None and (not isinstance(key, str) or len(key) > MAX_IDEMPOTENCY_KEY):
            message = f"Idempotency key is too long (maximum is {MAX_IDEMPOTENCY_KEY} characters)"
            return _record_payload(None, [_user_error("idempotencyKey", message)])
        if key is not None:
            for known in shop.usage_records.values():
                if known["subscription_id"] == sub["id"] and known["idempotency_key"] == key:
                    return _record_payload(self.record_node(shop, known), [])
        if sub["status"] != "ACTIVE":
            message = f"The app subscription is {sub['status'].lower()}, not active"
            return _record_payload(None, [_user_error("subscriptionLineItemId", message)])
        if currency != item["currency"]:
            message = f"Currency must be {item['currency']}"
            return _record_payload(None, [_user_error("price", message)])
        if price <= 0:
            return _record_payload(None, [_user_error("price", "Price must be greater than 0")])
        if item["balance_used"] + price > item["capped_amount"]:
            return _record_payload(None, [_user_error("price", EXCEEDS)])
        record_id = USAGE_RECORD_ID_BASE + len(shop.usage_records) + 1
        record: Payload = {
            "id": record_id,
            "subscription_id": sub["id"],
            "index": index,
            "description": description,
            "idempotency_key": key,
            "price": price,
            "currency": currency,
            "created_at": _iso(self._now()),
            "test": sub["test"],
        }
        shop.usage_records[record_id] = record
        item["balance_used"] += price
        if (
            not item["approaching_sent"]
            and item["balance_used"] >= item["capped_amount"] * APPROACHING_SHARE
        ):
            item["approaching_sent"] = True
            self._notify_approaching(shop, sub, item)
        return _record_payload(self.record_node(shop, record), [])

    def cancel(self, shop: ShopState, args: Mapping[str, Any]) -> Node:
        sub = self._subscription(shop, args.get("id"))
        if sub is None:
            errors = [_user_error("id", "Couldn't find RecurringApplicationCharge")]
            return {"__typename": "AppSubscriptionCancelPayload", "appSubscription": None,
                    "userErrors": errors}  # fmt: skip
        problem = self.transition(shop, sub, "cancel")
        errors = [] if problem is None else [_user_error("id", problem)]
        return {
            "__typename": "AppSubscriptionCancelPayload",
            "appSubscription": self.subscription_node(sub),
            "userErrors": errors,
        }

    def line_item_update(self, shop: ShopState, args: Mapping[str, Any]) -> Node:
        found = self._line_item(shop, args.get("id"))
        capped, currency = _money_input("cappedAmount", args.get("cappedAmount"))
        typename = "AppSubscriptionLineItemUpdatePayload"
        if found is None or found[2]["kind"] != "usage":
            errors = [_user_error("id", "Subscription line item not found")]
            return {"__typename": typename, "appSubscription": None, "confirmationUrl": None,
                    "userErrors": errors}  # fmt: skip
        sub, _index, item = found
        if capped <= item["capped_amount"] or currency != item["currency"]:
            message = "The capped amount must be greater than the existing capped amount"
            return {"__typename": typename, "appSubscription": None, "confirmationUrl": None,
                    "userErrors": [_user_error("cappedAmount", message)]}  # fmt: skip
        item["pending_capped_amount"] = capped
        return {
            "__typename": typename,
            "appSubscription": self.subscription_node(sub),
            "confirmationUrl": self.confirmation_url(shop, sub, "capped_amount"),
            "userErrors": [],
        }

    # --- the merchant and Shopify -----------------------------------------------------------
    def transition(self, shop: ShopState, sub: Payload, action: str) -> str | None:
        """approve / decline / freeze / unfreeze / cancel; None, or why it is not allowed."""
        if action not in TRANSITIONS:
            return f"unknown action {action}"
        allowed, target = TRANSITIONS[action]
        if sub["status"] not in allowed:
            return f"a {sub['status'].lower()} subscription cannot be {action}d"
        now = self._now()
        sub["status"] = target
        sub["updated_at"] = _iso(now)
        if action == "approve":
            sub["current_period_end"] = _iso(now + CYCLE)
        self._notify_update(shop, sub)
        return None

    def approve_cap(self, shop: ShopState, sub: Payload) -> str | None:
        item = _usage_item(sub)
        if item is None or item["pending_capped_amount"] is None:
            return "no capped amount change is waiting for approval"
        item["capped_amount"] = item["pending_capped_amount"]
        item["pending_capped_amount"] = None
        item["approaching_sent"] = item["balance_used"] >= item["capped_amount"] * APPROACHING_SHARE
        sub["updated_at"] = _iso(self._now())
        self._notify_update(shop, sub)
        return None

    def new_cycle(self, sub: Payload) -> None:
        """Shopify's 30-day billing interval ends: usage starts again from zero."""
        for item in sub["line_items"]:
            if item["kind"] == "usage":
                item["balance_used"] = Decimal(0)
                item["approaching_sent"] = False
        sub["current_period_end"] = _iso(self._now() + CYCLE)

    def active(self, shop: ShopState) -> list[Node]:
        return [
            self.subscription_node(sub)
            for _, sub in sorted(shop.app_subscriptions.items())
            if sub["status"] == "ACTIVE"
        ]

    def _subscription(self, shop: ShopState, value: object) -> Payload | None:
        parsed = parse_gid(value)
        if parsed is None or parsed[0] != "AppSubscription":
            return None
        return shop.app_subscriptions.get(parsed[1])

    def _line_item(self, shop: ShopState, value: object) -> tuple[Payload, int, Payload] | None:
        parsed = parse_gid(value)
        if parsed is None or parsed[0] != "AppSubscriptionLineItem":
            return None
        sub = shop.app_subscriptions.get(parsed[1])
        text = str(value)
        index_text = text.rsplit("index=", 1)[-1] if "index=" in text else "0"
        if sub is None or not index_text.isdigit() or int(index_text) >= len(sub["line_items"]):
            return None
        return sub, int(index_text), sub["line_items"][int(index_text)]


def _usage_item(sub: Payload) -> Payload | None:
    return next((item for item in sub["line_items"] if item["kind"] == "usage"), None)


def _create_payload(sub: Node | None, url: str | None, errors: list[Node]) -> Node:
    return {
        "__typename": "AppSubscriptionCreatePayload",
        "appSubscription": sub,
        "confirmationUrl": url,
        "userErrors": errors,
    }


def _record_payload(record: Node | None, errors: list[Node]) -> Node:
    return {
        "__typename": "AppUsageRecordCreatePayload",
        "appUsageRecord": record,
        "userErrors": errors,
    }


def billing_mutations(billing: Billing, shop: ShopState) -> dict[str, Any]:
    return {
        "appSubscriptionCreate": lambda args: billing.create(shop, args),
        "appUsageRecordCreate": lambda args: billing.usage_record(shop, args),
        "appSubscriptionCancel": lambda args: billing.cancel(shop, args),
        "appSubscriptionLineItemUpdate": lambda args: billing.line_item_update(shop, args),
    }


def installation_node(billing: Billing, shop: ShopState) -> Node:
    """The app's installation: its subscriptions and the calling token's ``accessScopes`` (a
    token the simulator granted: its scopes; the shop's own test token: none listed)."""
    scopes = sorted(shop.token_scopes.get(CALLER_TOKEN.get(), frozenset()))
    return {
        "__typename": "AppInstallation",
        "id": gid("AppInstallation", APP_ID),
        "activeSubscriptions": billing.active(shop),
        "accessScopes": [{"__typename": "AccessScope", "handle": s} for s in scopes],
    }
