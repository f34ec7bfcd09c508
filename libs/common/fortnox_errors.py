"""Fortnox's error codes, explained in English with a suggested fix (writer and replayer).

Fortnox answers in Swedish with numeric codes; operators and merchants get this text instead
(Fortnox's own message is kept next to it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Explanation:
    text: str
    fix: str
    needs_reconnection: bool = False


VAT_MISSING = "2000728"  # "Kunde inte hitta moms": a VAT rate the company lacks

CODES: dict[str, Explanation] = {
    "2000428": Explanation(
        "The article (product) does not exist in Fortnox.",
        "Create the article in Fortnox or let Fortbridge create it, then replay.",
    ),
    "2000433": Explanation(
        "The customer does not exist in Fortnox.",
        "Check the customer in Fortnox; Fortbridge re-creates missing customers on replay.",
    ),
    "2000434": Explanation("The invoice does not exist in Fortnox.", "Check the document number."),
    "2000439": Explanation("The order does not exist in Fortnox.", "Check the document number."),
    "2000423": Explanation(
        "An account Fortbridge books to (on a document's rows or a payout's voucher) does not "
        "exist in Fortnox's chart of accounts.",
        "Add the account in Fortnox or change the account mapping, then replay.",
    ),
    "2001304": Explanation(
        "An account used on the document does not exist in Fortnox.",
        "Add the account in Fortnox or change the account mapping, then replay.",
    ),
    "2000637": Explanation(
        "The customer number is already used by another customer in Fortnox.",
        "Fortbridge matches customers by e-mail; check for a duplicate customer in Fortnox.",
    ),
    "2000310": Explanation(
        "Fortnox did not accept the access token.",
        "Reconnect Fortnox for this shop.",
        needs_reconnection=True,
    ),
    "2000311": Explanation(
        "Fortnox did not receive a valid access token.",
        "Reconnect Fortnox for this shop.",
        needs_reconnection=True,
    ),
    "2001101": Explanation(
        "The Fortnox account has no licence for this part of Fortnox (for example invoicing).",
        "Activate the licence in Fortnox, then reconnect Fortbridge.",
        needs_reconnection=True,
    ),
    "2001103": Explanation(
        "The Fortnox account has no API licence.",
        "Activate the integration licence in Fortnox, then reconnect Fortbridge.",
        needs_reconnection=True,
    ),
    "2000663": Explanation(
        "Fortbridge is not authorised for this part of Fortnox (a scope is missing).",
        "Reconnect Fortnox so the new permission can be granted.",
        needs_reconnection=True,
    ),
    "2000106": Explanation(
        "A field that must be alphanumeric has other characters.",
        "Check SKUs and references for characters Fortnox rejects.",
    ),
    "2000108": Explanation("A field that must be numeric is not.", "Check the mapped values."),
    "2000134": Explanation("A field that must be true or false is not.", "Check field mapping."),
    "2000359": Explanation(
        "A value contains characters Fortnox does not allow (often a SKU).",
        "Change the SKU in Shopify or map article numbers another way, then replay.",
    ),
    "2000588": Explanation("Fortnox rejected a parameter as invalid.", "Contact support."),
    "2001392": Explanation("Fortnox received an empty or malformed document.", "Contact support."),
    "2002115": Explanation("Fortnox could not parse the JSON sent.", "Contact support."),
    "2001399": Explanation("A field name is not one Fortnox knows.", "Check custom field mapping."),
    "2000728": Explanation(
        "A VAT rate on the document is not set up in Fortnox (common with EU OSS rates).",
        "Add the VAT rate in Fortnox's settings, then replay the failed orders.",
    ),
    "1000003": Explanation(
        "Fortnox had an internal error.", "Usually temporary: Fortbridge retries by itself."
    ),
}

_VAT_MESSAGE = ("moms",)
# A payment whose ModeOfPayment the company lacks: Fortnox's code for it is not documented, so
# it is recognised by its message ("betalningssätt", the mode of payment; docs/simulators.md).
_MODE_OF_PAYMENT_MESSAGE = ("betalningssätt",)
MODE_OF_PAYMENT_MISSING = Explanation(
    "The mode of payment on the payment does not exist in Fortnox, so Fortnox refused to "
    "register the payment (the invoice itself is made).",
    "Create the mode of payment in Fortnox (Settings, Payments, or the pre-flight check's fix "
    "on the Get started page), or map the payment method to another mode of payment in "
    "Fortbridge's Settings, then replay.",
)


# Terms of payment the company lacks: no documented code either; "betalningsvillkor" (the terms
# of payment) in the message tells (docs/simulators.md).
_TERMS_OF_PAYMENT_MESSAGE = ("betalningsvillkor",)
TERMS_OF_PAYMENT_MISSING = Explanation(
    "The terms of payment on the document or customer do not exist in Fortnox, so Fortnox "
    "refused it.",
    "Add the terms of payment in Fortnox (Settings, Invoicing, Terms of payment), or change the "
    "setting or rule that uses them in Fortbridge, then replay.",
)

# A stock write refused because the company keeps stock in the warehouse module (Lager): Fortnox
# documents no code for it, so it is recognised by its message's "lager" (docs/simulators.md).
_WAREHOUSE_MESSAGE = ("lager",)


def _says(message: str | None, words: tuple[str, ...]) -> bool:
    lowered = (message or "").lower()
    return any(word in lowered for word in words)


def is_vat_missing(code: str | None, message: str | None) -> bool:
    """Fortnox refused a row's VAT rate: by the (unconfirmed) code, else by the documented
    message "Kunde inte hämta/hitta moms" (a documented code of another error never is)."""
    if code == VAT_MISSING:
        return True
    return (code is None or code not in CODES) and _says(message, _VAT_MESSAGE)


def is_warehouse_refusal(code: str | None, message: str | None) -> bool:
    """Fortnox refused a QuantityInStock write because the warehouse module keeps the stock
    (recognised by the message: no documented code; a documented code never is)."""
    return (code is None or code not in CODES) and _says(message, _WAREHOUSE_MESSAGE)


def explain(code: str | None, message: str | None) -> Explanation:
    """The English explanation of a Fortnox error (falls back on the message's meaning)."""
    if code and code in CODES:
        return CODES[code]
    lowered = (message or "").lower()
    if any(word in lowered for word in _VAT_MESSAGE):
        return CODES["2000728"]
    if any(word in lowered for word in _MODE_OF_PAYMENT_MESSAGE):
        return MODE_OF_PAYMENT_MISSING
    if any(word in lowered for word in _TERMS_OF_PAYMENT_MESSAGE):
        return TERMS_OF_PAYMENT_MISSING
    return Explanation(
        f"Fortnox refused the request (code {code or 'none'}).",
        "Read Fortnox's message, fix the data or settings, then replay.",
    )
