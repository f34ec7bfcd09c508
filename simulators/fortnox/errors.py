"""Fortnox-style error envelopes, error codes and Swedish messages.

Fortnox answers API errors as ``{"ErrorInformation": {...}}``. Real responses use BOTH key
capitalisations: 404s come back as ``{"Error": 1, "Message": ..., "Code": ...}`` while 400s (and
403/500s) use ``{"error": 1, "message": ..., "code": ...}``. The simulator reproduces this so
clients are forced to accept either case. Authentication failures on the API answer
``401 {"message": "unauthorized"}``; OAuth endpoints answer ``{"error", "error_description"}``.

Codes marked *confirmed* appear in Fortnox's public error list or in recorded real responses.
Codes in the ``SIM_*`` block are simulator-chosen because no public source shows the real code;
they live in the 2999xxx range so that nobody mistakes them for real Fortnox codes, one code per
error (tests/simulators/test_fortnox_error_codes.py), and the product never branches on them: it
recognises such a refusal by its message, or treats it as any refusal (docs/simulators.md).
"""

from __future__ import annotations

from typing import Any

# --- confirmed codes ---------------------------------------------------------------------------
SYSTEM_ERROR = 1000003  # "Systemfel" / system exception
NOT_ALPHANUMERIC = 2000106
NOT_NUMERIC = 2000108
NOT_BOOLEAN = 2000134
INVALID_CHARACTERS = 2000359
ARTICLE_NOT_FOUND = 2000428
CUSTOMER_NOT_FOUND = 2000433
ACCOUNT_NOT_FOUND = 2000423
INVOICE_NOT_FOUND = 2000434
ORDER_NOT_FOUND = 2000439
INVALID_FILTER = 2000587
INVALID_PARAMETER = 2000588
CUSTOMER_NUMBER_USED = 2000637
NO_SCOPE_ACCESS = 2000663
NO_LICENCE = 2001101
BAD_BODY = 2001392
INVALID_FIELD_NAME = 2001399
JSON_SYNTAX = 2002115
BAD_DATA_STRUCTURE = 2002649  # "Felaktig datastruktur." (recorded for a row that is not an object)

# Unconfirmed: the brief's fallback for "Kunde inte hitta moms". No public source found shows
# the real code for an unknown VAT rate on a row; clients should branch on the message/400.
VAT_NOT_FOUND = 2000728

# --- simulator-chosen codes (real code unknown) --------------------------------------------------
SIM_ARTICLE_NUMBER_USED = 2999001
SIM_DOCUMENT_LOCKED = 2999002  # update of a booked/cancelled document
SIM_INVALID_STATE = 2999003  # action not allowed in the document's current state
SIM_ALREADY_CREDITED = 2999004
SIM_TOO_MANY_ROWS = 2999005
SIM_CURRENCY_NOT_FOUND = 2999006
SIM_REQUIRED_FIELD = 2999007
SIM_WAREHOUSE_INACTIVE = 2999008  # a warehouse endpoint of a company without the module
SIM_WAREHOUSE_STOCK = 2999009  # QuantityInStock written while the warehouse module is active
SIM_NOT_FOUND = 2999010  # unknown path
SIM_METHOD_NOT_ALLOWED = 2999011
SIM_DOCUMENT_NUMBER_USED = 2999012
SIM_PAYMENT_SIGN = 2999013  # a payment in the opposite direction to the invoice's balance
SIM_INVOICE_HAS_PAYMENTS = 2999014  # cancelling an invoice that has payments
SIM_VOUCHER_UNBALANCED = 2999015  # a voucher whose debits and credits differ
SIM_MODE_OF_PAYMENT_NOT_FOUND = 2999016  # a payment's ModeOfPayment the company lacks
SIM_INVALID_VALUE = 2999017  # a date or enum field with a value Fortnox does not take
SIM_PAYMENT_NOT_FOUND = 2999018  # an invoice payment number the company lacks
SIM_CODE_USED = 2999019  # a register entry (mode of payment) whose Code is taken
SIM_TERMS_OF_PAYMENT_NOT_FOUND = 2999020  # a TermsOfPayment code the company lacks

MESSAGES: dict[int, str] = {
    SYSTEM_ERROR: "Systemfel. Försök igen senare.",
    NOT_ALPHANUMERIC: "Värdet måste vara alfanumeriskt",
    NOT_NUMERIC: "Värdet måste vara numeriskt",
    NOT_BOOLEAN: "Värdet måste vara en boolean",
    INVALID_CHARACTERS: "Ogiltiga tecken: värdet innehåller ej tillåtna tecken",
    ARTICLE_NOT_FOUND: "Kan inte hitta artikeln.",
    CUSTOMER_NOT_FOUND: "Kan inte hitta kunden.",
    ACCOUNT_NOT_FOUND: "Kan inte hitta kontot.",
    INVOICE_NOT_FOUND: "Kan inte hitta fakturan.",
    ORDER_NOT_FOUND: "Kan inte hitta ordern.",
    INVALID_FILTER: "Ett ogiltigt filter har använts.",
    INVALID_PARAMETER: "Ogiltig parameter i anropet.",
    CUSTOMER_NUMBER_USED: "Kundnumret är redan upptaget.",
    NO_SCOPE_ACCESS: "Har inte behörighet för scope.",
    NO_LICENCE: "Det finns ingen aktiv licens för önskat scope.",
    BAD_BODY: "Ogiltig eller tom request body.",
    INVALID_FIELD_NAME: "Ogiltigt fältnamn",
    JSON_SYNTAX: "Ogiltig JSON-syntax.",
    BAD_DATA_STRUCTURE: "Felaktig datastruktur.",
    VAT_NOT_FOUND: "Kunde inte hitta moms",
    SIM_ARTICLE_NUMBER_USED: "Artikelnumret är redan upptaget.",
    SIM_DOCUMENT_LOCKED: "Dokumentet är bokfört eller makulerat och kan inte ändras.",
    SIM_INVALID_STATE: "Åtgärden kan inte utföras i dokumentets nuvarande status.",
    SIM_ALREADY_CREDITED: "Fakturan är redan krediterad.",
    SIM_TOO_MANY_ROWS: "Dokumentet får innehålla högst 500 rader.",
    SIM_CURRENCY_NOT_FOUND: "Kan inte hitta valutan.",
    SIM_REQUIRED_FIELD: "Obligatoriskt fält saknas",
    SIM_WAREHOUSE_INACTIVE: "Lagermodulen är inte aktiverad",
    SIM_WAREHOUSE_STOCK: "Lagersaldot ändras med lagertransaktioner när lagermodulen används",
    SIM_INVALID_VALUE: "Ogiltigt värde",
    SIM_PAYMENT_NOT_FOUND: "Kan inte hitta inbetalningen.",
    SIM_NOT_FOUND: "Resursen finns inte.",
    SIM_METHOD_NOT_ALLOWED: "Metoden är inte tillåten.",
    SIM_DOCUMENT_NUMBER_USED: "Dokumentnumret är redan upptaget.",
    SIM_PAYMENT_SIGN: "Inbetalningens belopp har fel tecken i förhållande till fakturans saldo.",
    SIM_INVOICE_HAS_PAYMENTS: "Fakturan har inbetalningar och kan inte makuleras.",
    SIM_VOUCHER_UNBALANCED: "Verifikationen är inte i balans.",
    SIM_MODE_OF_PAYMENT_NOT_FOUND: "Kan inte hitta betalningssättet.",
    SIM_CODE_USED: "Koden är redan upptagen.",
    SIM_TERMS_OF_PAYMENT_NOT_FOUND: "Kan inte hitta betalningsvillkoret.",
}

UNAUTHORIZED_BODY: dict[str, Any] = {"message": "unauthorized"}
RATE_LIMITED_BODY: dict[str, Any] = {"message": "Too Many Requests"}


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    """The ErrorInformation envelope: capitalised keys for 404, lowercase otherwise."""
    if status == 404:
        return {"ErrorInformation": {"Error": 1, "Message": message, "Code": code}}
    return {"ErrorInformation": {"error": 1, "message": message, "code": code}}


class ApiError(Exception):
    """An error answered in the Fortnox ErrorInformation envelope."""

    def __init__(self, status: int, code: int, detail: str | None = None) -> None:
        message = MESSAGES.get(code, "Fel")
        if detail:
            message = f"{message} ({detail})"
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.code, self.message)


def bad_request(code: int, detail: str | None = None) -> ApiError:
    return ApiError(400, code, detail)


def not_found(code: int, detail: str | None = None) -> ApiError:
    return ApiError(404, code, detail)


class OAuthError(Exception):
    """An error on the /oauth-v1 endpoints: ``{"error", "error_description"}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.description}
