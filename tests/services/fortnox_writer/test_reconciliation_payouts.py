"""Payouts in the reconciliation report (pure): the voucher's rows per account against the
payout's net, fees and gross; a voucher that disagrees is listed per amount."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from services.fortnox_writer.reconciliation.fortnox_side import FortnoxVoucher
from services.fortnox_writer.reconciliation.payouts import payout_rows
from services.fortnox_writer.reconciliation.shopify_side import ShopifyPayout
from services.mapper.accounting.settings import PayoutSettings

D = Decimal
ACCOUNTS = PayoutSettings(enabled=True)


def payout(currency: str = "SEK") -> ShopifyPayout:
    # docs/accounting.md's example: 1,750.00 of charges, a refund of 100.00, fees 36.90.
    return ShopifyPayout(
        payout_id="7000000123",
        day=date(2026, 11, 20),
        currency=currency,
        net=D("1613.10"),
        fees=D("36.90"),
        charges=D("1750.00"),
        refunds=D("-100.00"),
    )


def rows(fee: str = "36.90", bank: str = "1613.10") -> list[dict[str, Any]]:
    return [
        {"Account": 1930, "Debit": D(bank), "Credit": D(0)},
        {"Account": 6064, "Debit": D(fee), "Credit": D(0)},
        {"Account": 1580, "Debit": D(0), "Credit": D("1750.00")},
        {"Account": 1580, "Debit": D("100.00"), "Credit": D(0)},
    ]


def voucher(
    voucher_rows: list[dict[str, Any]] | None, description: str = ""
) -> dict[str, FortnoxVoucher]:
    key = "Shopify Payments utbetalning 7000000123"
    made = FortnoxVoucher("A12", "A", "12", "2026", voucher_rows, description or key)
    return {key: made}


def test_a_voucher_that_matches_its_payout_ties_out() -> None:
    listed, differences, notes = payout_rows([payout()], voucher(rows()), ACCOUNTS)
    assert differences == [] and notes == []
    [row] = listed
    assert row["voucher"] == "A12"
    assert row["fortnox"] == {
        "net": "1613.10",
        "fees": "36.90",
        "gross": "1650.00",
        "adjustments": "0.00",
        "reserves": "0.00",
    }
    assert (row["net"], row["fees"], row["gross"]) == ("1613.10", "36.90", "1650.00")


def test_a_fee_typed_otherwise_in_fortnox_is_a_difference() -> None:
    edited = rows(fee="46.90", bank="1603.10")  # 10.00 moved from the bank to the fees
    _, differences, _ = payout_rows([payout()], voucher(edited), ACCOUNTS)
    found = {d["what"]: d for d in differences}
    assert set(found) == {
        "payout 7000000123 fees (fee account)",
        "payout 7000000123 net paid out (bank account)",
    }
    fees = found["payout 7000000123 fees (fee account)"]
    assert (fees["kind"], fees["document"], fees["difference"]) == ("payout", "A12", "10.00")
    assert found["payout 7000000123 net paid out (bank account)"]["difference"] == "-10.00"


def test_a_missing_voucher_is_listed() -> None:
    _, differences, _ = payout_rows([payout()], {}, ACCOUNTS)
    assert [(d["kind"], d["what"]) for d in differences] == [
        ("missing", "payout 7000000123 voucher")
    ]


# The same payout in euro, booked at 11.4321 SEK per euro, each row rounded half-up to öre as
# the writer does: 1613.10 -> 18441.12, 36.90 -> 421.84, 1750.00 -> 20006.18, 100.00 -> 1143.21
# (credit 20006.18, debit 18441.12 + 421.84 + 1143.21 = 20006.17: the öre to rounding, 3740).
EURO_DESCRIPTION = "Shopify Payments utbetalning 7000000123 (EUR 1613.10 kurs 11.4321)"


def euro_rows(fee: str = "421.84") -> list[dict[str, Any]]:
    return [
        {"Account": 1930, "Debit": D("18441.12"), "Credit": D(0)},
        {"Account": 6064, "Debit": D(fee), "Credit": D(0)},
        {"Account": 1580, "Debit": D(0), "Credit": D("20006.18")},
        {"Account": 1580, "Debit": D("1143.21"), "Credit": D(0)},
        {"Account": 3740, "Debit": D("0.01"), "Credit": D(0)},
    ]


def test_a_euro_payout_is_compared_in_sek_at_the_rate_its_voucher_names() -> None:
    listed, differences, notes = payout_rows(
        [payout("EUR")], voucher(euro_rows(), EURO_DESCRIPTION), ACCOUNTS
    )
    assert differences == [] and notes == []
    [row] = listed
    assert row["rate"] == "11.4321"
    assert row["sek"]["net"] == row["fortnox"]["net"] == "18441.12"
    assert row["sek"]["fees"] == row["fortnox"]["fees"] == "421.84"
    # 1650.00 x 11.4321 = 18862.965 -> 18862.97; the voucher's rows give 18862.97 as well.
    assert row["fortnox"]["gross"] == "18862.97"


def test_an_edited_euro_voucher_shows_the_difference_in_sek() -> None:
    edited = voucher(euro_rows(fee="431.84"), EURO_DESCRIPTION)
    _, differences, _ = payout_rows([payout("EUR")], edited, ACCOUNTS)
    [fees] = differences
    assert fees["what"] == "payout 7000000123 fees (fee account)"
    assert (fees["shopify"], fees["fortnox"], fees["difference"]) == (
        "421.84",
        "431.84",
        "10.00",
    )


def test_an_euro_voucher_at_another_rate_is_a_difference() -> None:
    # The same SEK rows under a Description naming another rate do not tie out.
    other = EURO_DESCRIPTION.replace("11.4321", "11.5000")
    _, differences, _ = payout_rows([payout("EUR")], voucher(euro_rows(), other), ACCOUNTS)
    assert {d["what"] for d in differences} >= {
        "payout 7000000123 net paid out (bank account)",
        "payout 7000000123 fees (fee account)",
    }


def test_a_foreign_voucher_naming_no_rate_is_listed_not_compared() -> None:
    listed, differences, notes = payout_rows([payout("EUR")], voucher(euro_rows()), ACCOUNTS)
    assert differences == [] and listed[0]["voucher"] == "A12" and listed[0]["fortnox"] is None
    assert "names no rate" in notes[0]
