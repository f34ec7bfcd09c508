"""The Fortnox simulator's error codes: one code per error, documented codes as fortnox.md
lists them, and the made-up ones kept in their own range (docs/simulators.md)."""

from __future__ import annotations

from simulators.fortnox import errors

# fortnox.md's "Errors" section, code by code.
DOCUMENTED = {
    "SYSTEM_ERROR": 1000003,
    "NOT_ALPHANUMERIC": 2000106,
    "NOT_NUMERIC": 2000108,
    "NOT_BOOLEAN": 2000134,
    "INVALID_CHARACTERS": 2000359,
    "ACCOUNT_NOT_FOUND": 2000423,
    "ARTICLE_NOT_FOUND": 2000428,
    "CUSTOMER_NOT_FOUND": 2000433,
    "INVOICE_NOT_FOUND": 2000434,
    "ORDER_NOT_FOUND": 2000439,
    "INVALID_PARAMETER": 2000588,
    "CUSTOMER_NUMBER_USED": 2000637,
    "NO_SCOPE_ACCESS": 2000663,
    "NO_LICENCE": 2001101,
    "BAD_BODY": 2001392,
    "INVALID_FIELD_NAME": 2001399,
    "JSON_SYNTAX": 2002115,
}


def _codes() -> dict[str, int]:
    return {
        name: value
        for name, value in vars(errors).items()
        if name.isupper() and isinstance(value, int) and not isinstance(value, bool)
    }


def test_every_error_has_a_code_of_its_own() -> None:
    codes = _codes()
    by_code: dict[int, list[str]] = {}
    for name, code in codes.items():
        by_code.setdefault(code, []).append(name)
    shared = {code: names for code, names in by_code.items() if len(names) > 1}
    assert shared == {}
    assert len(codes) >= 30  # the scan saw the module's codes


def test_documented_errors_answer_fortnoxs_documented_codes() -> None:
    codes = _codes()
    assert {name: codes[name] for name in DOCUMENTED} == DOCUMENTED


def test_made_up_codes_stay_in_their_own_range_with_a_message_each() -> None:
    made_up = {name: code for name, code in _codes().items() if name.startswith("SIM_")}
    assert made_up and all(2999000 < code < 3000000 for code in made_up.values())
    assert set(made_up.values()) <= set(errors.MESSAGES)
    messages = [errors.MESSAGES[code] for code in made_up.values()]
    assert len(set(messages)) == len(messages)
