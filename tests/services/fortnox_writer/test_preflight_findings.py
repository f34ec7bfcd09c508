"""The pre-flight findings (pure): a register Fortnox does not offer or may not be read is said,
not guessed; severities make the status."""

from __future__ import annotations

from decimal import Decimal

from services.fortnox_writer.preflight.findings import findings_for, status_of, vat_finding_id
from services.fortnox_writer.preflight.fortnox_setup import FortnoxSetup, Unreadable
from services.mapper.accounting import ShopSettings
from services.mapper.needs import needs_of
from services.mapper.rules.model import RuleSet
from simulators.shopify.payloads import LineSpec, order_payload


def test_vat_rates_fortnox_does_not_list_are_a_warning_not_an_error() -> None:
    order = order_payload(lines=[LineSpec("Bier", "10.00", 1, "0.19", "BEER")])
    needs = needs_of(ShopSettings(), RuleSet(), [order])
    setup = FortnoxSetup(
        accounts={n: True for n in needs.accounts},
        modes_of_payment={"KORT"},
        terms_of_payment=set(),
        currencies={"SEK"},
        unreadable={"vat_rates": Unreadable("vat_rates", "bookkeeping", "not_offered", "2999010")},
    )
    [finding] = findings_for(needs, setup, ["payment"])
    assert (finding.id, finding.severity) == ("vat-unverified", "warning")
    assert "19 %" in finding.title and "OSS" in finding.fix
    assert status_of([finding]) == "warnings"


def test_finding_ids_of_rates_match_the_failed_jobs() -> None:
    assert vat_finding_id(Decimal("19.00")) == "vat-19"
    assert vat_finding_id(Decimal("5.5")) == "vat-5.5"
    assert vat_finding_id(Decimal("0")) == "vat-0"
    assert status_of([]) == "ok"


def test_with_payouts_on_the_payout_accounts_fortnox_lacks_are_named() -> None:
    """A payout voucher books to the payout settings' accounts; one the chart lacks is an
    error finding with the id a failed payout job names (account-6064)."""
    off = needs_of(ShopSettings(), RuleSet(), [])
    assert 6064 not in off.accounts and 6990 not in off.accounts
    settings = ShopSettings.model_validate({"payouts": {"enabled": True, "fee_account": 6570}})
    needs = needs_of(settings, RuleSet(), [])
    assert {1580, 6570, 1930, 6990, 1680} <= set(needs.accounts)
    assert needs.accounts[6570] == ["settings: payouts.fee_account"]
    setup = FortnoxSetup(
        accounts={n: True for n in needs.accounts if n != 6570},
        modes_of_payment={"KORT"},
        terms_of_payment=set(),
        currencies={"SEK"},
        vat_rates={Decimal(25), Decimal(12), Decimal(6)},
    )
    [finding] = [f for f in findings_for(needs, setup, ["payment"]) if f.id.startswith("account")]
    assert (finding.id, finding.severity) == ("account-6570", "error")
    assert "payouts.fee_account" in finding.explanation
