"""Why a job failed, in plain English, and the cause it is grouped under (pure).

A cause is a bounded key (error class, service, code; for a missing VAT rate, the rate) with a
title an operator reads as a headline ("VAT rate 19 % missing in Fortnox"), an explanation and
a suggested fix. Jobs with one cause share one fix, followed by one bulk replay.

Also here: which shop and Shopify object a dead message is about, read loosely from its body
(the body may be exactly what was wrong with it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from libs.common.errors import ErrorClass
from libs.common.fortnox_errors import (
    MODE_OF_PAYMENT_MISSING,
    TERMS_OF_PAYMENT_MISSING,
    VAT_MISSING,
    Explanation,
    explain,
)
from libs.common.messaging.publisher import SHOP_HEADER
from services.fortnox_writer.preflight.findings import (
    PREFLIGHT_PATH,
    SWEDISH_RATES,
    vat_finding_id,
)
from services.replayer.dead_letters import DeadLetter

# Fortnox codes whose cause the pre-flight check finds before an order fails: the prefix of its
# finding ids (services/fortnox_writer/preflight/findings.py).
PREFLIGHT_FINDINGS = {"2000423": "account", "2001304": "account"}
ACCOUNT_MISSING = frozenset(code for code, kind in PREFLIGHT_FINDINGS.items() if kind == "account")
# Rates every Swedish Fortnox company has; another rate on a document is the likely missing one.

_MAPPER_CAUSES = {
    "bad_money": "An amount on the order is not a decimal number",
    "missing_id": "The order has no id",
    "missing_currency": "The order has no currency",
    "template_limit": "A mapping rule's template is too costly for the order",
    "template_error": "A mapping rule's template could not be filled from the order",
}
_MAPPER_FIX = (
    "If a mapping rule or shop setting caused this, change it and replay the jobs of this cause. "
    "If the order data itself is wrong, discard the job with the reason and book it by hand."
)
_RECONNECT_FIX = (
    "Ask the merchant to reconnect Fortnox from the app (or fix the licence or permission it "
    "names), then replay the shop's jobs of this cause."
)


@dataclass(frozen=True)
class Cause:
    key: str
    title: str
    explanation: str
    fix: str
    fortnox_code: str | None = None


@dataclass(frozen=True)
class Subject:
    shop: str | None
    object_type: str | None
    object_id: str | None
    object_name: str | None
    document_key: str | None


def is_fortnox_code(code: str | None) -> bool:
    """Fortnox's error codes are seven digits (2000728); ours are words."""
    return code is not None and code.isdigit() and len(code) == 7


def classify(dead: DeadLetter, body: bytes) -> Cause:
    """The cause, explanation and fix of one dead letter."""
    service = dead.service or "unknown"
    code = dead.error_code
    fortnox_code = code if is_fortnox_code(code) else None
    if dead.error_class == ErrorClass.NEEDS_RECONNECTION:
        text = explain(code, dead.source_message).text if fortnox_code else dead.explanation
        return Cause(
            f"needs_reconnection:{code or 'none'}",
            f"Fortnox must be reconnected: {_sentence(text)}",
            text,
            _RECONNECT_FIX,
            fortnox_code,
        )
    if dead.error_class == ErrorClass.PERMANENT:
        if fortnox_code or dead.source_message:
            return _fortnox_refusal(dead, body, fortnox_code)
        if service == "mapper":
            title = _MAPPER_CAUSES.get(code or "", f"The order could not be mapped ({code})")
            return Cause(
                f"mapper:{code or 'unmappable'}",
                title,
                "The order could not be mapped to a Fortnox document: "
                f"{dead.error_message or dead.explanation}",
                _MAPPER_FIX,
            )
        return Cause(
            f"permanent:{service}:{code or 'none'}",
            f"The {service} service refused the message ({code or 'no code'})",
            dead.explanation,
            "Read the explanation: fix the data or setting it names, then replay; discard the "
            "job (with the reason) if the message should never run.",
        )
    if dead.error_class == ErrorClass.TRANSIENT_EXHAUSTED:
        where = "Fortnox" if service == "fortnox_writer" else f"the {service} service"
        detail = dead.source_message or dead.error_message or "a temporary error"
        return Cause(
            f"transient_exhausted:{service}:{code or 'none'}",
            f"Temporary errors from {where} did not clear ({code or 'no code'})",
            f"{where[0].upper()}{where[1:]} kept failing with a temporary error through "
            f"{dead.attempts} attempts ({detail}), so Fortbridge stopped retrying on its own.",
            "Check that Fortnox and the network answer again (status.fortnox.se, the service's "
            "logs under the trace id); once they do, replay the jobs of this cause.",
            fortnox_code,
        )
    if dead.error_class == ErrorClass.DELIVERY_LIMIT:
        return Cause(
            f"delivery_limit:{service}",
            f"A message kept crashing the {service} service (delivery limit reached)",
            dead.explanation,
            "Find the crash in the service's logs or traces (the trace id below): out of memory, "
            "a killed pod or a bug. Fix and deploy it, then replay; discard if the message is "
            "garbage.",
        )
    if dead.error_class == ErrorClass.EXPIRED:
        return Cause(
            f"expired:{service}",
            f"A message to the {service} service expired before it was handled",
            dead.explanation,
            "Replay it if it should still run; otherwise discard it with the reason.",
        )
    return Cause(
        f"unexpected:{service}:{code or 'none'}",
        f"The {service} service crashed with {code or 'an unexpected error'}",
        f"The {service} service failed on this message {dead.attempts} times with an unexpected "
        f"error ({dead.error_message or dead.explanation}). This is a fault in Fortbridge, not "
        "in the merchant's data.",
        "Look the trace id up in the logs and traces, fix the bug and deploy, then replay the "
        "jobs of this cause.",
    )


def _fortnox_refusal(dead: DeadLetter, body: bytes, fortnox_code: str | None) -> Cause:
    explanation = explain(fortnox_code, dead.source_message)
    code = fortnox_code or (VAT_MISSING if explanation == explain(VAT_MISSING, None) else None)
    if code == VAT_MISSING:
        rates = named_vat_rate(dead.source_message) or unusual_vat_rates(body)
        shown = ", ".join(f"{rate} %" for rate in rates)
        title = (
            f"VAT rate{'s' if len(rates) > 1 else ''} {shown} missing in Fortnox"
            if rates
            else "A VAT rate is missing in Fortnox"
        )
        key = f"fortnox:{VAT_MISSING}:vat-{'-'.join(str(rate) for rate in rates) or 'unknown'}"
        fix = (
            f"Add the VAT rate{'s' if len(rates) > 1 else ''} {shown} in Fortnox (Settings, "
            "VAT / OSS), then replay the jobs of this cause."
            if rates
            else explanation.fix
        )
        findings = [vat_finding_id(rate) for rate in rates]
        return Cause(key, title, explanation.text + _names(findings), fix, VAT_MISSING)
    if code in ACCOUNT_MISSING:
        return _missing_account(dead, body, code, explanation)
    findings = [f"{PREFLIGHT_FINDINGS[code]}-*"] if code in PREFLIGHT_FINDINGS else []
    if explanation == MODE_OF_PAYMENT_MISSING:
        findings = ["mode-of-payment-*"]
    if explanation == TERMS_OF_PAYMENT_MISSING:
        return _missing_terms(dead, body, code, explanation)
    return Cause(
        f"fortnox:{code or 'none'}",
        f"Fortnox {code or 'refusal'}: {_sentence(explanation.text)}",
        explanation.text + _names(findings),
        explanation.fix,
        code,
    )


def _missing_account(dead: DeadLetter, body: bytes, code: str, explanation: Explanation) -> Cause:
    """An account Fortnox lacks: the one its message names, else the accounts the refused
    document or voucher books to (Fortnox's documented message names none)."""
    named = named_account(dead.source_message)
    accounts = named or command_accounts(body)
    if not accounts:
        return Cause(
            f"fortnox:{code}",
            f"Fortnox {code}: {_sentence(explanation.text)}",
            explanation.text + _names(["account-*"]),
            explanation.fix,
            code,
        )
    shown = ", ".join(str(number) for number in accounts)
    what = "voucher" if _object(_json(body)).get("voucher") else "document"
    if len(accounts) == 1:
        title = f"Account {shown} missing in Fortnox"
        text = (
            f"Account {shown} is not in the Fortnox company's chart of accounts, so Fortnox "
            f"refused the {what} that books to it."
        )
    else:
        title = f"One of accounts {shown} missing in Fortnox"
        text = (
            f"Fortnox refused the {what} because an account it books to is not in the "
            f"company's chart of accounts; the {what} books to {shown}."
        )
    fix = (
        "Add the account in Fortnox (Settings, Bookkeeping, Chart of accounts) or choose an "
        "account the company has in Fortbridge's Settings, then replay the jobs of this cause."
    )
    findings = [f"account-{number}" for number in accounts]
    key = f"fortnox:{code}:account-{'-'.join(str(number) for number in accounts)}"
    return Cause(key, title, text + _names(findings), fix, code)


def _missing_terms(
    dead: DeadLetter, body: bytes, code: str | None, explanation: Explanation
) -> Cause:
    """Terms of payment Fortnox lacks: the code its message names, else the document's."""
    match = _NAMED_CODE.search(dead.source_message or "")
    message = _object(_json(body))
    given = [_object(_object(message.get(part)).get("fields")) for part in ("document", "customer")]
    named = [str(f["TermsOfPayment"]) for f in given if f.get("TermsOfPayment") not in (None, "")]
    terms = match.group(1) if match else (named[0] if named else None)
    if not isinstance(terms, str) or not terms:
        return Cause(
            f"fortnox:{code or 'none'}:terms-of-payment",
            "Terms of payment missing in Fortnox",
            explanation.text + _names(["terms-of-payment-*"]),
            explanation.fix,
            code,
        )
    return Cause(
        f"fortnox:{code or 'none'}:terms-of-payment-{terms}",
        f"Terms of payment {terms} missing in Fortnox",
        f"Fortnox has no terms of payment {terms}, so it refused what uses them."
        + _names([f"terms-of-payment-{terms}"]),
        explanation.fix,
        code,
    )


_NAMED_CODE = re.compile(r"\(([A-Za-z0-9_-]{1,20})\)\s*$")
_NAMED_ACCOUNT = re.compile(r"\((\d{4})\)")


def named_account(message: str | None) -> list[int]:
    """The account "Kan inte hitta kontot. (6064)" names, when the message names one."""
    match = _NAMED_ACCOUNT.search(message or "")
    return [int(match.group(1))] if match else []


def command_accounts(body: bytes) -> list[int]:
    """The accounts a command's document rows or voucher rows book to."""
    message = _object(_json(body))
    found: set[int] = set()
    for part, field in (("document", "account_number"), ("voucher", "account")):
        for row in _object(message.get(part)).get("rows") or []:
            number = _object(row).get(field)
            if isinstance(number, int) and not isinstance(number, bool) and number > 0:
                found.add(number)
    return sorted(found)


def _names(findings: list[str]) -> str:
    """The pre-flight check's findings this cause is (the Get started page, preflight.json)."""
    if not findings:
        return ""
    plural = "s" if len(findings) > 1 else ""
    return (
        f" The pre-flight check of the shop's Fortnox names this: finding{plural} "
        f"{', '.join(findings)} (Get started page; GET {PREFLIGHT_PATH})."
    )


def unusual_vat_rates(body: bytes) -> list[Decimal]:
    """VAT rates on a command's document rows that are not Sweden's standard rates."""
    document = _object(_object(_json(body)).get("document"))
    found: set[Decimal] = set()
    for row in document.get("rows") or []:
        if not isinstance(row, dict):
            continue
        try:
            rate = Decimal(str(row.get("vat"))).normalize()
        except (InvalidOperation, ValueError):
            continue
        if rate.is_finite() and rate not in SWEDISH_RATES:
            found.add(rate)
    return sorted(Decimal(f"{rate:f}") for rate in found)


_NAMED_RATE = re.compile(r"\((\d{1,2}(?:[.,]\d{1,2})?) ?%\)")


def named_vat_rate(message: str | None) -> list[Decimal]:
    """The rate Fortnox's "Kunde inte hitta moms (19 %)" names, when its message names one (a
    standard rate such as 0 % too: a company may lack it)."""
    match = _NAMED_RATE.search(message or "")
    if match is None:
        return []
    return [Decimal(match.group(1).replace(",", ".")).normalize()]


def subject_of(headers: dict[str, Any], body: bytes) -> Subject:
    """The shop and the Shopify object a message is about (commands, results, events)."""
    message = _object(_json(body))
    shop = headers.get(SHOP_HEADER) or message.get("shop")
    if isinstance(shop, bytes):
        shop = shop.decode(errors="replace")
    source = _object(message.get("source"))
    document_key = message.get("document_key")
    if source:
        kind, ident, name = source.get("type"), source.get("id"), source.get("name")
    else:
        payload = _object(message.get("payload"))
        topic = str(message.get("topic") or "")
        kind = _TOPIC_OBJECTS.get(topic.split("/")[0]) if payload else None
        ident, name = payload.get("id"), payload.get("name")
    return Subject(
        shop=str(shop) if shop else None,
        object_type=str(kind) if kind else None,
        object_id=None if ident is None else str(ident),
        object_name=None if name is None else str(name),
        document_key=str(document_key) if document_key else None,
    )


_TOPIC_OBJECTS = {
    "orders": "order",
    "refunds": "refund",
    "products": "product",
    "customers": "customer",
}


def _sentence(text: str) -> str:
    """A headline from a sentence: no final full stop."""
    return text.strip().rstrip(".")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
