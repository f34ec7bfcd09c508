"""The mirror of the tenant's customer register, so an order costs no look-up call.

Customers. The first order of a shop reads Fortnox's whole customer list (``limit=500``, page
by page); from then on the mirror is kept current by reading only the customers changed since
the previous read (``lastmodified``, with an overlap). An order's customer is matched in the
mirror exactly (e-mail or organisation number, trimmed and case-folded; the name for guests):

- found: no call at all;
- not found: the mirror must hold every change Fortnox had when the order reached the writer
  (``received_at``); if its last read began before that, one read of the changes first. Then,
  still not found, the customer is created (one call). Reads are shared: one read serves every
  order received before it began, so under load (when calls per order matter) a read is rare;
- two replicas: creating is serialized per match value with a lease, and the second replica
  re-reads the mirror inside the lease and finds the first one's customer;
- a customer made by hand in Fortnox before the order arrived: the read of changes finds it;
- a customer deleted in Fortnox: the document create answers "customer not found"; the number is
  dropped from the mirror and the command is retried, creating the customer again;
- a create whose answer was lost: an intent row (``register_creations``) is written before the
  POST; a leftover one makes the next attempt wait for the outcome to settle and read Fortnox's
  changes since the intent before it creates anything (for an article: one GET of it).

The time zone of ``lastmodified`` is not documented. The read asks in ``FORTNOX_TIMEZONE``; if a
customer Fortbridge itself created after the read's start is missing from the answer, the zone
was wrong: the mirror is read whole instead (logged), so a wrong guess costs calls, never a
duplicate.

Keeping customers current. A matched customer's fields that the order's draft keeps current
(``CustomerDraft.current_fields``: the billing address, a VAT number VIES confirmed, the rules'
customer templates) are compared with what the mirror knows of it (``fields``: from the list,
and whole from Fortbridge's own create and update answers); only the fields that differ are
sent, in one PUT, and none when nothing changed. The VIES consultation goes in Fortbridge's own
line of the customer's Comments (``VIES: ...``); the merchant's other lines there are kept (read
once with a GET when the mirror does not hold the Comments yet). Name, type, e-mail,
organisation number, VAT type, terms, price list and every other field are never touched on a
customer Fortnox already has (docs/accounting.md).

Companies: see register_state.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from libs.common.errors import PermanentError, TransientError
from libs.common.logs import get_logger
from libs.common.messages import CustomerDraft
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient, path_segment
from services.fortnox_writer.leases import Leases
from services.fortnox_writer.register_state import (
    CREATE_LEASE_WAIT,
    REGISTER_LEASE_WAIT,
    RegisterStates,
    covers,
    list_all,
)

log = get_logger(__name__)

CUSTOMER_NOT_FOUND = "2000433"
CUSTOMERS = "customers"

# What Fortnox's customer list gives of each customer (its Phone is the customer's Phone1).
_LIST_FIELDS = ("Address1", "Address2", "City", "ZipCode", "Email", "Name", "OrganisationNumber")
VIES_LINE = "VIES: "

_MATCH_COLUMN = {"email": "email", "organisation_number": "organisation_number", "default": "name"}
_FIELD = {"email": "Email", "organisation_number": "OrganisationNumber", "default": "Name"}


def normal(value: Any) -> str:
    return str(value or "").strip().casefold()


class CustomerRegister:
    def __init__(
        self,
        pool: asyncpg.Pool,
        leases: Leases,
        *,
        timezone: str = "Europe/Stockholm",
        overlap_seconds: float = 120.0,
        settle_seconds: float = 20.0,
    ) -> None:
        self._pool = pool
        self._leases = leases
        self._states = RegisterStates(pool)
        self._zone = ZoneInfo(timezone)
        self._overlap = timedelta(seconds=overlap_seconds)
        self._settle = timedelta(seconds=settle_seconds)

    # --- the order's customer ------------------------------------------------------------
    async def customer_number(
        self, shop: str, client: FortnoxClient, draft: CustomerDraft, received_at: datetime
    ) -> str:
        """The Fortnox number of the order's customer, created if Fortnox has none."""
        tenant = client.tenant_id
        state = await self._states.get(shop, CUSTOMERS)
        if state is not None and state.tenant_id == tenant:
            number = await self.match(shop, tenant, draft)
            if number is not None:
                await self.keep_current(shop, client, number, draft)
                return number
        key = f"customer:{shop}:{draft.match_key}:{normal(draft.match_value)}"
        async with self._leases.hold(key, wait=CREATE_LEASE_WAIT):
            await self.ensure_current(shop, client, received_at)
            number = await self.match(shop, tenant, draft)
            if number is not None:
                await self.keep_current(shop, client, number, draft)
                return number
            intent = await self._intent(shop, tenant, draft)
            if intent is not None:  # an earlier create may have reached Fortnox
                elapsed = await self._states.now() - intent
                if elapsed < self._settle:
                    raise TransientError(
                        "an earlier attempt's customer create may still be committing",
                        code="settling",
                        details={"retry_after": (self._settle - elapsed).total_seconds()},
                    )
                await self.ensure_current(shop, client, await self._states.now(), force=True)
                number = await self.match(shop, tenant, draft)
                if number is not None:
                    await self._forget_intent(shop, tenant, draft)
                    return number
            return await self._create(shop, client, draft)

    async def match(self, shop: str, tenant_id: str, draft: CustomerDraft) -> str | None:
        """The number of the company's customer the draft matches, if the mirror has one."""
        column = _MATCH_COLUMN[draft.match_key]
        rows = await self._pool.fetch(
            f"SELECT customer_number FROM fortnox_writer.customer_register"
            f" WHERE shop = $1 AND tenant_id = $2 AND {column} = $3",
            shop,
            tenant_id,
            normal(draft.match_value),
        )
        numbers = sorted((str(row["customer_number"]) for row in rows), key=_number_sort_key)
        if not numbers:
            return None
        if len(numbers) > 1 and draft.match_key != "default":
            field = _FIELD[draft.match_key]
            raise PermanentError(
                f"{len(numbers)} Fortnox customers have the {field} used to match this order",
                code="ambiguous_customer",
                explanation=(
                    f"Several Fortnox customers share this {field}, so Fortbridge will not guess "
                    "which one the order belongs to. Merge or correct them in Fortnox, then replay."
                ),
                details={"customer_numbers": numbers},
            )
        return numbers[0]

    # --- keeping a matched customer current -------------------------------------------------
    async def keep_current(
        self, shop: str, client: FortnoxClient, number: str, draft: CustomerDraft
    ) -> None:
        """Write the draft's kept-current fields that differ from what Fortnox has (one PUT),
        or nothing when none differs."""
        wanted = {name: draft.fields[name] for name in draft.current_fields if name in draft.fields}
        if not wanted and not draft.vies_note:
            return
        tenant = client.tenant_id
        known = await self._known_fields(shop, tenant, number)
        if draft.vies_note:
            if "Comments" not in known:  # the merchant's own lines there are kept
                answer = await self._call(shop, client, number, "GET")
                known = await self._store_fields(shop, tenant, number, answer)
            wanted["Comments"] = with_vies_note(known.get("Comments"), draft.vies_note)
        changed = {
            name: value
            for name, value in wanted.items()
            if name not in known or _text(known[name]) != _text(value)
        }
        if not changed:
            return
        answer = await self._call(shop, client, number, "PUT", {"Customer": changed})
        # What was sent wins over Fortnox's echo of it: a value Fortnox normalises (spaces in
        # a postcode, say) is not written again on every order.
        await self._store_fields(shop, tenant, number, {**answer, **changed})
        log.info("Fortnox customer kept current", shop=shop, fields=sorted(changed))

    async def _call(
        self,
        shop: str,
        client: FortnoxClient,
        number: str,
        method: str,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            answer = await client.request(method, f"/3/customers/{path_segment(number)}", body=body)
        except FortnoxApiError as exc:
            if exc.code != CUSTOMER_NOT_FOUND:
                raise
            await self.forget(shop, client.tenant_id, number)
            raise TransientError(
                "the customer in the mirror no longer exists in Fortnox; re-creating it",
                code=exc.code,
                source_message=exc.source_message,
            ) from exc
        customer = answer.get("Customer") if isinstance(answer, dict) else None
        return customer if isinstance(customer, dict) else {}

    async def _known_fields(self, shop: str, tenant_id: str, number: str) -> dict[str, Any]:
        raw = await self._pool.fetchval(
            "SELECT fields::text FROM fortnox_writer.customer_register"
            " WHERE shop = $1 AND tenant_id = $2 AND customer_number = $3",
            shop,
            tenant_id,
            number,
        )
        return dict(json.loads(raw)) if raw else {}

    async def _store_fields(
        self, shop: str, tenant_id: str, number: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        raw = await self._pool.fetchval(
            "UPDATE fortnox_writer.customer_register SET fields = fields || $4::jsonb"
            " WHERE shop = $1 AND tenant_id = $2 AND customer_number = $3 RETURNING fields::text",
            shop,
            tenant_id,
            number,
            json.dumps(fields, default=str),
        )
        return dict(json.loads(raw)) if raw else dict(fields)

    async def forget(self, shop: str, tenant_id: str, customer_number: str) -> None:
        """Fortnox no longer has this customer (deleted there)."""
        await self._pool.execute(
            "DELETE FROM fortnox_writer.customer_register"
            " WHERE shop = $1 AND tenant_id = $2 AND customer_number = $3",
            shop,
            tenant_id,
            customer_number,
        )

    # --- keeping the mirror current ------------------------------------------------------
    async def ensure_current(
        self, shop: str, client: FortnoxClient, since: datetime, *, force: bool = False
    ) -> None:
        """Make the mirror hold every change Fortnox had at ``since`` (one read serves all)."""
        state = await self._states.get(shop, CUSTOMERS)
        if not force and covers(state, client.tenant_id, since):
            return
        async with self._leases.hold(f"register:{shop}:{CUSTOMERS}", wait=REGISTER_LEASE_WAIT):
            state = await self._states.get(shop, CUSTOMERS)
            if not force and covers(state, client.tenant_id, since):
                return  # another worker read it meanwhile
            started = await self._states.now()
            if (
                state is None
                or state.tenant_id != client.tenant_id
                or not await self._read_changes(shop, client, state.current_at)
            ):
                await self._read_all(shop, client)
            await self._states.set(shop, CUSTOMERS, client.tenant_id, started)

    async def _read_all(self, shop: str, client: FortnoxClient) -> None:
        rows = await list_all(client, "/3/customers", "Customers")
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM fortnox_writer.customer_register WHERE shop = $1 AND tenant_id = $2"
                " AND NOT (customer_number = ANY($3))",
                shop,
                client.tenant_id,
                [str(row.get("CustomerNumber")) for row in rows],
            )
            await self._upsert(conn, shop, client.tenant_id, rows)

    async def _read_changes(self, shop: str, client: FortnoxClient, current_at: datetime) -> bool:
        """Read the customers changed since the mirror was current; False if the answer shows
        that Fortnox read the timestamp in another time zone."""
        since = (current_at - self._overlap).astimezone(self._zone)
        rows = await list_all(
            client,
            "/3/customers",
            "Customers",
            {"lastmodified": since.strftime("%Y-%m-%d %H:%M")},
        )
        seen = {str(row.get("CustomerNumber")) for row in rows}
        ours = await self._pool.fetch(
            "SELECT customer_number FROM fortnox_writer.customer_register"
            " WHERE shop = $1 AND tenant_id = $2 AND created_here_at >= $3",
            shop,
            client.tenant_id,
            current_at - self._overlap + timedelta(minutes=1),
        )
        missing = [row["customer_number"] for row in ours if row["customer_number"] not in seen]
        if missing:
            log.error(
                "Fortnox's lastmodified answer lacks customers Fortbridge created after that"
                " time: FORTNOX_TIMEZONE is likely wrong; reading the whole register",
                shop=shop,
                missing=len(missing),
            )
            return False
        async with self._pool.acquire() as conn, conn.transaction():
            await self._upsert(conn, shop, client.tenant_id, rows)
        return True

    async def _upsert(
        self, conn: asyncpg.Connection, shop: str, tenant_id: str, rows: Iterable[dict[str, Any]]
    ) -> None:
        await conn.executemany(
            """
            INSERT INTO fortnox_writer.customer_register
                (shop, tenant_id, customer_number, email, organisation_number, name, seen_at,
                 fields)
            VALUES ($1, $2, $3, $4, $5, $6, now(), $7::jsonb)
            ON CONFLICT (shop, tenant_id, customer_number) DO UPDATE SET email = EXCLUDED.email,
                organisation_number = EXCLUDED.organisation_number, name = EXCLUDED.name,
                seen_at = now(), fields = customer_register.fields || EXCLUDED.fields
            """,
            [
                (
                    shop,
                    tenant_id,
                    str(row.get("CustomerNumber")),
                    normal(row.get("Email")),
                    normal(row.get("OrganisationNumber")),
                    normal(row.get("Name")),
                    json.dumps(_list_fields(row), default=str),
                )
                for row in rows
            ],
        )

    # --- creating ------------------------------------------------------------------------
    async def _create(self, shop: str, client: FortnoxClient, draft: CustomerDraft) -> str:
        tenant = client.tenant_id
        await self._pool.execute(
            """
            INSERT INTO fortnox_writer.register_creations
                (shop, tenant_id, match_key, match_value)
            VALUES ($1, $2, $3, $4) ON CONFLICT (shop, tenant_id, match_key, match_value)
            DO UPDATE SET started_at = clock_timestamp()
            """,
            shop,
            tenant,
            draft.match_key,
            normal(draft.match_value),
        )
        fields = dict(draft.fields)
        if draft.vies_note:
            fields["Comments"] = draft.vies_note
        try:
            answer = await client.request("POST", "/3/customers", body={"Customer": fields})
        except FortnoxApiError:
            await self._forget_intent(shop, tenant, draft)  # refused: certainly not created
            raise
        customer = answer["Customer"]
        number = str(customer["CustomerNumber"])
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                INSERT INTO fortnox_writer.customer_register
                    (shop, tenant_id, customer_number, email, organisation_number, name,
                     created_here_at, fields)
                VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), $7::jsonb)
                ON CONFLICT (shop, tenant_id, customer_number) DO UPDATE SET
                    email = EXCLUDED.email, organisation_number = EXCLUDED.organisation_number,
                    name = EXCLUDED.name, created_here_at = EXCLUDED.created_here_at,
                    seen_at = now(), fields = EXCLUDED.fields
                """,
                shop,
                tenant,
                number,
                normal(customer.get("Email")),
                normal(customer.get("OrganisationNumber")),
                normal(customer.get("Name")),
                json.dumps({**customer, **fields}, default=str),
            )
            await conn.execute(
                "DELETE FROM fortnox_writer.register_creations"
                " WHERE shop = $1 AND tenant_id = $2 AND match_key = $3 AND match_value = $4",
                shop,
                tenant,
                draft.match_key,
                normal(draft.match_value),
            )
        return number

    async def _intent(self, shop: str, tenant_id: str, draft: CustomerDraft) -> datetime | None:
        value: datetime | None = await self._pool.fetchval(
            "SELECT started_at FROM fortnox_writer.register_creations"
            " WHERE shop = $1 AND tenant_id = $2 AND match_key = $3 AND match_value = $4",
            shop,
            tenant_id,
            draft.match_key,
            normal(draft.match_value),
        )
        return value

    async def _forget_intent(self, shop: str, tenant_id: str, draft: CustomerDraft) -> None:
        await self._pool.execute(
            "DELETE FROM fortnox_writer.register_creations"
            " WHERE shop = $1 AND tenant_id = $2 AND match_key = $3 AND match_value = $4",
            shop,
            tenant_id,
            draft.match_key,
            normal(draft.match_value),
        )


def _list_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The fields a customer list row tells of the customer (Phone is its Phone1)."""
    fields = {name: row[name] for name in _LIST_FIELDS if name in row}
    if "Phone" in row:
        fields["Phone1"] = row["Phone"]
    return fields


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def with_vies_note(comments: Any, note: str) -> str:
    """The customer's Comments with Fortbridge's VIES line replaced (other lines kept)."""
    lines = [line for line in _text(comments).splitlines() if not line.startswith(VIES_LINE)]
    return "\n".join([*lines, note])


def _number_sort_key(value: str) -> tuple[int, Any]:
    return (0, int(value)) if value.isdigit() else (1, value)
