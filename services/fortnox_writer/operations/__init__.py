"""The document operations, one per command action (see ``base`` for what they share).

Adding an operation (a per-day summary document, a pre-flight check's read-only calls) is a new
module here with a class that has ``async def run(self, run: Run) -> Outcome`` and one entry in
``operations_for``; the executor, scheduler and intake above need no change.
"""

from __future__ import annotations

from libs.common.messages import CommandAction
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.leases import Leases
from services.fortnox_writer.operations.base import Operation, Outcome, Run, Session, Steps
from services.fortnox_writer.operations.catalog import SyncCatalog
from services.fortnox_writer.operations.create import CreateDocument
from services.fortnox_writer.operations.find import FindDocuments
from services.fortnox_writer.operations.pay import RegisterPayment
from services.fortnox_writer.operations.reverse import ReverseDocument
from services.fortnox_writer.operations.stock import StockOperations
from services.fortnox_writer.operations.update import UpdateDocument
from services.fortnox_writer.operations.voucher import CreateVoucher

__all__ = ["Operation", "Outcome", "Run", "Session", "Steps", "operations_for"]


def operations_for(
    steps: Steps, leases: Leases, connections: ConnectionStore
) -> dict[CommandAction, Operation]:
    stock = StockOperations(steps, connections)
    return {
        "create_document": CreateDocument(steps),
        "update_document": UpdateDocument(steps),
        "reverse_document": ReverseDocument(steps),
        "register_payment": RegisterPayment(steps),
        "sync_articles": SyncCatalog(steps, leases, "article"),
        "sync_customer": SyncCatalog(steps, leases, "customer"),
        "create_voucher": CreateVoucher(steps),
        "set_stock": stock.set_stock,
        "read_stock": stock.read_stock,
        "find_documents": FindDocuments(),
    }
