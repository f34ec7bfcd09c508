"""The writer's results (``fortnox.result.<status>``): what happened to a command, for the
timeline and ingest. Statuses and kinds are the contract's literals (libs/common/messages.py)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from libs.common.errors import HandlerError
from libs.common.messages import FortnoxCommand, ResultKind, StockLevel, SyncResult, SyncStatus
from libs.common.tracing import current_trace_id
from services.fortnox_writer.ledger import CreatedDocument

CATALOG_KINDS: dict[str, ResultKind] = {
    "sync_articles": "article",
    "sync_customer": "customer",
    "set_stock": "stock",
    "read_stock": "stock",
}


def result_kind(command: FortnoxCommand) -> ResultKind:
    """The kind a command's result names before anything was made (failed, parked)."""
    if command.action in CATALOG_KINDS:
        return CATALOG_KINDS[command.action]
    if command.action == "create_voucher":
        return "voucher"
    return command.document.kind if command.document else "invoice"


def _currency(command: FortnoxCommand) -> str | None:
    if command.action == "register_payment" and command.payment is not None:
        return command.payment.currency
    if command.action == "create_voucher" and command.voucher is not None:
        return command.voucher.currency
    return command.document.currency if command.document else None


def _base(command: FortnoxCommand) -> dict[str, Any]:
    return {
        "shop": command.shop,
        "command_id": command.command_id,
        "document_key": command.document_key,
        "source": command.source,
        "action": command.action,
        "expected_total": command.expected_total,
        "currency": _currency(command),
        "trace_id": current_trace_id(),
        "rule_version": command.rule_version,
        "batch_id": command.batch_id,
        "origin": command.origin,
        "notices": command.notices,
        "references": command.references,
    }


def done(
    command: FortnoxCommand,
    status: SyncStatus,
    kind: ResultKind,
    made: CreatedDocument,
    *,
    explanation: str | None = None,
    stock: Sequence[StockLevel] = (),
    warehouse_module: bool | None = None,
    found: dict[str, str] | None = None,
) -> SyncResult:
    return SyncResult(
        **_base(command),
        status=status,
        document_kind=kind,
        document_number=made.number,
        fortnox_total=made.total,
        explanation=explanation,
        stock=list(stock),
        warehouse_module=warehouse_module,
        found=found or {},
    )


def parked(command: FortnoxCommand, reason: str | None) -> SyncResult:
    explanation = (
        f"the shop's Fortnox connection needs reconnecting ({reason})"
        if reason
        else "the shop's Fortnox connection needs reconnecting"
    ) + "; this sync resumes by itself once it is reconnected"
    return SyncResult(
        **_base(command),
        status="parked",
        document_kind=result_kind(command),
        error_code="needs_reconnection",
        explanation=explanation,
    )


def billing_wait(command: FortnoxCommand, explanation: str | None) -> SyncResult:
    """Waiting on usage billing (docs/billing.md): set aside, resumed once it can be charged."""
    return SyncResult(
        **_base(command),
        status="parked",
        document_kind=result_kind(command),
        error_code="billing_required",
        explanation=explanation or "this sync waits until usage charges are approved",
    )


def held(
    command: FortnoxCommand, status: Literal["parked", "skipped"], explanation: str
) -> SyncResult:
    """Held back by a company switch (parked), or discarded after one (skipped): switching.py."""
    return SyncResult(
        **_base(command),
        status=status,
        document_kind=result_kind(command),
        error_code="company_switched",
        explanation=explanation,
    )


def failed(command: FortnoxCommand, exc: HandlerError) -> SyncResult:
    """A failure; a document that exists but is wrong (totals) is named with both figures."""
    number = exc.details.get("document_number")
    return SyncResult(
        **_base(command),
        status="failed",
        document_kind=result_kind(command),
        document_number=None if number is None else str(number),
        fortnox_total=_money(exc.details.get("fortnox_total")),
        error_code=exc.code,
        error_message=exc.source_message or exc.message,
        explanation=exc.explanation,
    )


def _money(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None
