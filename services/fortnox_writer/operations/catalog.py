"""sync_articles and sync_customer: a product's articles or a customer, each version once.

Articles: the article register is read once (pages of 500,
``article_register.ArticleRegister``); an article Fortnox has is updated in place (PUT), one it
lacks is created (POST): one call per article. When the mirror is wrong (someone created or
deleted the article in Fortnox meanwhile) the other call is made. Customers: found in or added
to the customer register exactly like an order's customer; a customer Fortnox has gets only its
kept-current fields (address, verified VAT number, the rules' templates) and only when they
changed (customer_register.keep_current). Each runs under the same per-article/customer lease
as order processing, so replicas never create one twice. The command's key names the object's
version: the ledger makes each version run once, so an unchanged catalog synced again costs no
Fortnox call.
"""

from __future__ import annotations

from typing import Any

from libs.common.messages import ArticleDraft, ResultKind
from services.fortnox_writer.article_register import ARTICLE_NOT_FOUND
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient, path_segment
from services.fortnox_writer.leases import Leases
from services.fortnox_writer.ledger import CreatedDocument
from services.fortnox_writer.operations.base import Outcome, Run, Steps, recorded

# Fields Fortnox sets itself or that identify the record: never sent on update.
_READ_ONLY = frozenset({"ArticleNumber", "CustomerNumber"})
ARTICLE_LEASE_WAIT = 60.0


def _updatable(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if name not in _READ_ONLY}


class SyncCatalog:
    """Both catalog actions: the ledger row, then the articles or the customer."""

    def __init__(self, steps: Steps, leases: Leases, kind: ResultKind) -> None:
        self._steps = steps
        self._leases = leases
        self._kind = kind

    async def run(self, run: Run) -> Outcome:
        ledger, command = self._steps.ledger, run.command
        record = await ledger.open(command, kind=self._kind)
        if record.made:
            return Outcome("already_synced", self._kind, recorded(record))
        client = await run.session.client()
        await ledger.count_attempt(run.key)
        if self._kind == "customer":
            number = await self._customer(run, client)
        else:
            number = await self._articles(run, client)
        made = CreatedDocument(number, None)
        await ledger.mark_done(run.key, made, "synced", made_in=client.tenant_id, finished=True)
        return Outcome("synced", self._kind, made)

    async def _customer(self, run: Run, client: FortnoxClient) -> str:
        """Found (and its kept-current fields written when they changed) or created."""
        command = run.command
        assert command.customer is not None
        return await self._steps.customers.customer_number(
            command.shop, client, command.customer, run.received_at
        )

    async def _articles(self, run: Run, client: FortnoxClient) -> str:
        shop, articles = run.command.shop, run.command.articles
        register = self._steps.articles
        await register.ensure_loaded(shop, client)
        for draft in articles:
            async with self._leases.hold(
                f"article:{shop}:{draft.article_number}", wait=ARTICLE_LEASE_WAIT
            ):
                known = await register.known(shop, client.tenant_id, draft.article_number)
                updated = known and await _put(client, draft)
                if not updated and await register.create(client, draft) == "exists":
                    await _put(client, draft)
                await register.remember(shop, client.tenant_id, draft.article_number)
        numbers = ", ".join(draft.article_number for draft in articles)
        return numbers if len(numbers) <= 200 else f"{len(articles)} articles"


async def _put(client: FortnoxClient, draft: ArticleDraft) -> bool:
    """Update the article in place; False if Fortnox no longer has it."""
    try:
        await client.request(
            "PUT",
            f"/3/articles/{path_segment(draft.article_number)}",
            body={"Article": _updatable(draft.fields)},
        )
    except FortnoxApiError as exc:
        if exc.code != ARTICLE_NOT_FOUND:
            raise
        return False
    return True
