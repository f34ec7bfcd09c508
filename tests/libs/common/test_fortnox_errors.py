"""The product recognises Fortnox refusals whose code Fortnox does not document by their
message, so it does not lean on the simulator's made-up codes (docs/simulators.md)."""

from __future__ import annotations

import pytest

from libs.common.fortnox_errors import (
    MODE_OF_PAYMENT_MISSING,
    TERMS_OF_PAYMENT_MISSING,
    VAT_MISSING,
    explain,
    is_vat_missing,
    is_warehouse_refusal,
)

VAT_TEXT = "Kunde inte hitta moms (0 %)"
WAREHOUSE_TEXT = "Lagersaldot ändras med lagertransaktioner när lagermodulen används"


@pytest.mark.parametrize("code", [VAT_MISSING, "2999123", None])
def test_a_missing_vat_rate_is_known_by_its_message_whatever_the_code(code: str | None) -> None:
    assert is_vat_missing(code, VAT_TEXT)
    assert explain(code, VAT_TEXT) == explain(VAT_MISSING, None)


def test_the_unconfirmed_vat_code_is_also_taken_alone() -> None:
    assert is_vat_missing(VAT_MISSING, "Fel")


def test_other_refusals_are_not_a_missing_vat_rate() -> None:
    assert not is_vat_missing("2000423", "Kan inte hitta kontot. (3740)")
    assert not is_vat_missing("2999123", "Ogiltigt värde")
    # A documented code keeps its meaning whatever its message says.
    assert not is_vat_missing("2000588", "Ogiltig parameter: momssats")


@pytest.mark.parametrize("code", ["2999009", "2999123", None])
def test_a_warehouse_refusal_is_known_by_its_message_whatever_the_code(code: str | None) -> None:
    assert is_warehouse_refusal(code, WAREHOUSE_TEXT)


def test_other_stock_write_refusals_are_not_the_warehouse() -> None:
    assert not is_warehouse_refusal("2999009", "Ogiltigt värde")
    assert not is_warehouse_refusal("2000428", "Kan inte hitta artikeln. (lager-1)")
    assert not is_warehouse_refusal(None, "Värdet måste vara numeriskt")


@pytest.mark.parametrize("code", ["2999016", "2999123", None])
def test_a_missing_mode_of_payment_is_known_by_its_message(code: str | None) -> None:
    assert explain(code, "Kan inte hitta betalningssättet. (KORT)") == MODE_OF_PAYMENT_MISSING


@pytest.mark.parametrize("code", ["2999020", "2999123", None])
def test_missing_terms_of_payment_are_known_by_their_message(code: str | None) -> None:
    explained = explain(code, "Kan inte hitta betalningsvillkoret. (45)")
    assert explained == TERMS_OF_PAYMENT_MISSING
    assert explain(code, "Kan inte hitta betalningssättet. (KORT)") != TERMS_OF_PAYMENT_MISSING
