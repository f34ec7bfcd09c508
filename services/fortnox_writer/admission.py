"""Admission: may a command from the queue run now, or is it set aside (and why)?

One query reads the shop's facts (``DeferredStore.facts``); then each rule in turn may set the
command aside with a reason, which becomes the ``deferred_commands`` row's reason:

- ``SwitchedCompany``: the command was published before the shop's last Fortnox company switch
  (its ``x-fortbridge-published-at`` is older than ``switched_at``), so it was made for the
  previous company -> ``parked`` and *held* (``held_from_tenant``) until the merchant releases
  or discards it, or connects that company again (switching.py);
- ``NotConnected``: the shop has no working Fortnox connection -> ``parked`` until it reconnects;
- ``TenantBusy``: the tenant already has commands waiting, or its next rate-limit slot is further
  than ``FORTNOX_DEFER_AFTER_SECONDS`` away -> ``rate_limit`` (no message waits in the broker);
- ``Background``: a backfill's command -> ``rate_limit`` as background work, always (the
  scheduler runs it only when the tenant has no live command due);
- the local :class:`TenantGate` (checked by the intake last): this replica already runs
  ``PER_TENANT`` commands of the tenant -> ``rate_limit``.

A new reason (say usage billing's "waiting on billing") is one more rule returning
``SetAside("billing", ...)`` in ``rules_for``, plus its reason among the held ones the scheduler
skips until something releases them (see docs/architecture.md).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from libs.common.messages import FortnoxCommand
from libs.common.messaging import Delivery
from libs.common.messaging.publisher import PUBLISHED_AT_HEADER
from libs.common.settings import Settings
from services.fortnox_writer.deferred import (
    HELD_EXPLANATION,
    PARKED,
    RATE_LIMIT,
    DeferredStore,
    ShopFacts,
)

# Commands of one tenant a replica runs at once; more would only wait for the same slots.
PER_TENANT = 2


@dataclass(frozen=True)
class SetAside:
    reason: str  # the deferred row's reason
    explanation: str | None = None  # for the result the timeline shows, if any
    held_from_tenant: str | None = None  # held back by a company switch (made for this one)


@dataclass(frozen=True)
class Arrival:
    """A command as it arrived from the queue."""

    command: FortnoxCommand
    published_at: datetime | None  # when it was published (None: not known)

    @classmethod
    def of(cls, delivery: Delivery) -> Arrival:
        return cls(delivery.parse(FortnoxCommand), published_at(delivery.headers))


def published_at(headers: dict[str, Any]) -> datetime | None:
    """The publisher's ``x-fortbridge-published-at`` (epoch milliseconds), if readable."""
    value = headers.get(PUBLISHED_AT_HEADER)
    try:
        millis = int(value.decode() if isinstance(value, bytes) else str(value))
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(millis / 1000, UTC)


class AdmissionRule(Protocol):
    async def check(self, arrival: Arrival, facts: ShopFacts) -> SetAside | None: ...


class SwitchedCompany:
    """Made for the company the shop was connected to before a switch: held back until the
    merchant releases it (switching.py), never sent to the new company unseen.

    A command without a publish time (an old message) is not held: only a replay re-publishes
    a command, and a replay is the operator's explicit decision.
    """

    async def check(self, arrival: Arrival, facts: ShopFacts) -> SetAside | None:
        if facts.switched_at is None or facts.switched_from_tenant is None:
            return None
        if arrival.published_at is None or arrival.published_at >= facts.switched_at:
            return None
        return SetAside(PARKED, HELD_EXPLANATION, held_from_tenant=facts.switched_from_tenant)


class NotConnected:
    async def check(self, arrival: Arrival, facts: ShopFacts) -> SetAside | None:
        if facts.tenant_id is None or not facts.connected:
            return SetAside(PARKED, facts.reason)
        return None


class TenantBusy:
    def __init__(self, defer_after_seconds: float) -> None:
        self._defer_after = defer_after_seconds

    async def check(self, arrival: Arrival, facts: ShopFacts) -> SetAside | None:
        if facts.backlog or facts.next_slot_in > self._defer_after:
            return SetAside(RATE_LIMIT)
        return None


class Background:
    """A backfill's command (``origin: backfill``) never runs on arrival: it is set aside as
    background work, which the scheduler claims only when the tenant has no live command due,
    at the tenant's own rate-limit slots."""

    async def check(self, arrival: Arrival, facts: ShopFacts) -> SetAside | None:
        return SetAside(RATE_LIMIT) if is_background(arrival.command) else None


def is_background(command: FortnoxCommand) -> bool:
    return command.origin == "backfill"


def rules_for(settings: Settings) -> list[AdmissionRule]:
    return [
        SwitchedCompany(),
        NotConnected(),
        Background(),
        TenantBusy(settings.fortnox_defer_after_seconds),
    ]


class Admission:
    def __init__(self, store: DeferredStore, rules: list[AdmissionRule]) -> None:
        self._store = store
        self._rules = rules

    async def decide(self, arrival: Arrival) -> tuple[ShopFacts, SetAside | None]:
        facts = await self._store.facts(arrival.command.shop)
        for rule in self._rules:
            aside = await rule.check(arrival, facts)
            if aside is not None:
                return facts, aside
        return facts, None


class TenantGate:
    """How many commands of each tenant this replica runs right now."""

    def __init__(self, per_tenant: int = PER_TENANT) -> None:
        self._per_tenant = per_tenant
        self._running: Counter[str] = Counter()

    def try_enter(self, tenant_id: str) -> bool:
        if self._running[tenant_id] >= self._per_tenant:
            return False
        self._running[tenant_id] += 1
        return True

    def leave(self, tenant_id: str) -> None:
        self._running[tenant_id] -= 1
        if self._running[tenant_id] <= 0:
            del self._running[tenant_id]

    def full(self, tenant_id: str) -> bool:
        return self._running[tenant_id] >= self._per_tenant

    @property
    def total(self) -> int:
        return sum(self._running.values())
