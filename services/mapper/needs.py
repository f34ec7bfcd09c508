"""What a shop needs its Fortnox company to have, from the mapper's own tables (read-only).

The pre-flight check (services/fortnox_writer/preflight/) compares this with what the shop's
Fortnox has. The mapper knows the settings, the rules and the recent orders; the writer owns the
Fortnox connection. Like ``in_flight.py`` for ``fortbridge quiet`` (docs/architecture.md), the
writer calls this module over the database every service shares instead of an HTTP call between
services (which the NetworkPolicies do not allow) or a request/reply over the broker: one read
of the mapper's tables, owned and kept here beside the code that writes them.

Each need names where it comes from ("orders to DE", "settings: accounts.eu_vat", "rule
'Wholesale'"), so a finding can say why the shop needs it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from services.mapper.accounting.articles import MAX_LENGTH, article_number
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.vat import vat_rate
from services.mapper.rules.model import RuleSet
from services.mapper.rules.store import current_rule_set
from services.mapper.store import load_shop_settings

RECENT_ORDERS = 250  # the latest orders whose VAT rates, gateways, currencies and SKUs count
RECENT_DAYS = 90
MAX_SKUS = 20  # SKUs listed per finding
MAX_SOURCES = 3


@dataclass(frozen=True)
class SkuChange:
    sku: str
    article_number: str
    too_long: bool


@dataclass
class ShopNeeds:
    """Each needed value -> where it comes from (at most a few examples)."""

    home_currency: str = "SEK"
    vat_rates: dict[Decimal, list[str]] = field(default_factory=lambda: defaultdict(list))
    accounts: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    payment_modes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    terms_of_payment: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    currencies: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    features: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    sku_changes: list[SkuChange] = field(default_factory=list)
    orders_read: int = 0

    def add(self, kind: str, value: Any, source: str) -> None:
        sources = getattr(self, kind)[value]
        if source not in sources and len(sources) < MAX_SOURCES:
            sources.append(source)


async def shop_needs(pool: Any, shop: str, defaults: dict[str, Any] | None = None) -> ShopNeeds:
    """The shop's needs now: its settings, its current rules and its recent orders."""
    async with pool.acquire() as conn:
        settings = await load_shop_settings(conn, shop, defaults or {})
        rules = await current_rule_set(conn, shop)
        rows = await conn.fetch(
            "SELECT payload::text AS payload FROM mapper.order_payloads"
            " WHERE shop = $1 AND stored_at > now() - make_interval(days => $2)"
            " ORDER BY stored_at DESC LIMIT $3",
            shop,
            RECENT_DAYS,
            RECENT_ORDERS,
        )
    orders = [json.loads(row["payload"]) for row in rows]
    return needs_of(settings, rules, orders)


def needs_of(settings: ShopSettings, rules: RuleSet, orders: list[dict[str, Any]]) -> ShopNeeds:
    """Pure: the needs of these settings, rules and orders."""
    needs = ShopNeeds(home_currency=settings.home_currency.upper())
    _accounts(needs, settings.accounts, "settings")
    for rate in settings.accounts.sweden:
        # An account for 0 % is there for untaxed lines; only orders that have them need 0 %.
        if Decimal(rate) != 0:
            needs.add("vat_rates", Decimal(rate).normalize(), f"settings: accounts.sweden.{rate}")
    needs.add("payment_modes", settings.default_payment_mode, "settings: default_payment_mode")
    needs.add("currencies", needs.home_currency, "the shop's currency")
    if settings.payouts.enabled:
        _payout_accounts(needs, settings)
    terms = settings.document_fields.get("TermsOfPayment")
    if terms and "{" not in terms:
        needs.add("terms_of_payment", terms, "settings")
    if settings.document_kind == "order":
        needs.add("features", "orders", "settings: document_kind order")
    for rule in rules.rules:
        if rule.enabled:
            _rule(needs, rule.name, rule.actions)
    seen_skus: set[str] = set()
    for order in orders:
        _order(needs, settings, order, seen_skus)
    needs.orders_read = len(orders)
    return needs


def _accounts(needs: ShopNeeds, accounts: Any, where: str) -> None:
    values = accounts.model_dump(exclude_none=True)
    for name, value in values.items():
        if name == "sweden":
            for rate, number in value.items():
                needs.add("accounts", int(number), f"{where}: accounts.sweden.{rate}")
        elif isinstance(value, int):
            needs.add("accounts", value, f"{where}: accounts.{name}")


# The payout voucher's rows (services/mapper/accounting/payouts.py), by setting.
PAYOUT_ACCOUNTS = (
    "clearing_account",
    "fee_account",
    "bank_account",
    "adjustment_account",
    "reserve_account",
)


def _payout_accounts(needs: ShopNeeds, settings: ShopSettings) -> None:
    """Payouts on: each payout voucher books to these, and Fortnox refuses an account the
    company lacks (2000423), so the pre-flight check names them before the first payout."""
    for name in PAYOUT_ACCOUNTS:
        needs.add("accounts", int(getattr(settings.payouts, name)), f"settings: payouts.{name}")


def _rule(needs: ShopNeeds, name: str, actions: Any) -> None:
    where = f"rule {name!r}"
    if actions.accounts is not None:
        _accounts(needs, actions.accounts, where)
    terms = actions.terms_of_payment or actions.fields.get("TermsOfPayment")
    if terms and "{" not in terms:
        needs.add("terms_of_payment", terms, where)
    if actions.document_kind == "order":
        needs.add("features", "orders", f"{where}: document_kind order")


def _order(
    needs: ShopNeeds, settings: ShopSettings, order: dict[str, Any], seen_skus: set[str]
) -> None:
    name = str(order.get("name") or order.get("id") or "an order")
    address = order.get("shipping_address") or order.get("billing_address") or {}
    country = str(address.get("country_code") or settings.home_country).upper()
    where = f"order {name}" + (f" to {country}" if country != settings.home_country else "")
    for item in order.get("line_items") or []:
        if not isinstance(item, dict):
            continue
        rate = vat_rate(item.get("tax_lines"), bool(item.get("taxable", True)))
        needs.add("vat_rates", rate, where)
        _sku(needs, item, seen_skus)
    for line in order.get("shipping_lines") or []:
        if isinstance(line, dict) and line.get("tax_lines"):
            needs.add("vat_rates", vat_rate(line.get("tax_lines")), f"{where} (shipping)")
    if order.get("taxes_included") is False:
        # Prices excluding VAT: the invoice may need an öre-rounding row, booked at 0 %.
        needs.add("vat_rates", Decimal(0), f"{where} (öre rounding, prices excluding VAT)")
    if settings.document_currency == "presentment":
        currency = order.get("presentment_currency") or order.get("currency")
    else:
        currency = order.get("currency")
    if currency:
        needs.add("currencies", str(currency).upper(), f"order {name}")
    gateways = [g for g in order.get("payment_gateway_names") or [] if isinstance(g, str)]
    for gateway in gateways:
        needs.add("payment_modes", settings.payment_mode(gateway), f"{gateway} payments")
    if gateways:
        needs.add("features", "payments", f"order {name} was paid")


def _sku(needs: ShopNeeds, item: dict[str, Any], seen: set[str]) -> None:
    sku = item.get("sku")
    if not isinstance(sku, str) or not sku or sku in seen:
        return
    seen.add(sku)
    number = article_number(sku)
    if (number != sku or len(number) > MAX_LENGTH) and len(needs.sku_changes) < MAX_SKUS:
        needs.sku_changes.append(SkuChange(sku, number, len(number) > MAX_LENGTH))


__all__ = ["ShopNeeds", "SkuChange", "needs_of", "shop_needs"]
