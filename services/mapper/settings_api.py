"""The shop's settings admin API: read, change (versioned) and preview a change before saving.

Under ``/admin/api/integrations/fortnox``:

- ``GET settings.json``: the shop's effective settings (its choices over the defaults), the
  defaults, and the version (0: never changed).
- ``PUT settings.json``: ``{"settings": {...}, "version": n}``. Each field given replaces the
  shop's value (``accounts`` and ``payouts`` field by field; ``accounts.sweden`` and
  ``payment_modes`` whole); fields left out keep theirs. ``version`` is the version the caller
  read: if the settings changed since, 409 with the current ones and nothing is written. Every
  problem answers 422 at once, each with its field's path (``settings.accounts.eu_vat``).
- ``POST settings/preview.json``: ``{"settings": {...draft...}, "order_id": "..."}`` (or
  ``"order"``): what the order's first document is with the saved settings and with the draft
  (the shop's rules applied on top of both, as for a real order), the modes of payment its
  gateways would get, and every value that differs. Nothing is saved or sent.

Reads need ``read_integrations``, changes ``write_integrations``; the shop is the caller's own
(or ``?shop=`` for the operator), as for the rules.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from libs.common.access import Principal, authorize_for_shop
from libs.common.errors import PermanentError
from libs.common.http import json_error
from libs.common.service import runtime_of
from libs.common.shopify_scopes import access, features_on, granted_scopes
from services.mapper.accounting import ShopSettings
from services.mapper.problems import path, plain
from services.mapper.rules.model import AccountsPatch, code_field
from services.mapper.rules.preview import preview
from services.mapper.rules.store import current_rule_set, load_order_payload
from services.mapper.store import (
    SettingsVersionConflict,
    StoredSettings,
    change_shop_settings,
    stored_shop_settings,
)
from services.mapper.vies import known_check

BASE = "/admin/api/integrations/fortnox/settings"
READ = ("read_integrations",)
WRITE = ("write_integrations",)
# Fields that may be set to null: no article metafield; shipping on the goods' account.
NULLABLE = frozenset({"article_metafield", "accounts.shipping"})
# Command fields that differ whenever anything does; not worth listing as a change.
_NOISE = frozenset({"command_id", "document_key", "event_uid", "rule_version"})
MAX_CHANGES = 100
MAX_GATEWAYS = 50  # payment methods a shop maps
MAX_VAT_RATES = 20  # Swedish VAT rates with an account
MAX_LOCATIONS = 50  # Shopify locations mapped to Fortnox stock points


class PayoutsPatch(BaseModel):
    """How payouts are booked (accounting/payouts.py); only the fields given change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool | None = None
    voucher_series: str | None = Field(
        default=None, min_length=1, max_length=10, pattern=r"^[A-Za-z0-9]+$"
    )
    clearing_account: int | None = Field(default=None, ge=1000, le=9999)
    fee_account: int | None = Field(default=None, ge=1000, le=9999)
    bank_account: int | None = Field(default=None, ge=1000, le=9999)
    adjustment_account: int | None = Field(default=None, ge=1000, le=9999)
    reserve_account: int | None = Field(default=None, ge=1000, le=9999)


class SettingsPatch(BaseModel):
    """The settings a merchant may change (names as in ShopSettings); left out: unchanged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    document_kind: Literal["invoice", "order", "none"] | None = None
    trigger: Literal["create", "paid", "fulfilled"] | None = None
    bookkeep_invoices: bool | None = None
    bookkeep_payments: bool | None = None
    send_email: bool | None = None
    accounts: AccountsPatch | None = None
    payment_modes: dict[str, str] | None = Field(default=None, max_length=MAX_GATEWAYS)
    default_payment_mode: str | None = code_field("ModeOfPayment for gateways not listed.")
    gift_card_payment_mode: str | None = code_field("ModeOfPayment for gift card payments.")
    customer_match: Literal["email", "organisation_number"] | None = None
    guest_customer_name: str | None = Field(default=None, min_length=1, max_length=1024)
    article_number_source: Literal["sku", "barcode", "variant_id", "metafield"] | None = None
    article_metafield: str | None = Field(default=None, min_length=1, max_length=100)
    sku_policy: Literal["variant_id", "no_article", "fail"] | None = None
    document_currency: Literal["presentment", "shop"] | None = None
    currency_rate: Literal["explicit", "fortnox"] | None = None
    shipping_as: Literal["row", "freight"] | None = None
    payouts: PayoutsPatch | None = None
    booking: Literal["per_order", "daily_summary"] | None = None
    summary_close_time: str | None = Field(
        default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM"
    )
    summary_timezone: str | None = Field(default=None, min_length=1, max_length=64)
    summary_customer_name: str | None = Field(default=None, min_length=1, max_length=200)
    inventory_source: Literal["shopify", "fortnox", "none"] | None = None
    inventory_locations: dict[str, str] | None = Field(default=None, max_length=MAX_LOCATIONS)


EDITABLE = tuple(SettingsPatch.model_fields)


class SettingsProblems(ValueError):
    """Every problem of a settings change, as (field path, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))

    def response(self) -> web.Response:
        errors = [{"path": path, "message": message} for path, message in self.problems]
        return json_error(422, str(self), errors=errors)


def _problems(exc: ValidationError, prefix: str) -> list[tuple[str, str]]:
    return [
        (path(prefix, tuple(p for p in error["loc"] if p != "")), plain(error))
        for error in exc.errors()
    ]


def _gateway_problems(modes: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    for gateway, code in modes.items():
        where = f"settings.payment_modes.{gateway}"
        if not gateway.strip() or len(gateway) > 100:
            problems.append((where, "a gateway name of 1 to 100 characters is required"))
        if not isinstance(code, str) or not 1 <= len(code) <= 50 or not code.isprintable():
            problems.append((where, "a Fortnox mode of payment code of 1 to 50 characters"))
    return problems


def _location_problems(locations: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    for location, code in locations.items():
        where = f"settings.inventory_locations.{location}"
        if not location.isdigit() or len(location) > 19 or int(location) >= 2**63:
            problems.append((where, "a Shopify location id (its number) is required"))
        if not isinstance(code, str) or not 1 <= len(code) <= 50 or not code.isprintable():
            problems.append((where, "a Fortnox stock point code of 1 to 50 characters"))
    return problems


def parse_patch(raw: Any) -> tuple[SettingsPatch, dict[str, Any]]:
    """The patch and exactly the fields it gives (explicit nulls included), or every problem."""
    if not isinstance(raw, dict):
        raise SettingsProblems([("settings", "an object of the settings to change is required")])
    try:
        patch = SettingsPatch.model_validate(raw)
    except ValidationError as exc:
        raise SettingsProblems(_problems(exc, "settings")) from exc
    given = patch.model_dump(mode="json", exclude_unset=True)
    problems = [
        (f"settings.{name}", "null is not allowed here; leave the field out to keep it")
        for name, value in given.items()
        if value is None and name not in NULLABLE
    ]
    for group in ("accounts", "payouts"):
        for name, value in (given.get(group) or {}).items():
            if value is None and f"{group}.{name}" not in NULLABLE:
                problems.append((f"settings.{group}.{name}", "null is not allowed here"))
    problems += _gateway_problems(given.get("payment_modes") or {})
    problems += _location_problems(given.get("inventory_locations") or {})
    if len((given.get("accounts") or {}).get("sweden") or {}) > MAX_VAT_RATES:
        problems.append(("settings.accounts.sweden", f"at most {MAX_VAT_RATES} VAT rates"))
    if problems:
        raise SettingsProblems(problems)
    return patch, given


def merged(overrides: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The shop's stored overrides with a change applied (``accounts`` merged field by field)."""
    nested = ("accounts", "payouts")
    out = {**overrides, **{name: value for name, value in given.items() if name not in nested}}
    for group in nested:
        if group in given:
            out[group] = {**(overrides.get(group) or {}), **given[group]}
    return out


def effective(defaults: dict[str, Any], overrides: dict[str, Any]) -> ShopSettings:
    """The settings the mapper would use; every problem of the combination, by field."""
    try:
        settings = ShopSettings.model_validate({**defaults, **overrides})
    except ValidationError as exc:
        raise SettingsProblems(_problems(exc, "settings")) from exc
    if settings.article_number_source == "metafield" and not settings.article_metafield:
        raise SettingsProblems(
            [("settings.article_metafield", "required when article_number_source is metafield")]
        )
    if settings.inventory_source == "fortnox" and len(settings.inventory_locations) > 1:
        raise SettingsProblems(
            [
                (
                    "settings.inventory_locations",
                    "with Fortnox as the source, Fortnox's stock goes to one Shopify location: "
                    "map at most one",
                )
            ]
        )
    return settings


def view(settings: ShopSettings) -> dict[str, Any]:
    dumped = settings.model_dump(mode="json")
    return {name: dumped[name] for name in EDITABLE}


def _answer(stored: StoredSettings, settings: ShopSettings, defaults: ShopSettings) -> Any:
    return {
        "settings": view(settings),
        "version": stored.version,
        "updated_at": stored.updated_at.isoformat() if stored.updated_at else None,
        "updated_by": stored.actor,
        "defaults": view(defaults),
    }


def _leaves(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in _NOISE:
                _leaves(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _leaves(item, f"{path}[{index}]", out)
    else:
        out[path] = value


def differences(before: Any, after: Any) -> list[dict[str, Any]]:
    """Every value that differs between two previews, by path (``documents[0].document...``)."""
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    _leaves(before, "", old)
    _leaves(after, "", new)
    paths = sorted(set(old) | set(new), key=lambda p: (p not in old, p))
    changed = [
        {"path": path, "saved": old.get(path), "draft": new.get(path)}
        for path in paths
        if old.get(path) != new.get(path)
    ]
    return changed[:MAX_CHANGES]


def payment_modes_for(order: dict[str, Any], settings: ShopSettings) -> dict[str, str]:
    gateways = order.get("payment_gateway_names") or []
    names = [g for g in gateways if isinstance(g, str)]
    if not names:
        return {"(none)": settings.payment_mode(None)}
    return {name: settings.payment_mode(name) for name in names}


class _Problem(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


def _handled(handler: Any) -> Any:
    async def wrapped(request: web.Request) -> web.Response:
        try:
            response: web.Response = await handler(request)
        except _Problem as problem:
            return problem.response
        except SettingsProblems as problems:
            return problems.response()
        return response

    wrapped.__name__ = handler.__name__
    return wrapped


async def _caller(request: web.Request, scopes: tuple[str, ...]) -> tuple[Principal, str]:
    runtime = runtime_of(request)
    return await authorize_for_shop(request, runtime.settings, runtime.pool, *scopes)


def _defaults(request: web.Request) -> dict[str, Any]:
    return {"guest_customer_name": runtime_of(request).settings.default_guest_customer_name}


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _Problem(json_error(400, "the body is not valid JSON")) from exc
    if not isinstance(body, dict):
        raise _Problem(json_error(422, "body: a JSON object is required"))
    return body


def _saved(defaults: dict[str, Any], stored: StoredSettings) -> ShopSettings:
    try:
        return effective(defaults, stored.overrides)
    except SettingsProblems as exc:  # stored before validation existed: say so, change nothing
        raise _Problem(
            json_error(409, f"the shop's stored settings are invalid ({exc}); change them with PUT")
        ) from exc


@_handled
async def get_settings(request: web.Request) -> web.Response:
    _, shop = await _caller(request, READ)
    defaults = _defaults(request)
    async with runtime_of(request).pool.acquire() as conn:
        stored = await stored_shop_settings(conn, shop)
    settings = _saved(defaults, stored)
    answer = _answer(stored, settings, ShopSettings.model_validate(defaults))
    return web.json_response(await _with_access(request, shop, answer))


@_handled
async def put_settings(request: web.Request) -> web.Response:
    principal, shop = await _caller(request, WRITE)
    body = await _body(request)
    version = body.get("version")
    problems: list[tuple[str, str]] = []
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        problems.append(("version", "the version you read is required (0 if never saved)"))
    if "settings" not in body:
        problems.append(("settings", "required: the settings to change, as an object"))
    else:
        try:
            _, given = parse_patch(body["settings"])
        except SettingsProblems as exc:
            problems += exc.problems
    if problems:
        raise SettingsProblems(problems)
    defaults = _defaults(request)

    def change(overrides: dict[str, Any]) -> dict[str, Any]:
        new = merged(overrides, given)
        effective(defaults, new)  # raises with every problem: nothing is written
        return new

    changed = ", ".join(sorted(given)) or "nothing"
    try:
        async with runtime_of(request).pool.acquire() as conn:
            stored = await change_shop_settings(
                conn,
                shop,
                change,
                description=f"update {changed}"[:500],
                actor=principal.name,
                expected_version=version,
            )
    except SettingsVersionConflict as conflict:
        current = conflict.current
        answer = _answer(current, _saved(defaults, current), ShopSettings.model_validate(defaults))
        return json_error(
            409,
            f"the settings were changed (now version {current.version}) after you read version"
            f" {version}; nothing was saved. Review the current settings and save again.",
            **answer,
        )
    settings = effective(defaults, stored.overrides)
    answer = _answer(stored, settings, ShopSettings.model_validate(defaults))
    return web.json_response(await _with_access(request, shop, answer))


async def _with_access(request: web.Request, shop: str, answer: dict[str, Any]) -> Any:
    """The answer with ``shopify_access``: each feature the settings turn on (inventory,
    payouts) whose Shopify scopes the shop did not grant, with what to do and the
    re-authorisation link (libs/common/shopify_scopes.py)."""
    runtime = runtime_of(request)
    granted = await granted_scopes(runtime.pool, shop)
    on = await features_on(runtime.pool, shop)
    found = [access(runtime.settings, shop, feature, granted) for feature in on]
    return {**answer, "shopify_access": [a for a in found if not a["granted"]]}


@_handled
async def preview_settings(request: web.Request) -> web.Response:
    _, shop = await _caller(request, READ)
    body = await _body(request)
    order, order_id = body.get("order"), body.get("order_id")
    if (order is None) == (order_id is None):
        return json_error(422, "order or order_id: exactly one is required")
    _, given = parse_patch(body.get("settings", {}))
    defaults = _defaults(request)
    async with runtime_of(request).pool.acquire() as conn:
        if order_id is not None:
            if isinstance(order_id, bool) or not isinstance(order_id, int | str):
                return json_error(422, "order_id: Shopify's order id is required")
            order = await load_order_payload(conn, shop, str(order_id))
            if order is None:
                return json_error(404, "the mapper has not received that order for this shop")
        if not isinstance(order, dict):
            return json_error(422, "order: a Shopify order object is required")
        stored = await stored_shop_settings(conn, shop)
        rules = await current_rule_set(conn, shop)
        saved = _saved(defaults, stored)
        draft = effective(defaults, merged(stored.overrides, given))
        vat_before = await known_check(conn, shop, order, saved)
        vat_after = await known_check(conn, shop, order, draft)
    try:
        before = {**preview(shop, order, saved, rules, vat_before), "payment_modes": {}}
        after = {**preview(shop, order, draft, rules, vat_after), "payment_modes": {}}
        before["payment_modes"] = payment_modes_for(order, saved)
        after["payment_modes"] = payment_modes_for(order, draft)
    except PermanentError as exc:
        return json_error(409, exc.message)
    return web.json_response(
        {
            "saved": before,
            "draft": after,
            "changes": differences(before, after),
            "version": stored.version,
        },
        dumps=lambda value: json.dumps(value, default=_json_default),
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{BASE}.json", get_settings)
    app.router.add_put(f"{BASE}.json", put_settings)
    app.router.add_post(f"{BASE}/preview.json", preview_settings)
