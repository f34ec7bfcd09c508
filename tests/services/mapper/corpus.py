"""The fixture corpus: definitions, the summary compared with *.expected.json, and a writer.

``python -m tests.services.mapper.corpus`` rewrites the payload files (deterministic ids and
dates) and, with ``--expected``, the expectations from the current planner: review the diff by
hand before committing it. tests/services/mapper/test_corpus.py replays every case.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from libs.common.errors import TransientError
from libs.common.messages import FortnoxCommand
from services.mapper.accounting import ShopSettings, UnmappableOrder, plan_event
from services.mapper.accounting.state import OrderState
from simulators.fortnox.totals import RowInput, compute_totals

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SHOP = "corpus.myshopify.com"


def load(relative: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / relative).read_text()))


def fortnox_view(command: FortnoxCommand, round_to_whole: bool = False) -> dict[str, Any]:
    """Total and VAT per rate as the Fortnox simulator computes them for the draft."""
    doc = command.document
    assert doc is not None
    freight = Decimal(str(doc.fields.get("Freight", 0)))
    totals = compute_totals(
        [RowInput(r.price, r.quantity, r.vat, r.discount, r.discount_type) for r in doc.rows],
        vat_included=doc.vat_included,
        freight=freight,
        round_to_whole=round_to_whole and doc.currency == "SEK",
    )
    vat = {format(k.normalize(), "f"): str(v) for k, v in totals.vat_by_rate.items() if v}
    if totals.freight_vat:
        vat["freight"] = str(totals.freight_vat)
    return {"total": str(totals.total), "vat": dict(sorted(vat.items()))}


def summary(command: FortnoxCommand, round_to_whole: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"action": command.action, "document_key": command.document_key}
    if command.target_document_key:
        out["target"] = command.target_document_key
    if command.expected_total is not None:
        out["expected_total"] = str(command.expected_total)
    if command.action == "reverse_document":
        out["allow_cancel"] = command.allow_cancel
        if command.credit_date is not None:
            out["credit_date"] = command.credit_date
    if command.customer:
        c = command.customer
        out["customer"] = {
            "match": f"{c.match_key}:{c.match_value}",
            "type": c.fields.get("Type"),
            "vat_type": c.fields.get("VATType"),
        }
    if command.document:
        d = command.document
        out["document"] = {
            "reference": d.external_reference,
            "date": d.document_date,
            "currency": d.currency,
            "vat_included": d.vat_included,
            "fields": {k: str(v) for k, v in sorted(d.fields.items())},
            "rows": [
                [
                    r.article_number,
                    r.description,
                    str(r.quantity),
                    str(r.price),
                    str(r.discount),
                    format(r.vat.normalize(), "f"),
                    r.account_number,
                ]
                for r in d.rows
            ],
        }
        out["fortnox"] = fortnox_view(command, round_to_whole)
    if command.payment:
        p = command.payment
        out["payment"] = {
            "amount": str(p.amount),
            "currency": p.currency,
            "rate": None if p.currency_rate is None else str(p.currency_rate),
            "date": p.payment_date,
            "mode": p.mode_of_payment,
            "account": p.mode_of_payment_account,
        }
    return out


def run_case(case_file: Path) -> dict[str, Any]:
    """Plan the case's earlier events, then its own; what the last event produced."""
    meta = json.loads(case_file.with_name(case_file.stem + ".expected.json").read_text())
    settings = ShopSettings.model_validate(meta.get("settings", {}))
    state: OrderState | None = None
    for step in meta.get("before", []):
        state = plan_event(SHOP, step["topic"], load(step["file"]), settings, state).state
    payload = json.loads(case_file.read_text())
    try:
        plan = plan_event(SHOP, meta["topic"], payload, settings, state)
    except UnmappableOrder as exc:
        return {"error": exc.message}
    except TransientError as exc:
        return {"retry": exc.message}
    result: dict[str, Any] = {
        "commands": [summary(c, settings.round_to_whole_sek) for c in plan.commands]
    }
    if plan.skipped:
        result["skipped"] = plan.skipped
    return result


def case_files() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("*/*.json") if not p.name.endswith(".expected.json"))


def write(relative: str, payload: dict[str, Any], meta: dict[str, Any]) -> None:
    path = FIXTURES / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    expected = path.with_name(path.stem + ".expected.json")
    old = json.loads(expected.read_text()) if expected.exists() else {}
    expected.write_text(json.dumps({**old, **meta}, indent=2, ensure_ascii=False) + "\n")


def write_expectations() -> None:
    for case in case_files():
        expected = case.with_name(case.stem + ".expected.json")
        meta = json.loads(expected.read_text())
        meta["expect"] = run_case(case)
        expected.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    from tests.services.mapper.corpus_events import build_all

    build_all()
    if "--expected" in sys.argv:
        write_expectations()
