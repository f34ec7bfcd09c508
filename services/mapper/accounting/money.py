"""Money from Shopify payloads: decimal strings in the document's currency, never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from libs.common.errors import PermanentError

CENT = Decimal("0.01")
ZERO = Decimal("0")
HUNDRED = Decimal("100")
RATE_PLACES = Decimal("0.000001")


class UnmappableOrder(PermanentError):
    """The order cannot become a document; the message says why, in plain English."""


def cents(value: Decimal) -> Decimal:
    """Round to öre (2 decimals), half-up: away from zero on ties, symmetric for credits."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Any, field: str) -> Decimal:
    """A Shopify money string as Decimal; refuse floats and garbage with the field's name."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise UnmappableOrder(f"{field} must be a decimal string, got {value!r}", code="bad_money")
    try:
        amount = Decimal(str(value))
    except ArithmeticError as exc:
        raise UnmappableOrder(f"{field} is not a number: {value!r}", code="bad_money") from exc
    if not amount.is_finite():
        raise UnmappableOrder(f"{field} is not a finite number: {value!r}", code="bad_money")
    return amount


def quantity(value: Any, field: str) -> Decimal:
    if isinstance(value, bool | float) or value is None:
        raise UnmappableOrder(f"{field} must be an integer, got {value!r}", code="bad_quantity")
    return Decimal(str(value))


@dataclass(frozen=True)
class Pricing:
    """Which currency the document is in and how to read an amount in it.

    ``use_presentment`` reads ``*_set.presentment_money``; otherwise ``shop_money`` (or the
    plain field, which Shopify gives in the shop's currency).
    """

    currency: str
    shop_currency: str
    use_presentment: bool
    currency_rate: Decimal | None

    def amount(
        self, obj: dict[str, Any], name: str, where: str, default: str | None = None
    ) -> Decimal:
        """``obj[name]`` in the document currency (``name_set`` when there is one)."""
        if obj.get(name) is not None:
            money(obj[name], f"{where}.{name}")  # a float or garbage is refused wherever it is
        money_set = obj.get(f"{name}_set")
        side = "presentment_money" if self.use_presentment else "shop_money"
        if isinstance(money_set, dict) and isinstance(money_set.get(side), dict):
            return money(money_set[side].get("amount"), f"{where}.{name}_set.{side}.amount")
        if self.use_presentment and self.currency != self.shop_currency:
            plain = obj.get(name, default)
            if plain is not None and money(plain, f"{where}.{name}") == 0:
                return ZERO  # zero in any currency
            raise UnmappableOrder(
                f"{where}.{name}_set has no {self.currency} amount, and the document is in "
                f"{self.currency} (the shop's currency is {self.shop_currency})",
                code="missing_presentment_money",
            )
        value = obj.get(name)
        if value is None and default is not None:
            value = default
        return money(value, f"{where}.{name}")

    def set_amount(self, money_set: Any, where: str) -> Decimal:
        """An amount from a bare ``{shop_money, presentment_money}`` object."""
        side = "presentment_money" if self.use_presentment else "shop_money"
        if not isinstance(money_set, dict) or not isinstance(money_set.get(side), dict):
            raise UnmappableOrder(f"{where} has no {side}", code="missing_money")
        return money(money_set[side].get("amount"), f"{where}.{side}.amount")


def pricing_for(
    order: dict[str, Any], document_currency: str, currency_rate: str, home: str
) -> Pricing:
    """The document's currency and CurrencyRate, per the shop's settings.

    The rate (home currency per document unit) is the order total in shop money divided by the
    same total in presentment money, to 6 decimals; it is only derivable when the shop's own
    currency is the Fortnox company's home currency. Otherwise Fortnox's automatic rate applies.
    """
    shop_currency = order.get("currency")
    if not shop_currency:
        raise UnmappableOrder("the order has no currency", code="missing_currency")
    presentment = order.get("presentment_currency") or shop_currency
    use_presentment = document_currency == "presentment" and presentment != shop_currency
    currency = presentment if use_presentment else shop_currency
    rate: Decimal | None = None
    if currency != home and currency_rate == "explicit" and shop_currency == home:
        totals = order.get("total_price_set") or {}
        try:
            shop_total = money(totals["shop_money"]["amount"], "total_price_set.shop_money")
            pres_total = money(
                totals["presentment_money"]["amount"], "total_price_set.presentment_money"
            )
        except (KeyError, TypeError) as exc:
            raise UnmappableOrder(
                "total_price_set is needed to derive the currency rate", code="missing_rate"
            ) from exc
        if pres_total:
            rate = (shop_total / pres_total).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)
    return Pricing(currency, str(shop_currency), use_presentment, rate)
