"""Every payload under tests/fixtures through the pure planner, against its reviewed
expectation (*.expected.json): the commands, rows, accounts, VAT and totals, each document's
date and each full credit's day."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.services.mapper.corpus import FIXTURES, case_files, run_case

CASES = case_files()


def test_the_corpus_has_at_least_forty_payloads() -> None:
    assert len(CASES) >= 40
    groups = {p.parent.name for p in CASES}
    assert {"orders", "refunds", "edits"} <= groups


@pytest.mark.parametrize("case", CASES, ids=[str(p.relative_to(FIXTURES)) for p in CASES])
def test_case_plans_the_reviewed_documents(case: Path) -> None:
    expected = json.loads(case.with_name(case.stem + ".expected.json").read_text())["expect"]
    actual = run_case(case)
    assert actual == expected
    for command in actual.get("commands", []):
        if "fortnox" in command:  # Fortnox's own arithmetic gives Shopify's total to the öre
            assert Decimal(command["fortnox"]["total"]) == Decimal(command["expected_total"])
