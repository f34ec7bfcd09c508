"""The pre-flight findings (pure): what the shop needs (``services.mapper.needs``) against what
its Fortnox has (``fortnox_setup``), each in plain English with how to fix it.

Severity: ``error`` means syncs that need it will fail (a VAT rate, an account, a currency, terms
of payment, a scope); ``warning`` means a part of the sync will fail or could not be verified (a
mode of payment, a register Fortbridge may not read); ``info`` is worth knowing (SKUs that change
on their way to Fortnox). Findings warn; they never stop an order from syncing.

Finding ids are stable (``vat-19``, ``account-3011``, ``mode-of-payment-KLARNA``): a failed job
whose cause the check names links to it (``services/replayer/causes.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Literal

from services.fortnox_writer.preflight.fortnox_setup import FortnoxSetup, Unreadable
from services.mapper.needs import ShopNeeds

Severity = Literal["error", "warning", "info"]
PREFLIGHT_PATH = "/admin/api/integrations/fortnox/preflight.json"
FIX_PATH = "/admin/api/integrations/fortnox/preflight/fix.json"
SWEDISH_RATES = frozenset({Decimal(25), Decimal(12), Decimal(6), Decimal(0)})
FEATURE_SCOPES = {"orders": "order", "payments": "payment"}
REGISTER_NAMES = {
    "accounts": "chart of accounts",
    "modes_of_payment": "modes of payment",
    "terms_of_payment": "terms of payment",
    "currencies": "currencies",
    "vat_rates": "VAT rates",
}


@dataclass(frozen=True)
class Finding:
    id: str
    severity: Severity
    title: str
    explanation: str
    fix: str
    fix_action: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def rate_text(rate: Decimal) -> str:
    text = format(rate.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def vat_finding_id(rate: Decimal) -> str:
    return f"vat-{rate_text(rate)}"


def _where(sources: Iterable[str]) -> str:
    return "; ".join(sources)


def findings_for(needs: ShopNeeds, setup: FortnoxSetup, scopes: Iterable[str]) -> list[Finding]:
    found: list[Finding] = []
    found += _vat(needs, setup)
    found += _accounts(needs, setup)
    found += _modes(needs, setup)
    found += _terms(needs, setup)
    found += _currencies(needs, setup)
    found += _scopes(needs, set(scopes))
    found += _licences(needs, setup)
    found += _unreadable(setup)
    found += _skus(needs)
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(found, key=lambda f: (order[f.severity], f.id))


def status_of(findings: Iterable[Finding | dict[str, Any]]) -> str:
    severities = {f.severity if isinstance(f, Finding) else f["severity"] for f in findings}
    if "error" in severities:
        return "problems"
    return "warnings" if "warning" in severities else "ok"


def _vat(needs: ShopNeeds, setup: FortnoxSetup) -> list[Finding]:
    if setup.vat_rates is None:
        unusual = sorted(rate for rate in needs.vat_rates if rate not in SWEDISH_RATES)
        if not unusual:
            return []
        shown = ", ".join(f"{rate_text(r)} %" for r in unusual)
        where = _where(s for r in unusual for s in needs.vat_rates[r])
        return [
            Finding(
                "vat-unverified",
                "warning",
                f"Fortbridge could not check that Fortnox has VAT {shown}",
                f"Your shop sells at {shown} ({where}), which is not one of Sweden's standard "
                "rates, and Fortnox did not let Fortbridge read its VAT rates. An order with "
                "a rate Fortnox lacks fails.",
                f"In Fortnox, open Settings, Bookkeeping, VAT (OSS) and make sure {shown} is set "
                "up for the countries you sell to.",
            )
        ]
    missing = sorted(rate for rate in needs.vat_rates if rate not in setup.vat_rates)
    return [
        Finding(
            vat_finding_id(rate),
            "error",
            f"VAT rate {rate_text(rate)} % is missing in Fortnox",
            f"Your shop sells at {rate_text(rate)} % ({_where(needs.vat_rates[rate])}), which "
            "your Fortnox company does not have. Every order with this rate fails with "
            '"Kunde inte hitta moms" until it is added.',
            f"Fortnox's API cannot add VAT rates, so this is done in Fortnox: open Settings, "
            f"Bookkeeping, VAT and add {rate_text(rate)} % (for an EU country's rate, register "
            "the country under One Stop Shop, OSS). Then press Check again; orders that failed "
            "can be retried from Failed syncs.",
        )
        for rate in missing
    ]


def _accounts(needs: ShopNeeds, setup: FortnoxSetup) -> list[Finding]:
    if setup.accounts is None:
        return []
    found = []
    for number in sorted(needs.accounts):
        active = setup.accounts.get(number)
        if active:
            continue
        where = _where(needs.accounts[number])
        if active is None:
            found.append(
                Finding(
                    f"account-{number}",
                    "error",
                    f"Account {number} does not exist in Fortnox",
                    f"Fortbridge books to account {number} ({where}), but it is not in your "
                    "Fortnox chart of accounts, so documents that use it are refused.",
                    f"Add account {number} in Fortnox (Settings, Bookkeeping, Chart of accounts) "
                    "or choose an account you have in Fortbridge's Settings.",
                )
            )
        else:
            found.append(
                Finding(
                    f"account-{number}",
                    "error",
                    f"Account {number} is inactive in Fortnox",
                    f"Fortbridge books to account {number} ({where}), but it is marked inactive "
                    "in Fortnox, so documents that use it are refused.",
                    f"Activate account {number} in Fortnox's chart of accounts or choose another "
                    "account in Fortbridge's Settings.",
                )
            )
    return found


def _modes(needs: ShopNeeds, setup: FortnoxSetup) -> list[Finding]:
    if setup.modes_of_payment is None:
        return []
    return [
        Finding(
            f"mode-of-payment-{code}",
            "warning",
            f"Mode of payment {code} is missing in Fortnox",
            f"Payments are registered in Fortnox with the mode of payment {code} "
            f"({_where(needs.payment_modes[code])}), which your Fortnox company does not have: "
            "registering those payments fails (the invoices themselves are made).",
            f"Let Fortbridge create {code} in Fortnox (booked to account 1930, which you can "
            "change in Fortnox afterwards), add it yourself under Settings, Payments, or map "
            "the payment method to another mode of payment in Settings.",
            {
                "label": f"Create {code} in Fortnox",
                "method": "POST",
                "path": FIX_PATH,
                "body": {"finding": f"mode-of-payment-{code}"},
            },
        )
        for code in sorted(needs.payment_modes)
        if code not in setup.modes_of_payment
    ]


def _terms(needs: ShopNeeds, setup: FortnoxSetup) -> list[Finding]:
    if setup.terms_of_payment is None:
        return []
    return [
        Finding(
            f"terms-of-payment-{code}",
            "error",
            f"Terms of payment {code} are missing in Fortnox",
            f"Documents are made with the terms of payment {code} "
            f"({_where(needs.terms_of_payment[code])}), which your Fortnox company does not "
            "have, so they are refused.",
            f"Add the terms of payment {code} in Fortnox (Settings, Invoicing, Terms of "
            "payment) or change the rule or setting that uses them.",
        )
        for code in sorted(needs.terms_of_payment)
        if code not in setup.terms_of_payment
    ]


def _currencies(needs: ShopNeeds, setup: FortnoxSetup) -> list[Finding]:
    if setup.currencies is None:
        return []
    return [
        Finding(
            f"currency-{code}",
            "error",
            f"Currency {code} is missing in Fortnox",
            f"Documents are made in {code} ({_where(needs.currencies[code])}), a currency your "
            "Fortnox company does not have, so they are refused.",
            f"Add {code} in Fortnox (Settings, Invoicing, Currencies), or invoice in the shop's "
            "currency (Settings, currency choice).",
        )
        for code in sorted(needs.currencies)
        if code != "SEK" and code not in setup.currencies
    ]


def probes(needs: ShopNeeds, scopes: Iterable[str]) -> list[str]:
    """The scopes whose licence the check reads: needed by a feature, held by the connection."""
    held = set(scopes)
    return [s for f, s in FEATURE_SCOPES.items() if f in needs.features and s in held]


def _licences(needs: ShopNeeds, setup: FortnoxSetup) -> list[Finding]:
    return [
        Finding(
            f"licence-{scope}",
            "error",
            f"Your Fortnox plan does not include {scope}s",
            f"Your shop needs {scope}s in Fortnox ({_where(needs.features[feature])}), but "
            f"Fortnox answers that the company has no licence for them, so those syncs fail.",
            f"Add {scope}s to your Fortnox plan (Fortnox, Settings, Licences), then press "
            "Check again; or change the setting that needs them.",
        )
        for feature, scope in FEATURE_SCOPES.items()
        if scope in setup.unlicensed and feature in needs.features
    ]


def _scopes(needs: ShopNeeds, scopes: set[str]) -> list[Finding]:
    found = []
    for feature, scope in FEATURE_SCOPES.items():
        if feature in needs.features and scope not in scopes:
            found.append(
                Finding(
                    f"scope-{scope}",
                    "error",
                    f"Fortbridge may not use Fortnox's {scope}s",
                    f"Your shop needs {scope}s in Fortnox ({_where(needs.features[feature])}), "
                    f"but the connection was made without the {scope} permission, so those "
                    "syncs fail.",
                    "Reconnect Fortnox from the Get started page and allow the permission "
                    "(your Fortnox plan must include it).",
                )
            )
    return found


def _unreadable(setup: FortnoxSetup) -> list[Finding]:
    """One finding for every register Fortbridge could not read (with each one's reason)."""
    problems = [
        problem
        for name, problem in sorted(setup.unreadable.items())
        if not (name == "vat_rates" and problem.reason == "not_offered")  # the VAT finding says
    ]
    if not problems:
        return []
    registers = _and([REGISTER_NAMES.get(p.register, p.register) for p in problems])
    whys = _and(sorted({_why(p) for p in problems}))
    scopes = _and(sorted({p.scope for p in problems}))
    return [
        Finding(
            "unreadable-registers",
            "info",
            f"Fortbridge could not check your {registers}",
            f"Fortbridge could not read your Fortnox {registers} because {whys}, so it did "
            "not check them. Syncing works without it; a missing entry shows up as a failed "
            "sync instead.",
            f"To have them checked, reconnect Fortnox from the Get started page and allow "
            f"{scopes} (your Fortnox plan must include it).",
        )
    ]


def _why(problem: Unreadable) -> str:
    return {
        "no_scope": f"the connection lacks Fortnox's {problem.scope} permission",
        "no_licence": f"your Fortnox plan has no licence for {problem.scope}",
    }.get(problem.reason, f"Fortnox refused to list them (code {problem.code})")


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _skus(needs: ShopNeeds) -> list[Finding]:
    if not needs.sku_changes:
        return []
    shown = "; ".join(
        f"{c.sku!r} becomes {c.article_number!r}" + (" (too long: refused)" if c.too_long else "")
        for c in needs.sku_changes
    )
    too_long = any(c.too_long for c in needs.sku_changes)
    return [
        Finding(
            "sku-article-numbers",
            "warning" if too_long else "info",
            f"{len(needs.sku_changes)} SKU{'s' if len(needs.sku_changes) > 1 else ''} are not "
            "valid Fortnox article numbers",
            "Fortnox article numbers take only letters A-Z, digits, '-' and '.', at most 50 "
            f"characters. Fortbridge writes other characters as codes: {shown}.",
            "Nothing to do if the article numbers above are fine with you; otherwise change the "
            "SKUs in Shopify (or choose another article number source in Settings).",
        )
    ]
